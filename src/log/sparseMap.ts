// A sparse Merkle map of 256-bit keys to 32-byte values, with empty subtrees collapsed:
//
//   EMPTY             = 32 zero bytes (an empty subtree, at any depth)
//   leaf(key, value)  = SHA-256(0x00 ‖ key ‖ value)
//   node(left, right) = SHA-256(0x01 ‖ left ‖ right)
//
// A subtree holding no key is EMPTY; one holding exactly one key is that key's leaf hash,
// wherever it stands (the key inside the leaf fixes its position); one holding two or more
// is a node of its two halves, split on the next bit of the key (most significant first).
// So a proof has about log2(n) siblings instead of 256, and the same domain separation as
// RFC 9162 keeps leaves and nodes apart. contracts/ConsentVerifier.sol checks the same
// single-key proofs.
import { hash } from 'node:crypto'
import { hashChildren } from './hasher.js'
import { logErrors } from './errors.js'

export const MAP_EMPTY: Buffer = Buffer.alloc(32)
export const MAP_KEY_BITS = 256

const leafScratch = Buffer.alloc(65)

/** leaf(key, value) = SHA-256(0x00 ‖ key ‖ value). */
export function mapLeafHash(key: Uint8Array, value: Uint8Array): Buffer {
  leafScratch[0] = 0
  leafScratch.set(key, 1)
  leafScratch.set(value, 33)
  return Buffer.from(hash('sha256', leafScratch, 'binary'), 'latin1')
}

/** Bit `depth` of a key, most significant bit of byte 0 first. */
export function keyBit(key: Uint8Array, depth: number): number {
  return (key[depth >> 3]! >> (7 - (depth & 7))) & 1
}

/** Whether two keys agree on their first `bits` bits. */
export function samePrefix(a: Uint8Array, b: Uint8Array, bits: number): boolean {
  const whole = bits >> 3
  for (let i = 0; i < whole; i++) if (a[i] !== b[i]) return false
  const rest = bits & 7
  if (rest === 0) return true
  const mask = (0xff << (8 - rest)) & 0xff
  return (a[whole]! & mask) === (b[whole]! & mask)
}

/** Sorted keys with their values: the leaves of a subtree. */
export interface Leaves {
  keys: Buffer[]
  values: Buffer[]
}

/** First index in [lo, hi) whose key has bit `depth` set (keys sorted, sharing the prefix). */
function splitLeaves(keys: Buffer[], lo: number, hi: number, depth: number): number {
  let a = lo
  let b = hi
  while (a < b) {
    const m = (a + b) >>> 1
    if (keyBit(keys[m]!, depth)) b = m
    else a = m + 1
  }
  return a
}

/** The hash of the subtree at `depth` holding leaves [lo, hi) (sorted, sharing `depth` bits). */
export function subtreeOfLeaves(l: Leaves, lo: number, hi: number, depth: number): Buffer {
  const n = hi - lo
  if (n === 0) return MAP_EMPTY
  if (n === 1) return mapLeafHash(l.keys[lo]!, l.values[lo]!)
  if (depth >= MAP_KEY_BITS) throw logErrors.badMapProof('duplicate key in a map')
  const mid = splitLeaves(l.keys, lo, hi, depth)
  return hashChildren(subtreeOfLeaves(l, lo, mid, depth + 1), subtreeOfLeaves(l, mid, hi, depth + 1))
}

// ---------------------------------------------------------------------------------------
// Proofs

/**
 * A proof for one key: the siblings of the path from the root down to where the key's
 * subtree holds at most one leaf. `bitmap[d]` is '1' when the sibling at depth d is not
 * EMPTY (only those are listed, root first). `value` is the key's value, or null when the
 * key is absent; an absent key's path ends either in an empty subtree or in `leaf`, the
 * one other key stored there.
 */
