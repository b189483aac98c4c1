import { logErrors } from './errors.js'
import { hashChildren, isPowerOfTwo } from './hasher.js'

const half = (x: number) => Math.floor(x / 2)
const odd = (x: number) => x % 2 === 1

function checkHashes(proof: readonly Uint8Array[]): void {
  for (let i = 0; i < proof.length; i++) {
    if (proof[i]!.length !== 32) throw logErrors.badProof(`proof[${i}] is ${proof[i]!.length} bytes, not 32`)
  }
}

/**
 * The root implied by an inclusion proof, RFC 9162 §2.1.3.2. Requires
 * 0 <= index < treeSize. Throws LOG_BAD_PROOF when the proof has the wrong length.
 */
export function rootFromInclusionProof(index: number, treeSize: number, leafHash: Uint8Array, proof: readonly Uint8Array[]): Buffer {
  if (!(index >= 0 && index < treeSize)) throw logErrors.badProof(`leaf index ${index} is not in a tree of size ${treeSize}`)
  if (leafHash.length !== 32) throw logErrors.badProof(`leaf hash is ${leafHash.length} bytes, not 32`)
  checkHashes(proof)
  let fn = index
  let sn = treeSize - 1
  let r: Uint8Array = leafHash
  for (const p of proof) {
    if (sn === 0) throw logErrors.badProof(`inclusion proof is longer than a tree of size ${treeSize} allows`)
    if (odd(fn) || fn === sn) {
      r = hashChildren(p, r)
      if (!odd(fn)) {
        while (!odd(fn) && fn !== 0) {
          fn = half(fn)
          sn = half(sn)
        }
      }
    } else {
      r = hashChildren(r, p)
    }
    fn = half(fn)
    sn = half(sn)
  }
  if (sn !== 0) throw logErrors.badProof(`inclusion proof is shorter than a tree of size ${treeSize} needs`)
  return Buffer.isBuffer(r) ? r : Buffer.from(r)
}

/** Verifies an inclusion proof against `rootHash`; throws LOG_BAD_PROOF or LOG_ROOT_MISMATCH. */
export function verifyInclusion(
  index: number,
  treeSize: number,
  leafHash: Uint8Array,
  proof: readonly Uint8Array[],
  rootHash: Uint8Array,
): void {
  const calculated = rootFromInclusionProof(index, treeSize, leafHash, proof)
  if (!calculated.equals(rootHash)) throw logErrors.rootMismatch(`inclusion of leaf ${index} in tree of size ${treeSize}`, rootHash, calculated)
}

/**
 * The (root1, root2) pair implied by a consistency proof, RFC 9162 §2.1.4.2.
 * Requires 0 < size1 < size2.
 */
export function rootsFromConsistencyProof(
  size1: number,
  size2: number,
  root1: Uint8Array,
  proof: readonly Uint8Array[],
): [Buffer, Buffer] {
  if (!(size1 > 0 && size1 < size2)) throw logErrors.badProof(`no consistency proof from size ${size1} to ${size2}`)
  checkHashes(proof)
  let i = 0
  let fr: Buffer
  if (isPowerOfTwo(size1)) {
    fr = Buffer.from(root1)
  } else {
    if (proof.length === 0) throw logErrors.badProof('consistency proof is empty')
    fr = Buffer.from(proof[0]!)
    i = 1
  }
  let sr: Buffer = fr
  let fn = size1 - 1
  let sn = size2 - 1
  while (odd(fn)) {
    fn = half(fn)
    sn = half(sn)
  }
  for (; i < proof.length; i++) {
    if (sn === 0) throw logErrors.badProof(`consistency proof is longer than sizes ${size1}→${size2} allow`)
    const c = proof[i]!
    if (odd(fn) || fn === sn) {
      fr = hashChildren(c, fr)
      sr = hashChildren(c, sr)
      while (!odd(fn) && fn !== 0) {
        fn = half(fn)
        sn = half(sn)
      }
    } else {
      sr = hashChildren(sr, c)
    }
    fn = half(fn)
    sn = half(sn)
  }
  if (sn !== 0) throw logErrors.badProof(`consistency proof is shorter than sizes ${size1}→${size2} need`)
  return [fr, sr]
}

/**
 * Verifies that the tree (size2, root2) extends (size1, root1). Requires size1 <= size2.
 * Throws LOG_BAD_PROOF or LOG_ROOT_MISMATCH.
 */
