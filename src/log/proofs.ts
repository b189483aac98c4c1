import { logErrors } from './errors.js'
import { EMPTY_ROOT, hashChildren, isPowerOfTwo, splitPoint } from './hasher.js'

/**
 * Read access to the hashes of perfect, aligned subtrees: `node(level, index)` is the
 * root of leaves [index·2^level, (index+1)·2^level). Level 0 is the leaf hashes.
 */
export interface NodeReader {
  node(level: number, index: number): Buffer
}

/** MTH(D[lo:hi]) from stored perfect subtrees; requires lo to be aligned as in RFC 9162. */
export function subtreeHash(reader: NodeReader, lo: number, hi: number): Buffer {
  const n = hi - lo
  if (n === 0) return EMPTY_ROOT
  if (isPowerOfTwo(n) && lo % n === 0) return reader.node(Math.log2(n), lo / n)
  const k = splitPoint(n)
  return hashChildren(subtreeHash(reader, lo, lo + k), subtreeHash(reader, lo + k, hi))
}

/**
 * The inclusion proof PATH(index, D[0:treeSize]) of RFC 9162 §2.1.3.1, leaf to root.
 * Requires 0 <= index < treeSize.
 */
export function inclusionProof(reader: NodeReader, index: number, treeSize: number): Buffer[] {
  if (!(index >= 0 && index < treeSize)) throw logErrors.outOfRange(`leaf index ${index} is not in a tree of size ${treeSize}`)
  const proof: Buffer[] = []
  const path = (m: number, lo: number, hi: number): void => {
    const n = hi - lo
    if (n === 1) return
    const k = splitPoint(n)
    if (m < lo + k) {
      path(m, lo, lo + k)
      proof.push(subtreeHash(reader, lo + k, hi))
    } else {
      path(m, lo + k, hi)
      proof.push(subtreeHash(reader, lo, lo + k))
    }
  }
  path(index, 0, treeSize)
  return proof
}

/**
 * The consistency proof PROOF(size1, D[0:size2]) of RFC 9162 §2.1.4.1.
 * Requires 0 <= size1 <= size2; empty when size1 is 0 or equals size2.
 */
export function consistencyProof(reader: NodeReader, size1: number, size2: number): Buffer[] {
  if (!(size1 >= 0 && size1 <= size2)) throw logErrors.outOfRange(`no consistency proof from size ${size1} to ${size2}`)
  if (size1 === 0 || size1 === size2) return []
  const proof: Buffer[] = []
  const sub = (m: number, lo: number, hi: number, complete: boolean): void => {
    const n = hi - lo
    if (m === n) {
      if (!complete) proof.push(subtreeHash(reader, lo, hi))
      return
    }
    const k = splitPoint(n)
    if (m <= k) {
      sub(m, lo, lo + k, complete)
      proof.push(subtreeHash(reader, lo + k, hi))
    } else {
      sub(m - k, lo + k, hi, false)
      proof.push(subtreeHash(reader, lo, lo + k))
    }
  }
  sub(size1, 0, size2, true)
  return proof
}

/** A NodeReader over leaf hashes held in memory: computes each node on demand, cached. */
export class MemoryNodes implements NodeReader {
  readonly #levels: Buffer[][] = [[]]

  constructor(leafHashes: Iterable<Buffer> = []) {
    for (const h of leafHashes) this.append(h)
  }

  get size(): number {
    return this.#levels[0]!.length
  }

  append(leafHash: Buffer): void {
    let level = 0
    let h = leafHash
    for (;;) {
      const row = (this.#levels[level] ??= [])
      row.push(h)
      const i = row.length - 1
      if (i % 2 === 0) return
      h = hashChildren(row[i - 1]!, h)
      level++
    }
  }

  node(level: number, index: number): Buffer {
    const h = this.#levels[level]?.[index]
    if (!h) throw logErrors.outOfRange(`no complete subtree at level ${level}, index ${index}`)
    return h
  }

  root(treeSize = this.size): Buffer {
    return subtreeHash(this, 0, treeSize)
  }
}
