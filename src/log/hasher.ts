import { createHash } from 'node:crypto'

// RFC 9162 §2.1.1: domain separation of leaves (0x00) and interior nodes (0x01).
const LEAF_PREFIX = Buffer.of(0x00)
const NODE_PREFIX = Buffer.of(0x01)

/** MTH({}) = SHA-256 of the empty string. */
export const EMPTY_ROOT: Buffer = createHash('sha256').digest()

/** MTH({d}) = SHA-256(0x00 ‖ d). */
export function hashLeaf(leaf: Uint8Array): Buffer {
  return createHash('sha256').update(LEAF_PREFIX).update(leaf).digest()
}

/** SHA-256(0x01 ‖ left ‖ right). */
export function hashChildren(left: Uint8Array, right: Uint8Array): Buffer {
  return createHash('sha256').update(NODE_PREFIX).update(left).update(right).digest()
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
