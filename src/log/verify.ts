import { logErrors } from './errors.js'
import { hash } from 'node:crypto'
import { hashChildren, isPowerOfTwo } from './hasher.js'

const half = (x: number) => Math.floor(x / 2)
const odd = (x: number) => x % 2 === 1

function checkHashes(proof: readonly Uint8Array[]): void {
  for (let i = 0; i < proof.length; i++) {
    if (proof[i]!.length !== 32) throw logErrors.badProof(`proof[${i}] is ${proof[i]!.length} bytes, not 32`)
  }
}

// The inclusion walk keeps its running hash as a 32-character latin1 string: one-shot
// SHA-256 returning a string is about 2.5× faster than returning a Buffer (no
// ArrayBuffer allocation per hash; see BENCHMARKS.md).
const scratch = Buffer.alloc(65)
scratch[0] = 0x01
function nodeHash(left: Uint8Array | string, right: Uint8Array | string): string {
  if (typeof left === 'string') scratch.write(left, 1, 32, 'latin1')
  else scratch.set(left, 1)
  if (typeof right === 'string') scratch.write(right, 33, 32, 'latin1')
  else scratch.set(right, 33)
  return hash('sha256', scratch, 'binary')
}

/**
 * The root implied by an inclusion proof, RFC 9162 §2.1.3.2. Requires
 * 0 <= index < treeSize. Throws LOG_BAD_PROOF when the proof has the wrong length.
 */
export function rootFromInclusionProof(index: number, treeSize: number, leafHash: Uint8Array, proof: readonly Uint8Array[]): Buffer {
  return Buffer.from(rootStringFromInclusionProof(index, treeSize, leafHash, proof), 'latin1')
}

function rootStringFromInclusionProof(index: number, treeSize: number, leafHash: Uint8Array, proof: readonly Uint8Array[]): string {
  if (!(index >= 0 && index < treeSize)) throw logErrors.badProof(`leaf index ${index} is not in a tree of size ${treeSize}`)
  if (leafHash.length !== 32) throw logErrors.badProof(`leaf hash is ${leafHash.length} bytes, not 32`)
  checkHashes(proof)
  let fn = index
  let sn = treeSize - 1
  let r: Uint8Array | string = leafHash
  for (const p of proof) {
    if (sn === 0) throw logErrors.badProof(`inclusion proof is longer than a tree of size ${treeSize} allows`)
    if (odd(fn) || fn === sn) {
      r = nodeHash(p, r)
      while (!odd(fn) && fn !== 0) {
        fn = half(fn)
        sn = half(sn)
      }
    } else {
      r = nodeHash(r, p)
    }
    fn = half(fn)
    sn = half(sn)
  }
  if (sn !== 0) throw logErrors.badProof(`inclusion proof is shorter than a tree of size ${treeSize} needs`)
  return typeof r === 'string' ? r : Buffer.from(r).toString('latin1')
}

/** Verifies an inclusion proof against `rootHash`; throws LOG_BAD_PROOF or LOG_ROOT_MISMATCH. */
export function verifyInclusion(
  index: number,
  treeSize: number,
  leafHash: Uint8Array,
  proof: readonly Uint8Array[],
  rootHash: Uint8Array,
): void {
  const calculated = rootStringFromInclusionProof(index, treeSize, leafHash, proof)
  if (calculated !== Buffer.from(rootHash.buffer, rootHash.byteOffset, rootHash.byteLength).toString('latin1')) {
    throw logErrors.rootMismatch(`inclusion of leaf ${index} in tree of size ${treeSize}`, rootHash, Buffer.from(calculated, 'latin1'))
  }
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
