// A client of a C2SP tiled transparency log (https://c2sp.org/tlog-tiles), written from the
// specs alone: signed-note (https://c2sp.org/signed-note), tlog-checkpoint
// (https://c2sp.org/tlog-checkpoint), tlog-tiles, and RFC 9162 §2.1 for the hashing and
// the consistency proof. WARNING: it deliberately shares no code with src/log (neither the
// tile server nor the tree code): it is the independent reader that checks them, so a bug
// there cannot hide itself here. The trust root is the verifier key the caller pins
// (consortium file or --vkey), never anything the server sends.
import { createHash, createPublicKey, verify as verifySignature } from 'node:crypto'
import { ProvenaError } from '../errors.js'

const HASH_SIZE = 32
const TILE_WIDTH = 256
const TILE_HEIGHT = 8
/** Entry bundles of 256 entries of at most 65,535 bytes each, with their length prefixes. */
const MAX_BUNDLE_BYTES = TILE_WIDTH * (2 + 0xffff)
const MAX_CHECKPOINT_BYTES = 1 << 16

export const tileClientErrors = {
  badVkey: (vkey: string, why: string) =>
    new ProvenaError('AUDIT_BAD_VKEY', `"${vkey.slice(0, 120)}" is not a C2SP Ed25519 verifier key: ${why}`, {
      hint: 'a vkey is <name>+<8 hex key id>+<base64(0x01 ‖ 32-byte Ed25519 key)>, as provena chain info --json prints it',
    }),
  badCheckpoint: (url: string, why: string) =>
    new ProvenaError('AUDIT_BAD_CHECKPOINT', `the checkpoint at ${url} ${why}`, {
      hint: 'the log did not sign this checkpoint with the pinned key: a wrong URL, a wrong key, or a forged checkpoint',
    }),
  badTile: (path: string, why: string) => new ProvenaError('AUDIT_BAD_TILE', `${path}: ${why}`, { hint: 'the log serves tiles that do not follow C2SP tlog-tiles' }),
  rootMismatch: (treeSize: number, signed: Uint8Array, calculated: Uint8Array) =>
    new ProvenaError('AUDIT_ROOT_MISMATCH', `the tiles of the tree of size ${treeSize} hash to ${hex(calculated)}, not to the signed root ${hex(signed)}`, {
      hint: 'the log serves tiles that are not those of the tree it signed',
      details: { treeSize, signed: hex(signed), calculated: hex(calculated) },
    }),
  entryMismatch: (index: number, inTile: Uint8Array, calculated: Uint8Array) =>
    new ProvenaError('AUDIT_ENTRY_MISMATCH', `entry ${index} of the bundle hashes to ${hex(calculated)}, the level-0 tile holds ${hex(inTile)}`, {
      hint: 'the log serves entries that are not those it logged',
      details: { index, inTile: hex(inTile), calculated: hex(calculated) },
    }),
  fetchFailed: (url: string, why: string, code?: string) =>
    new ProvenaError('AUDIT_FETCH_FAILED', `GET ${url}: ${why}`, { hint: 'is the node up and the URL its log prefix (…/log)?', details: { url, ...(code ? { code } : {}) } }),
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')

// ---- RFC 9162 §2.1.1 hashing ----------------------------------------------------------

/** MTH({}) = SHA-256(""). */
export const EMPTY_TREE_HASH = createHash('sha256').digest()

/** The leaf hash of an entry: SHA-256(0x00 ‖ entry). */
export function leafHashOf(entry: Uint8Array): Buffer {
  return createHash('sha256').update(Buffer.of(0)).update(entry).digest()
}

/** An interior node: SHA-256(0x01 ‖ left ‖ right). */
export function nodeHashOf(left: Uint8Array, right: Uint8Array): Buffer {
  return createHash('sha256').update(Buffer.of(1)).update(left).update(right).digest()
}

/** Whether n (a safe integer) is 2^k, k >= 0: Math.log2 is exact on powers of two. */
function isPowerOfTwo(n: number): boolean {
  return n >= 1 && Number.isInteger(Math.log2(n))
}

/** The root of a perfect tree over 2^k hashes (k >= 0), given in order. */
function perfectRoot(hashes: Buffer[]): Buffer {
  let row = hashes
  while (row.length > 1) {
    const next: Buffer[] = []
    for (let i = 0; i < row.length; i += 2) next.push(nodeHashOf(row[i]!, row[i + 1]!))
    row = next
  }
  return row[0]!
}

// ---- signed notes and checkpoints -----------------------------------------------------

/** A pinned C2SP signed-note Ed25519 verifier key. */
export interface NoteVerifier {
  name: string
  keyId: Buffer
  publicKey: Buffer
  vkey: string
}

/**
 * Parses a verifier key "<name>+<hex key id>+<base64(0x01 ‖ Ed25519 key)>" and checks its
 * key id, SHA-256(name ‖ "\n" ‖ 0x01 ‖ key)[:4] (C2SP signed-note). Throws AUDIT_BAD_VKEY.
 */
export function parseNoteVerifier(vkey: string): NoteVerifier {
  const first = vkey.indexOf('+')
  const second = vkey.indexOf('+', first + 1)
  if (first <= 0 || second < 0) throw tileClientErrors.badVkey(vkey, 'it is not three fields joined by +')
  const name = vkey.slice(0, first)
  const idHex = vkey.slice(first + 1, second)
  const keyText = vkey.slice(second + 1)
  if (/[\s+]/.test(name) || /[\u0000-\u001f]/.test(name)) throw tileClientErrors.badVkey(vkey, 'the name holds a space, plus or control character')
  if (!/^[0-9a-f]{8}$/.test(idHex)) throw tileClientErrors.badVkey(vkey, 'the key id is not 8 lower-case hex digits')
  const key = Buffer.from(keyText, 'base64')
  if (key.toString('base64') !== keyText || key.length !== 33 || key[0] !== 0x01) throw tileClientErrors.badVkey(vkey, 'the key is not base64 of 0x01 and a 32-byte Ed25519 public key')
  const keyId = createHash('sha256').update(`${name}\n`, 'utf8').update(key).digest().subarray(0, 4)
  if (keyId.toString('hex') !== idHex) throw tileClientErrors.badVkey(vkey, `the key id is ${keyId.toString('hex')} for that name and key, not ${idHex}`)
  return { name, keyId, publicKey: key.subarray(1), vkey }
}

/** A checkpoint whose note verified under the pinned key. */
export interface VerifiedCheckpoint {
  origin: string
  treeSize: number
  rootHash: Buffer
  /** Extension lines after the root (tlog-checkpoint), as sent. */
  extensions: string[]
  /** The note as served: evidence. */
  note: string
}

/**
 * Opens a signed note holding a checkpoint: the body must carry a valid Ed25519 signature
 * by the pinned key (other signatures, cosignatures included, are ignored; a line that
 * claims the pinned key but fails refuses the note), and its origin must be the key's
 * name. Throws AUDIT_BAD_CHECKPOINT naming `source`.
 */
export function openNoteCheckpoint(note: string, verifier: NoteVerifier, source = 'the note'): VerifiedCheckpoint {
  const bad = (why: string) => tileClientErrors.badCheckpoint(source, why)
  if (note.length > MAX_CHECKPOINT_BYTES) throw bad(`is over ${MAX_CHECKPOINT_BYTES} bytes`)
  if (/[\u0000-\u0009\u000b-\u001f\u007f]/.test(note)) throw bad('holds a control character other than newline')
  const sep = note.indexOf('\n\n')
  if (sep < 0 || !note.endsWith('\n')) throw bad('is not a signed note (a body, a blank line, signature lines, a final newline)')
  const body = note.slice(0, sep + 1)
  let verified = false
  for (const line of note.slice(sep + 2, -1).split('\n')) {
    const m = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/.exec(line)
    if (!m) throw bad(`has a malformed signature line "${line.slice(0, 80)}"`)
    const raw = Buffer.from(m[2]!, 'base64')
    if (m[1] !== verifier.name || raw.length < 4 || !raw.subarray(0, 4).equals(verifier.keyId)) continue
    const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: verifier.publicKey.toString('base64url') }, format: 'jwk' })
    if (raw.length !== 68 || !verifySignature(null, Buffer.from(body, 'utf8'), key, raw.subarray(4))) throw bad(`carries a signature by ${verifier.name} that does not verify`)
    verified = true
  }
  if (!verified) throw bad(`carries no signature by the pinned key ${verifier.name}+${verifier.keyId.toString('hex')}`)
  const lines = body.slice(0, -1).split('\n')
  if (lines.length < 3) throw bad('has no origin, size and root lines')
  const [origin, sizeText, rootText] = lines as [string, string, string]
  if (origin !== verifier.name) throw bad(`is for origin "${origin}", not the pinned "${verifier.name}"`)
  if (!/^(0|[1-9][0-9]{0,15})$/.test(sizeText) || !Number.isSafeInteger(Number(sizeText))) throw bad(`has a tree size "${sizeText}" that is not a decimal`)
  const rootHash = Buffer.from(rootText, 'base64')
  if (rootHash.length !== HASH_SIZE || rootHash.toString('base64') !== rootText) throw bad('has a root hash that is not 32 bytes of base64')
  return { origin, treeSize: Number(sizeText), rootHash, extensions: lines.slice(3), note }
}

