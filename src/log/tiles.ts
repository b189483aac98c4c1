import type { Statement } from 'better-sqlite3'
import type { Db } from '../db/index.js'
import { ProvenaError } from '../errors.js'
import { latestCheckpoint, type StoredCheckpoint } from './checkpointStore.js'
import type { NodeReader } from './proofs.js'

// The log as C2SP tlog-tiles (https://c2sp.org/tlog-tiles): the Merkle tree as static,
// immutable files of 256 consecutive hashes, and the entries as bundles of 256.

/** Hashes in a full tile (and entries in a full bundle). */
export const TILE_WIDTH = 256
/** Tree levels a tile spans: a level-L tile holds the roots of 2^(8L)-leaf subtrees. */
export const TILE_HEIGHT = 8
/** The largest entry an entry bundle can carry: its length is a big-endian uint16. */
export const MAX_BUNDLED_ENTRY = 0xffff

/** A tile resource: `tile/<L>/<N>[.p/<W>]` (hashes) or `tile/entries/<N>[.p/<W>]`. */
export interface TilePath {
  kind: 'hashes' | 'entries'
  /** L (0 for entry bundles, which pair with level-0 tiles). */
  level: number
  /** N, the tile's index within its level. */
  index: number
  /** W: 256 for a full tile, 1..255 for a partial one. */
  width: number
}

export const tileErrors = {
  badPath: (path: string, why: string) =>
    new ProvenaError('LOG_TILE_BAD_PATH', `"${path}" is not a tlog-tiles path: ${why}`, {
      hint: 'tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>], N in groups of three digits (1234067 is x001/x234/067), W from 1 to 255',
    }),
  notFound: (path: string, treeSize: number) =>
    new ProvenaError('LOG_TILE_NOT_FOUND', `tile ${path} is not in the tree of the latest signed checkpoint (size ${treeSize})`, {
      hint: 'fetch the checkpoint first: tiles are served up to its size only',
      details: { treeSize },
    }),
  noCheckpoint: () => new ProvenaError('LOG_TILE_NO_CHECKPOINT', 'the log has no signed checkpoint yet: no tile is served', { hint: 'provena log checkpoint signs one' }),
  entryTooLarge: (index: number, length: number) =>
    new ProvenaError('LOG_TILE_ENTRY_TOO_LARGE', `log entry ${index} is ${length} bytes: an entry bundle holds entries of at most ${MAX_BUNDLED_ENTRY} bytes (a uint16 length)`, {
      hint: 'its hash is in the level-0 tile and its bytes in provena log entries; the bundle that holds it cannot be served',
      details: { index, length },
    }),
}

const INDEX_GROUP = /^x\d{3}$/
const LAST_GROUP = /^\d{3}$/
const DECIMAL = /^(0|[1-9][0-9]*)$/

/**
 * The path element(s) of a tile index: zero-padded groups of three digits, all but the
 * last prefixed with `x` (C2SP tlog-tiles). 1234067 → "x001/x234/067", 5 → "005".
 */
export function formatTileIndex(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`a tile index is a non-negative integer, got ${n}`)
  const groups: string[] = []
  do {
    groups.unshift(String(n % 1000).padStart(3, '0'))
    n = Math.floor(n / 1000)
  } while (n > 0)
  return groups.map((g, i) => (i < groups.length - 1 ? `x${g}` : g)).join('/')
}

/** The resource path of a tile, relative to the log's prefix: "tile/0/x001/234.p/5". */
export function formatTilePath(t: TilePath): string {
  const level = t.kind === 'entries' ? 'entries' : String(t.level)
  return `tile/${level}/${formatTileIndex(t.index)}${t.width < TILE_WIDTH ? `.p/${t.width}` : ''}`
}

/**
 * Parses a tile path relative to the log's prefix ("tile/0/x001/234.p/5"), accepting
 * only the canonical spelling (one URL per resource: no extra zero group, no leading
 * zeros in L or W, W from 1 to 255, L from 0 to 63, nothing else: no "..", no "%2e").
 * Throws LOG_TILE_BAD_PATH; LOG_TILE_NOT_FOUND for an index beyond any tree (> 2^53 - 1).
 */
