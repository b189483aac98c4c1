import { EMPTY_ROOT, hashChildren, hashLeaf } from './hasher.js'

/**
 * The right border of a Merkle tree: the roots of its perfect subtrees, left to right,
 * one per set bit of the size (the "compact range" of transparency-dev/merkle). Enough to
 * append and to compute the root, in O(log n) memory.
 */
export class CompactRange {
  #size = 0
  readonly #hashes: Buffer[] = []

  /** A range rebuilt from a stored size and its border hashes (largest subtree first). */
  static from(size: number, border: Buffer[]): CompactRange {
    const r = new CompactRange()
    r.#size = size
    r.#hashes.push(...border)
    return r
  }

  get size(): number {
    return this.#size
  }

  /** The border hashes, largest subtree first. */
  get border(): readonly Buffer[] {
    return this.#hashes
  }

  /**
   * Appends a leaf hash. `onNode(level, index, hash)` is called for each interior node
   * that becomes complete, so a store can persist it.
   */
  appendLeafHash(leafHash: Buffer, onNode?: (level: number, index: number, hash: Buffer) => void): void {
    let h = leafHash
    let n = this.#size
    let level = 0
    while (n % 2 === 1) {
      h = hashChildren(this.#hashes.pop()!, h)
      n = (n - 1) / 2
      level++
      onNode?.(level, n, h)
    }
    this.#hashes.push(h)
    this.#size++
  }

  /**
   * Appends the root of a perfect subtree of 2^level leaves that starts at the current
   * size; requires size to be a multiple of 2^level no smaller than its lowest set bit
   * (as the pieces of `rangeNodes` are, appended in order).
   */
  appendSubtree(hash: Buffer, level: number): void {
    const width = 2 ** level
    if (this.#size % width !== 0) throw new RangeError(`a subtree of ${width} leaves cannot start at ${this.#size}`)
    let h = hash
    // A binary counter: merge with the border's last subtree while they are siblings.
    let n = this.#size / width
    while (n % 2 === 1) {
      h = hashChildren(this.#hashes.pop()!, h)
      n = (n - 1) / 2
    }
    this.#hashes.push(h)
    this.#size += width
  }

  /** Appends a leaf (hashed as RFC 9162 leaf). */
  appendLeaf(leaf: Uint8Array): void {
    this.appendLeafHash(hashLeaf(leaf))
  }

  /** MTH of the leaves so far. */
  root(): Buffer {
    if (this.#hashes.length === 0) return EMPTY_ROOT
    let r = this.#hashes[this.#hashes.length - 1]!
    for (let i = this.#hashes.length - 2; i >= 0; i--) r = hashChildren(this.#hashes[i]!, r)
    return r
  }
}

/** The (level, index) of each perfect subtree on the right border of a tree of `size`. */
export function borderNodes(size: number): { level: number; index: number }[] {
  const out: { level: number; index: number }[] = []
  let start = 0
  for (let level = 52; level >= 0; level--) {
    const width = 2 ** level
    if (size - start >= width) {
      out.push({ level, index: start / width })
      start += width
    }
  }
  return out
}

/** MTH of a list of leaf hashes. */
export function rootOfLeafHashes(leafHashes: Iterable<Buffer>): Buffer {
  const r = new CompactRange()
  for (const h of leafHashes) r.appendLeafHash(h)
  return r.root()
}

/**
 * The perfect subtrees that cover leaves [begin, end) of a larger tree, left to right:
 * each the largest aligned power of two that fits. Appending their roots in this order
 * with CompactRange.appendSubtree extends a tree of size `begin` to size `end`.
 */
export function rangeNodes(begin: number, end: number): { level: number; index: number }[] {
  const out: { level: number; index: number }[] = []
  let pos = begin
  while (pos < end) {
    let level = 0
    while (pos % 2 ** (level + 1) === 0 && pos + 2 ** (level + 1) <= end) level++
    out.push({ level, index: pos / 2 ** level })
    pos += 2 ** level
  }
  return out
}

/** The root of a perfect subtree given its 2^k leaf hashes (k >= 0). */
export function perfectRoot(leafHashes: Buffer[]): Buffer {
  let row = leafHashes
  while (row.length > 1) {
    const next: Buffer[] = new Array(row.length / 2)
    for (let i = 0; i < next.length; i++) next[i] = hashChildren(row[2 * i]!, row[2 * i + 1]!)
    row = next
  }
  return row[0]!
}