// ---- tile paths ---------------------------------------------------------------------

/** The width of the partial tile at `level` for a tree of `treeSize`: floor(s / 256^L) mod 256. */
export function partialWidth(treeSize: number, level: number): number {
  return Math.floor(treeSize / TILE_WIDTH ** level) % TILE_WIDTH
}

/** "tile/<L>/<N>[.p/<W>]" or "tile/entries/<N>[.p/<W>]", N as x-prefixed three-digit groups. */
export function tilePathFor(level: number | 'entries', index: number, width = TILE_WIDTH): string {
  let n = index
  const groups: string[] = []
  do {
    groups.unshift(String(n % 1000).padStart(3, '0'))
    n = Math.floor(n / 1000)
  } while (n > 0)
  const nPath = groups.map((g, i) => (i < groups.length - 1 ? `x${g}` : g)).join('/')
  return `tile/${level}/${nPath}${width < TILE_WIDTH ? `.p/${width}` : ''}`
}

/** Reads a resource of the log (a path relative to its prefix), at most `maxBytes` long. */
export type TileFetch = (path: string, maxBytes: number) => Promise<Buffer>

/**
 * The tiles of the tree of one verified checkpoint size: each tile (L, N) is fetched full
 * when the tree holds it whole, else as the tree's partial tile (the only one the spec
 * promises), checked for its length, and kept.
 */