export function parseTilePath(path: string): TilePath {
  if (path.length > 80) throw tileErrors.badPath(path.slice(0, 80), 'too long')
  const parts = path.split('/')
  if (parts[0] !== 'tile' || parts.length < 3) throw tileErrors.badPath(path, 'it does not start with tile/<L>/ or tile/entries/')
  const kind = parts[1] === 'entries' ? 'entries' : 'hashes'
  let level = 0
  if (kind === 'hashes') {
    if (!DECIMAL.test(parts[1]!) || Number(parts[1]) > 63) throw tileErrors.badPath(path, `level "${parts[1]}" is not a decimal from 0 to 63 without leading zeros`)
    level = Number(parts[1])
  }
  let groups = parts.slice(2)
  let width = TILE_WIDTH
  const last = groups.length - 1
  if (groups.length >= 2 && groups[last - 1]!.endsWith('.p')) {
    const w = groups[last]!
    if (!DECIMAL.test(w) || Number(w) < 1 || Number(w) > 255) throw tileErrors.badPath(path, `partial width "${w}" is not a decimal from 1 to 255 without leading zeros`)
    width = Number(w)
    groups = [...groups.slice(0, last - 1), groups[last - 1]!.slice(0, -2)]
  }
  if (groups.length === 0 || !groups.slice(0, -1).every((g) => INDEX_GROUP.test(g)) || !LAST_GROUP.test(groups[groups.length - 1]!)) {
    throw tileErrors.badPath(path, 'the index is not groups of three digits, all but the last prefixed with x')
  }
  const big = groups.reduce((n, g) => n * 1000n + BigInt(g.replace('x', '')), 0n)
  if (big > BigInt(Number.MAX_SAFE_INTEGER)) throw tileErrors.notFound(path, 0)
  const t: TilePath = { kind, level, index: Number(big), width }
  // One spelling per resource: "x000/005" is not 5.
  if (formatTilePath(t) !== path) throw tileErrors.badPath(path, `not canonical (the path of that tile is ${formatTilePath(t)})`)
  return t
}

/** The width of the rightmost (partial) tile at `level` for a tree of `treeSize`: floor(s / 256^L) mod 256 (0: none). */
export function partialTileWidth(treeSize: number, level: number): number {
  return Number((BigInt(treeSize) / 256n ** BigInt(level)) % 256n)
}

/** Whether the tile lies within the tree of `treeSize`: (N·256 + W)·256^L <= s. */
export function isTileInTree(t: TilePath, treeSize: number): boolean {
  return (BigInt(t.index) * 256n + BigInt(t.width)) * 256n ** BigInt(t.level) <= BigInt(treeSize)
}

/**
 * The bytes of a hash tile from any NodeReader: hashes i = 0..W-1 of tile N at level L are
 * MTH(D[(N·256 + i)·256^L : (N·256 + i + 1)·256^L]), the node at height 8L, index N·256 + i.
 * Requires the tile to be in the reader's tree.
 */
export function tileHashes(reader: NodeReader, level: number, index: number, width: number): Buffer {
  const out = Buffer.allocUnsafe(32 * width)
  for (let i = 0; i < width; i++) reader.node(TILE_HEIGHT * level, index * TILE_WIDTH + i).copy(out, 32 * i)
  return out
}

/**
 * An entry bundle: each entry as a big-endian uint16 length and its bytes. `firstIndex` is
 * the log index of the first, for the error naming an entry over 65,535 bytes.
 */
export function entryBundle(leaves: Iterable<Uint8Array>, firstIndex = 0): Buffer {
  const parts: Uint8Array[] = []
  let i = firstIndex
  for (const leaf of leaves) {
    if (leaf.length > MAX_BUNDLED_ENTRY) throw tileErrors.entryTooLarge(i, leaf.length)
    const len = Buffer.allocUnsafe(2)
    len.writeUInt16BE(leaf.length)
    parts.push(len, leaf)
    i++
  }
  return Buffer.concat(parts)
}

/** What a tile request yields: the bytes, and whether they may be cached for ever. */
export interface TileResponse {
  bytes: Buffer
  /** A full tile or bundle: immutable. Partial ones are replaced as the log grows. */
  isFull: boolean
}

/**
 * The tiles of a SqliteLog's database, served up to the latest signed checkpoint (a
 * mirror must be able to check every tile against a signed root). Reads a tile with one
 * range query and keeps recent ones in memory (a tile's bytes never change: the log only
 * appends).
 */
export class LogTiles {
  readonly #db: Db
  readonly #leafHashes: Statement
  readonly #nodes: Statement
  readonly #leaves: Statement
  readonly #signedSize: Statement
  readonly #longLeaf: Statement
  readonly #cache = new Map<string, Buffer>()
  #cachedBytes = 0
  readonly #cacheLimit: number

