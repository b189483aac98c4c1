import { hash } from 'node:crypto'

// RFC 9162 §2.1.1: domain separation of leaves (0x00) and interior nodes (0x01).
// One-shot crypto.hash over a reused scratch buffer, its digest returned as a latin1
// ('binary') string and copied into a pooled Buffer: about 2× faster than a digest
// Buffer of its own, and 3× faster than createHash().update().digest() (BENCHMARKS.md).
const node = Buffer.alloc(65)
node[0] = 0x01
let leafScratch = Buffer.alloc(1024)

/** MTH({}) = SHA-256 of the empty string. */
export const EMPTY_ROOT: Buffer = hash('sha256', Buffer.alloc(0), 'buffer')

/** MTH({d}) = SHA-256(0x00 ‖ d). */
export function hashLeaf(leaf: Uint8Array): Buffer {
  if (leaf.length + 1 > leafScratch.length) leafScratch = Buffer.alloc(2 * (leaf.length + 1))
  leafScratch[0] = 0x00
  leafScratch.set(leaf, 1)
  return digest(leafScratch.subarray(0, leaf.length + 1))
}

/** SHA-256(0x01 ‖ left ‖ right); both 32 bytes. */
export function hashChildren(left: Uint8Array, right: Uint8Array): Buffer {
  if (left.length !== 32 || right.length !== 32) throw new RangeError(`node hashes are 32 bytes, got ${left.length} and ${right.length}`)
  // Buffer#copy is measurably cheaper than TypedArray#set here (hot path of every proof).
  if (Buffer.isBuffer(left)) left.copy(node, 1)
  else node.set(left, 1)
  if (Buffer.isBuffer(right)) right.copy(node, 33)
  else node.set(right, 33)
  return digest(node)
}

/** SHA-256 of `data` as a Buffer (pooled: cheap to make, never transfer its .buffer). */
export function digest(data: Uint8Array): Buffer {
  return Buffer.from(hash('sha256', data, 'binary'), 'latin1')
}

/** The largest power of two strictly smaller than n; requires n >= 2. */
export function splitPoint(n: number): number {
  let k = 1
  while (k * 2 < n) k *= 2
  return k
}

/** Whether n is a power of two (n >= 1). */
export function isPowerOfTwo(n: number): boolean {
  return n >= 1 && Number.isInteger(Math.log2(n)) && 2 ** Math.log2(n) === n
}