export class TreeTiles {
  readonly treeSize: number
  readonly #fetch: TileFetch
  readonly #tiles = new Map<string, Promise<Buffer>>()

  constructor(fetchTile: TileFetch, treeSize: number) {
    this.#fetch = fetchTile
    this.treeSize = treeSize
  }

  /** The width tile (level, index) has in this tree (0: not in it). */
  widthOf(level: number, index: number): number {
    const full = Math.floor(this.treeSize / TILE_WIDTH ** (level + 1))
    return index < full ? TILE_WIDTH : index === full ? partialWidth(this.treeSize, level) : 0
  }

  /** The hashes of tile (level, index) as this tree has it (full or partial). */
  tile(level: number, index: number): Promise<Buffer> {
    const width = this.widthOf(level, index)
    if (width === 0) throw new RangeError(`tile ${level}/${index} is not in a tree of ${this.treeSize}`)
    const path = tilePathFor(level, index, width)
    let t = this.#tiles.get(path)
    if (!t) {
      t = this.#fetch(path, width * HASH_SIZE).then((bytes) => {
        if (bytes.length !== width * HASH_SIZE) throw tileClientErrors.badTile(path, `${bytes.length} bytes, not ${width} hashes of 32`)
        return bytes
      })
      this.#tiles.set(path, t)
    }
    return t
  }

  /** The bytes of every tile read so far, by path. */
  async fetched(): Promise<Map<string, Buffer>> {
    const out = new Map<string, Buffer>()
    for (const [path, t] of this.#tiles) out.set(path, await t)
    return out
  }

  /**
   * The root of the perfect subtree of height `height` at `index` (leaves
   * [index·2^height, (index+1)·2^height)), requiring it in the tree: a level-⌊h/8⌋ tile
   * holds its 2^(h mod 8) children, hashed up here.
   */
  async perfectNode(height: number, index: number): Promise<Buffer> {
    const level = Math.floor(height / TILE_HEIGHT)
    const span = 2 ** (height % TILE_HEIGHT)
    const first = index * span
    const tile = await this.tile(level, Math.floor(first / TILE_WIDTH))
    const at = first % TILE_WIDTH
    const hashes: Buffer[] = []
    for (let i = at; i < at + span; i++) hashes.push(tile.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE))
    return perfectRoot(hashes)
  }

  /** MTH(D[lo:hi]) (RFC 9162 §2.1.1), splitting at the largest power of two below hi - lo. */
  async subtreeHash(lo: number, hi: number): Promise<Buffer> {
    const n = hi - lo
    if (n === 0) return EMPTY_TREE_HASH
    if (isPowerOfTwo(n) && lo % n === 0) return this.perfectNode(Math.log2(n), lo / n)
    let k = 1
    while (k * 2 < n) k *= 2
    const [left, right] = await Promise.all([this.subtreeHash(lo, lo + k), this.subtreeHash(lo + k, hi)])
    return nodeHashOf(left, right)
  }

  /** MTH(D[0:size]) for size <= treeSize. */
  root(size = this.treeSize): Promise<Buffer> {
    if (size > this.treeSize) throw new RangeError(`size ${size} beyond the tree of ${this.treeSize}`)
    return this.subtreeHash(0, size)
  }

  /** The RFC 9162 §2.1.4.1 consistency proof PROOF(size1, D[0:treeSize]), its nodes from the tiles. */
  async consistencyProof(size1: number): Promise<Buffer[]> {
    if (!(size1 > 0 && size1 < this.treeSize)) return []
    const out: Promise<Buffer>[] = []
    const sub = (m: number, lo: number, hi: number, complete: boolean): void => {
      const n = hi - lo
      if (m === n) {
        if (!complete) out.push(this.subtreeHash(lo, hi))
        return
      }
      let k = 1
      while (k * 2 < n) k *= 2
      if (m <= k) {
        sub(m, lo, lo + k, complete)
        out.push(this.subtreeHash(lo + k, hi))
      } else {
        sub(m - k, lo + k, hi, false)
        out.push(this.subtreeHash(lo, lo + k))
      }
    }
    sub(size1, 0, this.treeSize, true)
    return Promise.all(out)
  }
}