  constructor(db: Db, opts: { cacheBytes?: number } = {}) {
    this.#db = db
    // One row a tile, concatenated by SQLite: materialising 256 Buffers, one a row, costs
    // about 8× more (a level-0 tile of a 200,000-entry log: 40 µs against 320 µs). `||` and
    // group_concat keep a blob's bytes as they are, NULs included (SQLite >= 3.44 for
    // ORDER BY in an aggregate); tiles.test.ts checks these against tileHashes() and
    // entryBundle() (property).
    this.#leafHashes = db.prepare("SELECT count(*) AS n, CAST(group_concat(leaf_hash, '' ORDER BY idx) AS BLOB) AS bytes FROM log_entries WHERE idx >= ? AND idx < ?")
    this.#nodes = db.prepare("SELECT count(*) AS n, CAST(group_concat(hash, '' ORDER BY idx) AS BLOB) AS bytes FROM log_nodes WHERE level = ? AND idx >= ? AND idx < ?")
    // printf('%04x') is the uint16 length only up to 65,535: longer entries are refused before.
    this.#leaves = db.prepare(
      "SELECT count(*) AS n, max(length(leaf)) AS longest, sum(length(leaf)) AS total, CAST(group_concat(unhex(printf('%04x', length(leaf))) || leaf, '' ORDER BY idx) AS BLOB) AS bytes FROM log_entries WHERE idx >= ? AND idx < ?",
    )
    this.#longLeaf = db.prepare('SELECT idx, length(leaf) AS length FROM log_entries WHERE idx >= ? AND idx < ? AND length(leaf) > ? ORDER BY idx LIMIT 1')
    this.#signedSize = db.prepare('SELECT max(tree_size) FROM log_checkpoints').pluck()
    this.#cacheLimit = opts.cacheBytes ?? 64 << 20
  }

  /** The latest signed checkpoint; throws LOG_TILE_NO_CHECKPOINT when there is none. */
  checkpoint(): StoredCheckpoint {
    const c = latestCheckpoint(this.#db)
    if (!c) throw tileErrors.noCheckpoint()
    return c
  }

  /**
   * The resource at `path` ("tile/0/x001/234.p/5", relative to the log's prefix). Throws
   * LOG_TILE_BAD_PATH, LOG_TILE_NOT_FOUND (beyond the latest checkpoint's tree),
   * LOG_TILE_NO_CHECKPOINT or LOG_TILE_ENTRY_TOO_LARGE.
   */
  read(path: string): TileResponse {
    const t = parseTilePath(path)
    const cached = this.#cache.get(path)
    // Cached bytes were in a signed tree once: the tree only grows, so they still are.
    if (cached) {
      this.#cache.delete(path)
      this.#cache.set(path, cached)
      return { bytes: cached, isFull: t.width === TILE_WIDTH }
    }
    const treeSize = this.#signedSize.get() as number | null
    if (treeSize === null) throw tileErrors.noCheckpoint()
    if (!isTileInTree(t, treeSize)) throw tileErrors.notFound(path, treeSize)
    const bytes = this.#readTile(t)
    this.#remember(path, bytes)
    return { bytes, isFull: t.width === TILE_WIDTH }
  }

  #readTile(t: TilePath): Buffer {
    const lo = t.index * TILE_WIDTH
    const hi = lo + t.width
    const row = (t.kind === 'entries' ? this.#leaves.get(lo, hi) : t.level === 0 ? this.#leafHashes.get(lo, hi) : this.#nodes.get(TILE_HEIGHT * t.level, lo, hi)) as {
      n: number
      longest?: number
      total?: number
      bytes: Buffer | null
    }
    // Within the signed tree every entry and node is stored; a gap is a damaged data dir, not a 404.
    if (row.n !== t.width) throw new ProvenaError('LOG_OUT_OF_RANGE', `the log holds ${row.n} of the ${t.width} ${t.kind === 'entries' ? 'entries' : 'hashes'} of ${formatTilePath(t)}`)
    if (t.kind === 'entries' && row.longest! > MAX_BUNDLED_ENTRY) {
      const long = this.#longLeaf.get(lo, hi, MAX_BUNDLED_ENTRY) as { idx: number; length: number }
      throw tileErrors.entryTooLarge(long.idx, long.length)
    }
    const bytes = row.bytes ?? Buffer.alloc(0)
    const expected = t.kind === 'entries' ? row.total! + 2 * t.width : 32 * t.width
    if (bytes.length !== expected) throw new ProvenaError('LOG_OUT_OF_RANGE', `${formatTilePath(t)}: SQLite concatenated ${bytes.length} bytes, not ${expected}`)
    return bytes
  }

  #remember(path: string, bytes: Buffer): void {
    if (bytes.length > this.#cacheLimit / 4) return
    this.#cache.set(path, bytes)
    this.#cachedBytes += bytes.length
    for (const [k, v] of this.#cache) {
      if (this.#cachedBytes <= this.#cacheLimit) break
      this.#cache.delete(k)
      this.#cachedBytes -= v.length
    }
  }
}