export interface MapProof {
  key: string
  value: string | null
  bitmap: string
  siblings: string[]
  leaf?: { key: string; value: string }
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')
function bytes32(h: string, what: string): Buffer {
  // Buffer.from stops at the first character that is not hex: a short result means bad input.
  const b = typeof h === 'string' && h.length === 64 ? Buffer.from(h, 'hex') : undefined
  if (!b || b.length !== 32) throw logErrors.badMapProof(`${what} is not 32 bytes of hex`)
  return b
}

/** Decodes 64 hex characters into `buf` at `at`, or throws naming `what`. */
function hexInto(h: unknown, buf: Buffer, at: number, what: string): void {
  // Buffer#write stops at the first character that is not hex: fewer bytes mean bad input.
  if (typeof h !== 'string' || h.length !== 64 || buf.write(h, at, 32, 'hex') !== 32) throw logErrors.badMapProof(`${what} is not 32 bytes of hex`)
}

const keyScratch = Buffer.alloc(32)
const otherScratch = Buffer.alloc(32)
const EMPTY_LATIN1 = MAP_EMPTY.toString('latin1')

/**
 * The root a single-key proof leads to; throws LOG_BAD_MAP_PROOF when malformed. The hot
 * path of verification: hex is decoded straight into scratch buffers and each level's
 * digest, kept as a latin1 string, is written where the next level needs it — no Buffer
 * is allocated per level.
 */
export function rootFromMapProof(p: MapProof): Buffer {
  const key = keyScratch
  hexInto(p.key, key, 0, 'key')
  const depth = typeof p.bitmap === 'string' ? p.bitmap.length : -1
  if (depth < 0 || depth > MAP_KEY_BITS) throw logErrors.badMapProof('bitmap must be at most 256 characters of 0 and 1')
  let ones = 0
  for (let d = 0; d < depth; d++) {
    const c = p.bitmap.charCodeAt(d)
    if (c === 49) ones++
    else if (c !== 48) throw logErrors.badMapProof('bitmap must be at most 256 characters of 0 and 1')
  }
  if (!Array.isArray(p.siblings) || ones !== p.siblings.length) throw logErrors.badMapProof('bitmap and siblings disagree')
  let h: string
  if (p.value !== null) {
    if (p.leaf) throw logErrors.badMapProof('a proof of a present key has no other leaf')
    leafScratch[0] = 0
    key.copy(leafScratch, 1)
    hexInto(p.value, leafScratch, 33, 'value')
    h = hash('sha256', leafScratch, 'binary')
  } else if (p.leaf) {
    hexInto(p.leaf.key, otherScratch, 0, 'leaf.key')
    if (otherScratch.equals(key) || !samePrefix(otherScratch, key, depth)) throw logErrors.badMapProof("the other leaf does not stand on the key's path")
    leafScratch[0] = 0
    otherScratch.copy(leafScratch, 1)
    hexInto(p.leaf.value, leafScratch, 33, 'leaf.value')
    h = hash('sha256', leafScratch, 'binary')
  } else h = EMPTY_LATIN1
  // All siblings decoded in one call (cheaper than one decode each).
  const joined = p.siblings.join('')
  const sibs = Buffer.from(joined, 'hex')
  if (sibs.length !== 32 * ones || joined.length !== 64 * ones) throw logErrors.badMapProof('a sibling is not 32 bytes of hex')
  return foldPath(key, depth, h, (d) => p.bitmap.charCodeAt(d) === 49, sibs, 0, ones)
}

/**
 * Hashes from the terminal hash `h` (latin1) at `depth` up to the root: at each level the
 * running hash sits where the next level needs it (left half when the key's bit is 0,
 * right when 1) and each digest is written straight into its next place — no Buffer per
 * level. `nonEmpty(d)` says whether the sibling at depth d is listed; the listed siblings
 * are 32 bytes each in `sibs` from `sibsAt`, root first.
 */
function foldPath(key: Buffer, depth: number, h: string, nonEmpty: (d: number) => boolean, sibs: Buffer, sibsAt: number, ones: number): Buffer {
  if (depth === 0) return Buffer.from(h, 'latin1')
  const node = mapNodeScratch
  node.write(h, keyBit(key, depth - 1) ? 33 : 1, 'latin1')
  let j = ones
  for (let d = depth - 1; d >= 0; d--) {
    const sibAt = keyBit(key, d) ? 1 : 33
    if (nonEmpty(d)) {
      j--
      sibs.copy(node, sibAt, sibsAt + 32 * j, sibsAt + 32 * j + 32)
    } else node.fill(0, sibAt, sibAt + 32)
    h = hash('sha256', node, 'binary')
    if (d > 0) node.write(h, keyBit(key, d - 1) ? 33 : 1, 'latin1')
  }
  return Buffer.from(h, 'latin1')
}

/** Whether `p` proves its key's value (or absence) under `root`. Never throws. */
export function verifyMapProof(root: Uint8Array, p: MapProof): boolean {
  try {
    return rootFromMapProof(p).equals(root)
  } catch {
    return false
  }
}

/**
 * A single-key proof in binary (the size BENCHMARKS.md reports): key (32) ‖ flags (1: bit 0
 * value present, bit 1 another leaf) ‖ value (32, if present) ‖ other key and value (64,
 * if another leaf) ‖ depth (u16 big-endian) ‖ bitmap (⌈depth/8⌉ bytes, bit d = MSB-first
 * bit d) ‖ the non-empty siblings (32 each, root first).
 */
export function encodeMapProof(p: MapProof): Buffer {
  const depth = p.bitmap.length
  const bitmap = Buffer.alloc(Math.ceil(depth / 8))
  for (let d = 0; d < depth; d++) if (p.bitmap[d] === '1') bitmap[d >> 3]! |= 0x80 >> (d & 7)
  const parts = [Buffer.from(p.key, 'hex'), Buffer.of((p.value !== null ? 1 : 0) | (p.leaf ? 2 : 0))]
  if (p.value !== null) parts.push(Buffer.from(p.value, 'hex'))
  if (p.leaf) parts.push(Buffer.from(p.leaf.key, 'hex'), Buffer.from(p.leaf.value, 'hex'))
  const d = Buffer.alloc(2)
  d.writeUInt16BE(depth)
  parts.push(d, bitmap, ...p.siblings.map((x) => Buffer.from(x, 'hex')))
  return Buffer.concat(parts)
}

/** The root a binary proof leads to (see encodeMapProof); throws LOG_BAD_MAP_PROOF when malformed. */
export function rootFromMapProofBytes(b: Uint8Array): Buffer {
  const r = foldMapProofBytes(b)
  if (typeof r !== 'string') throw logErrors.badMapProof(`binary proof: ${r.bad}`)
  return Buffer.from(r, 'latin1')
}

/** Whether a binary proof holds under `root`. Never throws; allocates nothing but the digests. */
export function verifyMapProofBytes(root: Uint8Array, b: Uint8Array): boolean {
  const r = foldMapProofBytes(b)
  if (typeof r !== 'string' || root.length !== 32) return false
  for (let k = 0; k < 32; k++) if (r.charCodeAt(k) !== root[k]) return false
  return true
}

/** 0x01 ‖ left ‖ right: the one buffer every step of binary proof verification hashes. */
const pathScratch = (() => {
  const b = Buffer.alloc(65)
  b[0] = 0x01
  return b
})()

/**
 * One step up a map path: node(left, right) = SHA-256(0x01 ‖ left ‖ right), where the
 * running digest `h` (32 latin1 characters) is the left child when `bit` is 0 and the right
 * when 1, and the other child is the 32 bytes of `sib` at `sibAt`, or EMPTY when `sibAt` is
 * negative. Both are copied into one reusable 65-byte buffer by plain loops (no Buffer, no
 * subarray, no native copy call a level); returns the digest as latin1. Equal to
 * hashChildren on the same children (property-tested in mapProofBytes.test.ts).
 */
export function mapPathStep(h: string, bit: number, sib: Uint8Array, sibAt: number): string {
  const node = pathScratch
  const hAt = bit ? 33 : 1
  const sAt = bit ? 1 : 33
  for (let k = 0; k < 32; k++) node[hAt + k] = h.charCodeAt(k)
  if (sibAt < 0) for (let k = 0; k < 32; k++) node[sAt + k] = 0
  else for (let k = 0; k < 32; k++) node[sAt + k] = sib[sibAt + k]!
  return hash('sha256', node, 'binary')
}

/** SHA-256(0x00 ‖ 64 bytes of `b` from `at`): a map leaf from the key and value laid out in the proof. */
function leafAt(b: Uint8Array, keyAt: number, valueAt: number): string {
  const l = leafScratch
  l[0] = 0
  for (let k = 0; k < 32; k++) l[1 + k] = b[keyAt + k]!
  for (let k = 0; k < 32; k++) l[33 + k] = b[valueAt + k]!
  return hash('sha256', l, 'binary')
}

/**
 * The root (latin1) a binary proof leads to, or why it is malformed. Reads the proof in
 * place: the key's bits, the bitmap and the siblings are indexed in `b`, never copied out.
 */
function foldMapProofBytes(b: Uint8Array): string | { bad: string } {
  const n = b.length
  if (n < 35) return { bad: 'too short' }
  const flags = b[32]!
  if (flags > 2) return { bad: 'bad flags' }
  let at = 33
  let h: string
  if (flags === 1) {
    if (n < at + 32) return { bad: 'too short' }
    h = leafAt(b, 0, at)
    at += 32
  } else if (flags === 2) {
    if (n < at + 64) return { bad: 'too short' }
    let same = true
    for (let k = 0; k < 32 && same; k++) same = b[at + k] === b[k]
    if (same) return { bad: "the other leaf is the key's own" }
    h = leafAt(b, at, at + 32)
    at += 64
  } else h = EMPTY_LATIN1
  if (n < at + 2) return { bad: 'too short' }
  const depth = (b[at]! << 8) | b[at + 1]!
  at += 2
  if (depth > MAP_KEY_BITS) return { bad: 'depth over 256' }
  if (flags === 2 && !samePrefix(b.subarray(33, 65), b, depth)) return { bad: "the other leaf does not stand on the key's path" }
  const bitmapAt = at
  at += (depth + 7) >> 3
  if (n < at) return { bad: 'length does not match the bitmap' }
  let ones = 0
  for (let d = 0; d < depth; d++) if (b[bitmapAt + (d >> 3)]! & (0x80 >> (d & 7))) ones++
  // One encoding per proof: the bitmap's bits past the depth must be zero.
  if (depth & 7 && b[bitmapAt + (depth >> 3)]! & (0xff >> (depth & 7))) return { bad: 'bits set past the depth' }
  if (n !== at + 32 * ones) return { bad: 'length does not match the bitmap' }
  // From the terminal hash up: the listed siblings are root first, so the deepest is last.
  let sib = at + 32 * ones
  for (let d = depth - 1; d >= 0; d--) {
    const listed = (b[bitmapAt + (d >> 3)]! & (0x80 >> (d & 7))) !== 0
    if (listed) sib -= 32
    h = mapPathStep(h, (b[d >> 3]! >> (7 - (d & 7))) & 1, b, listed ? sib : -1)
  }
  return h
}

const mapNodeScratch = (() => {
  const b = Buffer.alloc(65)
  b[0] = 0x01
  return b
})()


/**
 * A proof for many keys at once, sharing every node their paths share: a pre-order walk
 * of the tree along the keys' paths. `shape` has one character per visited subtree that
 * holds a queried key: 's' (split into its halves) or 't' (terminal: at most one leaf,
 * given in `leaves` as [key, value] or null when empty). A half with no queried key is
 * not visited; its hash is the next of `hashes` (EMPTY included).
 */
export interface MapMultiProof {
  keys: string[]
  shape: string
  hashes: string[]
  leaves: ([string, string] | null)[]
}

/**
 * Verifies a multiproof against `root` and returns each key's proven value (hex, or null
 * when absent). Throws LOG_BAD_MAP_PROOF when it is malformed or leads to another root.
 */
export function verifyMapMultiProof(root: Uint8Array, p: MapMultiProof): Map<string, string | null> {
  const keys = p.keys.map((k, i) => bytes32(k, `keys[${i}]`))
  for (let i = 1; i < keys.length; i++) if (Buffer.compare(keys[i - 1]!, keys[i]!) >= 0) throw logErrors.badMapProof('keys must be sorted and distinct')
  const out = new Map<string, string | null>()
  let si = 0
  let hi = 0
  let li = 0
  const visit = (depth: number, lo: number, up: number): Buffer => {
    const op = p.shape[si++]
    if (op === 't') {
      if (li >= p.leaves.length) throw logErrors.badMapProof('too few leaves')
      const leaf = p.leaves[li++]!
      if (leaf === null) {
        for (let i = lo; i < up; i++) out.set(p.keys[i]!, null)
        return MAP_EMPTY
      }
      const k = bytes32(leaf[0], 'leaf key')
      const v = bytes32(leaf[1], 'leaf value')
      if (!samePrefix(k, keys[lo]!, depth)) throw logErrors.badMapProof('a leaf does not stand on its keys\' path')
      for (let i = lo; i < up; i++) out.set(p.keys[i]!, keys[i]!.equals(k) ? leaf[1] : null)
      return mapLeafHash(k, v)
    }
    if (op !== 's' || depth >= MAP_KEY_BITS) throw logErrors.badMapProof('malformed shape')
    let mid = lo
    while (mid < up && !keyBit(keys[mid]!, depth)) mid++
    const next = () => {
      if (hi >= p.hashes.length) throw logErrors.badMapProof('too few hashes')
      return bytes32(p.hashes[hi++]!, 'hash')
    }
    const left = mid > lo ? visit(depth + 1, lo, mid) : next()
    const right = up > mid ? visit(depth + 1, mid, up) : next()
    return hashChildren(left, right)
  }
  if (keys.length === 0) throw logErrors.badMapProof('a multiproof proves at least one key')
  const computed = visit(0, 0, keys.length)
  if (si !== p.shape.length || hi !== p.hashes.length || li !== p.leaves.length) throw logErrors.badMapProof('proof has unused parts')
  if (!computed.equals(root)) throw logErrors.badMapProof('the proof leads to another root')
  return out
}

// ---------------------------------------------------------------------------------------
// A tree view: the same walk over an in-memory leaf set or over a stored map's buckets.

/** A subtree the walks below can inspect and split. */
export interface MapNode {
  depth: number
  count(): number
  hash(): Buffer
  /** The single leaf of a subtree holding exactly one. */
  single(): [Buffer, Buffer]
  /** The two halves (count() >= 2). */
  children(): [MapNode, MapNode]
}

/**
 * A subtree over sorted in-memory leaves. The hashes of its subtrees are computed once and
 * kept in a memo shared by the whole tree (so a proof reads its siblings instead of
 * rehashing half the tree, then a quarter, …). WARNING: `leaves` must not change while the
 * node is in use; build a new root node over new leaves (or use MemoryMap) after a change.
 */
export class LeavesNode implements MapNode {
  constructor(
    readonly leaves: Leaves,
    readonly lo: number,
    readonly hi: number,
    readonly depth: number,
    /** Subtree hashes by memoKey(depth, lo), shared by a root node and its descendants. */
    private readonly memo: Map<number, Buffer> = new Map(),
  ) {}
  count(): number {
    return this.hi - this.lo
  }
  hash(): Buffer {
    if (this.hi - this.lo < 2) return subtreeOfLeaves(this.leaves, this.lo, this.hi, this.depth)
    return this.memo.get(memoKey(this.leaves, this.depth, this.lo)) ?? memoizedSubtree(this.leaves, this.lo, this.hi, this.depth, this.memo)
  }
  single(): [Buffer, Buffer] {
    return [this.leaves.keys[this.lo]!, this.leaves.values[this.lo]!]
  }
  children(): [MapNode, MapNode] {
    if (this.depth >= MAP_KEY_BITS) throw logErrors.badMapProof('duplicate key in a map')
    const mid = splitLeaves(this.leaves.keys, this.lo, this.hi, this.depth)
    return [new LeavesNode(this.leaves, this.lo, mid, this.depth + 1, this.memo), new LeavesNode(this.leaves, mid, this.hi, this.depth + 1, this.memo)]
  }
}

/** A subtree of two or more leaves is fixed by its depth and its first leaf. */
const memoKey = (l: Leaves, depth: number, lo: number) => depth * (l.keys.length + 1) + lo

/** subtreeOfLeaves, keeping the hash of every subtree of two or more leaves in `memo`. */
function memoizedSubtree(l: Leaves, lo: number, hi: number, depth: number, memo: Map<number, Buffer>): Buffer {
  const n = hi - lo
  if (n < 2) return subtreeOfLeaves(l, lo, hi, depth)
  const key = memoKey(l, depth, lo)
  const known = memo.get(key)
  if (known) return known
  if (depth >= MAP_KEY_BITS) throw logErrors.badMapProof('duplicate key in a map')
  const mid = splitLeaves(l.keys, lo, hi, depth)
  const h = hashChildren(memoizedSubtree(l, lo, mid, depth + 1, memo), memoizedSubtree(l, mid, hi, depth + 1, memo))
  memo.set(key, h)
  return h
}

/** The single-key proof of `key` in the tree under `root`. */
export function proveKey(root: MapNode, key: Uint8Array): MapProof {
  let node = root
  let bitmap = ''
  const siblings: string[] = []
  while (node.count() >= 2) {
    const [l, r] = node.children()
    const right = keyBit(key, node.depth) === 1
    const sib = (right ? l : r).hash()
    if (sib.equals(MAP_EMPTY)) bitmap += '0'
    else {
      bitmap += '1'
      siblings.push(hex(sib))
    }
    node = right ? r : l
  }
  const proof: MapProof = { key: hex(key), value: null, bitmap, siblings }
  if (node.count() === 1) {
    const [k, v] = node.single()
    if (k.equals(key)) proof.value = hex(v)
    else proof.leaf = { key: hex(k), value: hex(v) }
  }
  return proof
}

/** The multiproof of `keys` (any order; duplicates dropped) in the tree under `root`. */
export function proveKeys(root: MapNode, keys: readonly Uint8Array[]): MapMultiProof {
  const sorted = [...new Set(keys.map(hex))].sort().map((k) => Buffer.from(k, 'hex'))
  const proof: MapMultiProof = { keys: sorted.map(hex), shape: '', hashes: [], leaves: [] }
  const shape: string[] = []
  const visit = (node: MapNode, lo: number, up: number) => {
    const n = node.count()
    if (n <= 1) {
      shape.push('t')
      if (n === 0) proof.leaves.push(null)
      else {
        const [k, v] = node.single()
        proof.leaves.push([hex(k), hex(v)])
      }
      return
    }
    shape.push('s')
    const [l, r] = node.children()
    let mid = lo
    while (mid < up && !keyBit(sorted[mid]!, node.depth)) mid++
    if (mid > lo) visit(l, lo, mid)
    else proof.hashes.push(hex(l.hash()))
    if (up > mid) visit(r, mid, up)
    else proof.hashes.push(hex(r.hash()))
  }
  if (sorted.length > 0) visit(root, 0, sorted.length)
  proof.shape = shape.join('')
  return proof
}

/** Sorts leaves by key (in place on copies) and checks they are distinct. */
export function sortLeaves(entries: Iterable<[Uint8Array, Uint8Array]>): Leaves {
  const pairs = [...entries].map(([k, v]) => [Buffer.from(k), Buffer.from(v)] as const)
  pairs.sort((a, b) => Buffer.compare(a[0], b[0]))
  for (let i = 1; i < pairs.length; i++) if (pairs[i - 1]![0].equals(pairs[i]![0])) throw logErrors.badMapProof('duplicate key in a map')
  return { keys: pairs.map((p) => p[0]), values: pairs.map((p) => p[1]) }
}

/** The root of a map given as key/value pairs (any order). */
export function mapRootOf(entries: Iterable<[Uint8Array, Uint8Array]>): Buffer {
  const l = sortLeaves(entries)
  return subtreeOfLeaves(l, 0, l.keys.length, 0)
}