/**
 * RFC 9162 §2.1.4.2: whether `proof` shows the tree (size1, root1) is a prefix of
 * (size2, root2).
 */
export function isConsistent(size1: number, root1: Uint8Array, size2: number, root2: Uint8Array, proof: readonly Uint8Array[]): boolean {
  const eq = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b))
  if (size1 > size2) return false
  if (size1 === size2) return proof.length === 0 && eq(root1, root2)
  if (size1 === 0) return proof.length === 0
  if (proof.length === 0) return false
  // A first tree of 2^k leaves is a node of the second: its root starts the path.
  const path = isPowerOfTwo(size1) ? [root1, ...proof] : [...proof]
  // fn, sn as BigInt: sizes reach 2^53, beyond 32-bit shifts.
  let fn = BigInt(size1 - 1)
  let sn = BigInt(size2 - 1)
  while (fn & 1n) {
    fn >>= 1n
    sn >>= 1n
  }
  let fr: Buffer = Buffer.from(path[0]!)
  let sr: Buffer = Buffer.from(path[0]!)
  for (const c of path.slice(1)) {
    if (sn === 0n) return false
    if (fn & 1n || fn === sn) {
      fr = nodeHashOf(c, fr)
      sr = nodeHashOf(c, sr)
      if (!(fn & 1n)) {
        while (!(fn & 1n) && fn !== 0n) {
          fn >>= 1n
          sn >>= 1n
        }
      }
    } else {
      sr = nodeHashOf(sr, c)
    }
    fn >>= 1n
    sn >>= 1n
  }
  return eq(fr, root1) && eq(sr, root2) && sn === 0n
}

/** Splits an entry bundle of `count` entries (uint16 big-endian length, then the bytes). Throws AUDIT_BAD_TILE. */
export function parseEntryBundle(bytes: Buffer, count: number, path = 'entry bundle'): Buffer[] {
  const entries: Buffer[] = []
  let at = 0
  while (at < bytes.length) {
    if (at + 2 > bytes.length) throw tileClientErrors.badTile(path, `a length prefix is cut at byte ${at}`)
    const len = bytes.readUInt16BE(at)
    if (at + 2 + len > bytes.length) throw tileClientErrors.badTile(path, `entry ${entries.length} claims ${len} bytes, ${bytes.length - at - 2} remain`)
    entries.push(bytes.subarray(at + 2, at + 2 + len))
    at += 2 + len
  }
  if (entries.length !== count) throw tileClientErrors.badTile(path, `${entries.length} entries, not ${count}`)
  return entries
}

/**
 * GETs the log's resources under `prefix` (e.g. "http://127.0.0.1:8080/log"), reading at
 * most `maxBytes` of a body. Throws AUDIT_FETCH_FAILED naming the URL and the status (and
 * the problem's code when the server sends one).
 */
