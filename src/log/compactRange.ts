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