export function verifyConsistency(
  size1: number,
  size2: number,
  root1: Uint8Array,
  root2: Uint8Array,
  proof: readonly Uint8Array[],
): void {
  if (size1 > size2) throw logErrors.badProof(`tree shrank from size ${size1} to ${size2}`)
  if (size1 === size2 || size1 === 0) {
    if (proof.length !== 0) throw logErrors.badProof(`consistency proof from size ${size1} to ${size2} must be empty`)
    if (size1 === size2 && !Buffer.from(root1).equals(root2)) throw logErrors.rootMismatch(`same size ${size1}, different roots`, root1, root2)
    return
  }
  const [r1, r2] = rootsFromConsistencyProof(size1, size2, root1, proof)
  if (!r1.equals(root1)) throw logErrors.rootMismatch(`consistency ${size1}→${size2}, first tree`, root1, r1)
  if (!r2.equals(root2)) throw logErrors.rootMismatch(`consistency ${size1}→${size2}, second tree`, root2, r2)
}

/** The length of the inclusion proof of leaf `index` in a tree of `treeSize` (RFC 9162 §2.1.3.2). */
export function inclusionProofLength(index: number, treeSize: number): number {
  let fn = index
  let sn = treeSize - 1
  let length = 0
  while (sn !== 0) {
    if (odd(fn) || fn === sn) {
      length++
      if (!odd(fn)) {
        while (!odd(fn) && fn !== 0) {
          fn = half(fn)
          sn = half(sn)
        }
        if (sn === 0) break
        fn = half(fn)
        sn = half(sn)
        continue
      }
    } else {
      length++
    }
    fn = half(fn)
    sn = half(sn)
  }
  return length
}

/**
 * Verifies many inclusion proofs against one tree head. Every node on a verified path is
 * remembered by its position with the proof hash that was combined with it; a later
 * proof that reaches a remembered position with the same hash is then checked against
 * the remembered hashes above it (comparisons, not hashing), so proofs of nearby leaves
 * cost a few hashes instead of log2(treeSize). As strict as verifyInclusion: any proof it
 * accepts, verifyInclusion accepts. Returns the positions in `items` of the proofs that
 * fail; an empty array when all pass.
 */
export function verifyInclusionBatch(
  treeSize: number,
  rootHash: Uint8Array,
  items: readonly { index: number; leafHash: Uint8Array; proof: readonly Uint8Array[] }[],
): number[] {
  interface Known {
    hash: Buffer
    /** The proof hash combined with this node on the way up, and the position it leads to. */
    sibling?: Uint8Array
    next?: number
  }
  const verified = new Map<number, Known>()
  const failed: number[] = []
  const root = Buffer.from(rootHash)
  // A node at (level, fn) of this tree; fn < 2^47 leaves room for 64 levels.
  const key = (level: number, fn: number) => fn * 64 + level
  const path: { key: number; hash: Buffer; sibling?: Uint8Array }[] = []

  /** Whether proof[i..] equals the remembered hashes above the known node. */
  const matchesAbove = (known: Known, proof: readonly Uint8Array[], i: number) => {
    let k: Known | undefined = known
    for (; i < proof.length; i++) {
      if (!k?.sibling || !Buffer.from(k.sibling.buffer, k.sibling.byteOffset, 32).equals(proof[i]!)) return false
      k = verified.get(k.next!)
    }
    return k !== undefined && k.sibling === undefined
  }

  /** Caches the current path; `top` is the known node it joins, if any. */
  const remember = (top: number | undefined) => {
    if (verified.size > 4_000_000) {
      // Bound the memory: start afresh (a joined path would point into the cleared cache).
      verified.clear()
      return
    }
    path.forEach((node, j) => verified.set(node.key, { hash: node.hash, sibling: node.sibling, next: path[j + 1]?.key ?? top }))
  }

  items.forEach((item, n) => {
    const { index, proof } = item
    if (!(index >= 0 && index < treeSize) || item.leafHash.length !== 32 || proof.length !== inclusionProofLength(index, treeSize) || proof.some((p) => p.length !== 32)) {
      failed.push(n)
      return
    }
    let fn = index
    let sn = treeSize - 1
    let level = 0
    let r = Buffer.isBuffer(item.leafHash) ? item.leafHash : Buffer.from(item.leafHash)
    path.length = 0
    for (let i = 0; ; i++) {
      const k = key(level, fn)
      const known = verified.get(k)
      if (known) {
        if (!known.hash.equals(r) || !matchesAbove(known, proof, i)) failed.push(n)
        // The nodes below the known one are authenticated now too: remember them.
        else remember(k)
        return
      }
      if (i === proof.length) {
        path.push({ key: key(level, fn), hash: r })
        break
      }
      const p = proof[i]!
      path.push({ key: key(level, fn), hash: r, sibling: p })
      if (odd(fn) || fn === sn) {
        r = hashChildren(p, r)
        while (!odd(fn) && fn !== 0) {
          fn = half(fn)
          sn = half(sn)
          level++
        }
      } else {
        r = hashChildren(r, p)
      }
      fn = half(fn)
      sn = half(sn)
      level++
    }
    if (!r.equals(root)) {
      failed.push(n)
      return
    }
    remember(undefined)
  })
  return failed
}
