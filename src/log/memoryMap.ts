// An in-memory sparse Merkle map (the tree of sparseMap.ts) that keeps its interior hashes:
// a binary trie whose nodes cache their hash, computed once and dropped along the path of a
// change. A change costs its path (~log2 n nodes); the root after a batch of changes
// rehashes only the paths they touched; a proof reads cached siblings. Replaying a map
// change by change and taking its root at many points costs O(changes × log n), where
// rebuilding it at each point costs O(points × n).
import { hashChildren } from './hasher.js'
import { logErrors } from './errors.js'
import { keyBit, MAP_EMPTY, MAP_KEY_BITS, mapLeafHash, type MapNode } from './sparseMap.js'

interface Leaf {
  key: Buffer
  value: Buffer
  hash: Buffer | undefined
}

interface Branch {
  /** Halves at the next depth (bit 0, bit 1); null when empty. */
  left: Trie
  right: Trie
  count: number
  hash: Buffer | undefined
}

type Trie = Leaf | Branch | null

const isLeaf = (t: Leaf | Branch): t is Leaf => 'key' in t
const countOf = (t: Trie) => (t === null ? 0 : isLeaf(t) ? 1 : t.count)

/** Two leaves of different keys under one subtree at `depth`: branches down to where they part. */
function join(a: Leaf, b: Leaf, depth: number): Branch {
  if (depth >= MAP_KEY_BITS) throw logErrors.badMapProof('duplicate key in a map')
  const ba = keyBit(a.key, depth)
  if (ba !== keyBit(b.key, depth)) return ba === 0 ? { left: a, right: b, count: 2, hash: undefined } : { left: b, right: a, count: 2, hash: undefined }
  const below = join(a, b, depth + 1)
  return ba === 0 ? { left: below, right: null, count: 2, hash: undefined } : { left: null, right: below, count: 2, hash: undefined }
}

function insert(t: Trie, depth: number, leaf: Leaf): Leaf | Branch {
  if (t === null) return leaf
  if (isLeaf(t)) return t.key.equals(leaf.key) ? leaf : join(t, leaf, depth)
  if (keyBit(leaf.key, depth) === 0) t.left = insert(t.left, depth + 1, leaf)
  else t.right = insert(t.right, depth + 1, leaf)
  t.count = countOf(t.left) + countOf(t.right)
  t.hash = undefined
  return t
}

/** The only leaf of a subtree holding one key. */
function onlyLeaf(t: Leaf | Branch): Leaf {
  while (!isLeaf(t)) t = (t.left ?? t.right)!
  return t
}

function remove(t: Trie, depth: number, key: Buffer): Trie {
  if (t === null) return null
  if (isLeaf(t)) return t.key.equals(key) ? null : t
  if (keyBit(key, depth) === 0) t.left = remove(t.left, depth + 1, key)
  else t.right = remove(t.right, depth + 1, key)
  t.count = countOf(t.left) + countOf(t.right)
  t.hash = undefined
  // A subtree of one key is that key's leaf, wherever it stands; of none, EMPTY.
  if (t.count === 0) return null
  if (t.count === 1) return onlyLeaf(t)
  return t
}

function hashOf(t: Trie): Buffer {
  if (t === null) return MAP_EMPTY
  if (t.hash) return t.hash
  t.hash = isLeaf(t) ? mapLeafHash(t.key, t.value) : hashChildren(hashOf(t.left), hashOf(t.right))
  return t.hash
}

/** A sparse Merkle map in memory, with cached interior hashes (see the top of this file). */
export class MemoryMap {
  #root: Trie = null

  /** Number of keys. */
  get size(): number {
    return countOf(this.#root)
  }

  /** Sets `key` (32 bytes) to `value` (32 bytes); both are copied. */
  set(key: Uint8Array, value: Uint8Array): void {
    if (key.length !== 32 || value.length !== 32) throw new RangeError(`map keys and values are 32 bytes, got ${key.length} and ${value.length}`)
    this.#root = insert(this.#root, 0, { key: Buffer.from(key), value: Buffer.from(value), hash: undefined })
  }

  /** Removes `key`, if present. */
  delete(key: Uint8Array): void {
    this.#root = remove(this.#root, 0, Buffer.from(key))
  }

  /** The value of `key`, if present. */
  get(key: Uint8Array): Buffer | undefined {
    let t = this.#root
    for (let depth = 0; t !== null; depth++) {
      if (isLeaf(t)) return t.key.equals(key) ? t.value : undefined
      t = keyBit(key, depth) === 0 ? t.left : t.right
    }
    return undefined
  }

  /** The map root: rehashes only the subtrees changed since the last call. */
  root(): Buffer {
    return hashOf(this.#root)
  }

  /** The tree as a MapNode, for proveKey and proveKeys (hashes computed once, then cached). */
  rootNode(): MapNode {
    return new TrieNode(this.#root, 0)
  }
}

/**
 * A view of a trie subtree at `depth`. WARNING: valid until the next change to its map
 * (a change rewires the nodes under it).
 */
class TrieNode implements MapNode {
  constructor(
    private readonly t: Trie,
    readonly depth: number,
  ) {}
  count(): number {
    return countOf(this.t)
  }
  hash(): Buffer {
    return hashOf(this.t)
  }
  single(): [Buffer, Buffer] {
    if (this.t === null || !isLeaf(this.t)) throw new RangeError('single() of a subtree that does not hold exactly one key')
    return [this.t.key, this.t.value]
  }
  children(): [MapNode, MapNode] {
    if (this.t === null || isLeaf(this.t)) throw new RangeError('children() of a subtree holding fewer than two keys')
    return [new TrieNode(this.t.left, this.depth + 1), new TrieNode(this.t.right, this.depth + 1)]
  }
}