export function httpTileFetch(prefix: string, opts: { timeoutMs?: number; fetch?: typeof fetch } = {}): TileFetch {
  const base = prefix.replace(/\/+$/, '')
  const get = opts.fetch ?? fetch
  return async (path, maxBytes) => {
    const url = `${base}/${path}`
    let res: Response
    try {
      res = await get(url, { signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000), headers: { 'accept-encoding': 'gzip, identity' } })
    } catch (e) {
      throw tileClientErrors.fetchFailed(url, (e as Error).message)
    }
    if (res.status !== 200) {
      const text = await res.text().catch(() => '')
      let code: string | undefined
      try {
        code = (JSON.parse(text) as { code?: string }).code
      } catch {
        /* not a problem document */
      }
      throw tileClientErrors.fetchFailed(url, `HTTP ${res.status}${code ? ` ${code}` : ''}`, code)
    }
    const chunks: Buffer[] = []
    let total = 0
    for await (const chunk of res.body ?? []) {
      total += (chunk as Uint8Array).length
      if (total > maxBytes) {
        await res.body?.cancel().catch(() => undefined)
        throw tileClientErrors.badTile(path, `more than ${maxBytes} bytes`)
      }
      chunks.push(Buffer.from(chunk as Uint8Array))
    }
    return Buffer.concat(chunks)
  }
}

/** Fetches the checkpoint and opens it under the pinned key. */
export async function fetchCheckpoint(fetchTile: TileFetch, verifier: NoteVerifier, source = 'checkpoint'): Promise<VerifiedCheckpoint> {
  const note = (await fetchTile('checkpoint', MAX_CHECKPOINT_BYTES)).toString('utf8')
  return openNoteCheckpoint(note, verifier, source)
}

/**
 * Fetches the entry bundle `index` of the tree and checks each entry against its leaf hash
 * in the level-0 tile. Throws AUDIT_BAD_TILE or AUDIT_ENTRY_MISMATCH; returns the bundle as
 * served and its entries.
 */
export async function fetchEntries(tiles: TreeTiles, fetchTile: TileFetch, index: number): Promise<{ bundle: Buffer; entries: Buffer[]; path: string }> {
  const width = tiles.widthOf(0, index)
  const path = tilePathFor('entries', index, width)
  const [bundle, hashes] = await Promise.all([fetchTile(path, Math.min(MAX_BUNDLE_BYTES, width * (2 + 0xffff))), tiles.tile(0, index)])
  const entries = parseEntryBundle(bundle, width, path)
  entries.forEach((e, i) => {
    const h = leafHashOf(e)
    const inTile = hashes.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE)
    if (!h.equals(inTile)) throw tileClientErrors.entryMismatch(index * TILE_WIDTH + i, inTile, h)
  })
  return { bundle, entries, path }
}

/** The root of a full tile's 256 hashes (an 8-level perfect subtree): the hash its parent tile holds for it. */
export function fullTileRoot(tile: Buffer): Buffer {
  if (tile.length !== TILE_WIDTH * HASH_SIZE) throw new RangeError(`a full tile is ${TILE_WIDTH * HASH_SIZE} bytes, got ${tile.length}`)
  return perfectRoot(Array.from({ length: TILE_WIDTH }, (_, i) => tile.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE)))
}

/**
 * Checks the tiles against a verified checkpoint: recomputes the root from the tree's
 * tiles (compute, then compare). Throws AUDIT_ROOT_MISMATCH; returns the tiles read.
 */
export async function verifyTreeRoot(fetchTile: TileFetch, checkpoint: { treeSize: number; rootHash: Buffer }): Promise<TreeTiles> {
  const tiles = new TreeTiles(fetchTile, checkpoint.treeSize)
  const root = await tiles.root()
  if (!root.equals(checkpoint.rootHash)) throw tileClientErrors.rootMismatch(checkpoint.treeSize, checkpoint.rootHash, root)
  return tiles
}

/**
 * Whether the newer checkpoint extends the older one, from the newer tree's tiles: an
 * RFC 9162 consistency proof built from them, then verified (so a server's wrong tile
 * cannot make an inconsistent pair pass).
 */
export async function isConsistentFromTiles(tiles: TreeTiles, older: { treeSize: number; rootHash: Buffer }, newer: { treeSize: number; rootHash: Buffer }): Promise<boolean> {
  if (tiles.treeSize !== newer.treeSize) throw new RangeError('the tiles are not those of the newer tree')
  if (older.treeSize > newer.treeSize) return false
  const proof = older.treeSize === 0 || older.treeSize === newer.treeSize ? [] : await tiles.consistencyProof(older.treeSize)
  return isConsistent(older.treeSize, older.rootHash, newer.treeSize, newer.rootHash, proof)
}
