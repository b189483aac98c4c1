import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { openDatabase } from '../db/index.js'
import { readVector } from '../testing.js'
import {
  CompactRange,
  consistencyProof,
  EMPTY_ROOT,
  hashLeaf,
  inclusionProof,
  MemoryNodes,
  rootFromInclusionProof,
  SqliteLog,
  verifyConsistency,
  verifyInclusion,
} from './index.js'

interface Vectors {
  emptyRoot: string
  leaves: string[]
  roots: string[]
  inclusion: { leafIndex: number; treeSize: number; path: string[] }[]
  consistency: { size1: number; size2: number; proof: string[] }[]
}
const v = readVector<Vectors>('rfc6962-merkle.json')
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')
const unhex = (s: string) => Buffer.from(s, 'hex')
const leafHashes = v.leaves.map((l) => hashLeaf(unhex(l)))
const tree = new MemoryNodes(leafHashes)

describe('RFC 6962 reference vectors', () => {
  it('empty tree root is SHA-256 of the empty string', () => {
    assert.equal(hex(EMPTY_ROOT), v.emptyRoot)
    assert.equal(hex(new CompactRange().root()), v.emptyRoot)
  })

  it('roots of the first 1..8 leaves, by the compact range and by stored nodes', () => {
    const range = new CompactRange()
    v.leaves.forEach((leaf, i) => {
      range.appendLeaf(unhex(leaf))
      assert.equal(hex(range.root()), v.roots[i], `root of size ${i + 1}`)
      assert.equal(hex(tree.root(i + 1)), v.roots[i], `stored root of size ${i + 1}`)
    })
  })

  for (const c of v.inclusion) {
    it(`inclusion path of leaf ${c.leafIndex} in tree of size ${c.treeSize}`, () => {
      const proof = inclusionProof(tree, c.leafIndex, c.treeSize)
      assert.deepEqual(proof.map(hex), c.path)
      const root = unhex(v.roots[c.treeSize - 1]!)
      verifyInclusion(c.leafIndex, c.treeSize, leafHashes[c.leafIndex]!, proof, root)
      // The CT verifier's bad cases: wrong index, wrong size, wrong leaf, wrong root, edited path.
      const rejects = (fn: () => void) => assert.throws(fn, (e: { code?: string }) => e.code === 'LOG_BAD_PROOF' || e.code === 'LOG_ROOT_MISMATCH')
      if (c.path.length > 0) {
        rejects(() => verifyInclusion(c.leafIndex + 1, c.treeSize, leafHashes[c.leafIndex]!, proof, root))
        rejects(() => verifyInclusion(c.leafIndex, c.treeSize * 2, leafHashes[c.leafIndex]!, proof, root))
        rejects(() => verifyInclusion(c.leafIndex, c.treeSize, hashLeaf(Buffer.from('WrongLeaf')), proof, root))
        rejects(() => verifyInclusion(c.leafIndex, c.treeSize, leafHashes[c.leafIndex]!, proof, EMPTY_ROOT))
        proof.forEach((_, j) => {
          const bad = [...proof]
          bad[j] = EMPTY_ROOT
          rejects(() => verifyInclusion(c.leafIndex, c.treeSize, leafHashes[c.leafIndex]!, bad, root))
        })
        rejects(() => verifyInclusion(c.leafIndex, c.treeSize, leafHashes[c.leafIndex]!, [...proof, root], root))
        rejects(() => verifyInclusion(c.leafIndex, c.treeSize, leafHashes[c.leafIndex]!, proof.slice(0, -1), root))
        rejects(() => verifyInclusion(c.leafIndex, c.treeSize, leafHashes[c.leafIndex]!, [root, ...proof], root))
        rejects(() => verifyInclusion(c.leafIndex, c.treeSize, leafHashes[c.leafIndex]!, [...proof, Buffer.alloc(0)], root))
      }
    })
  }

  for (const c of v.consistency) {
    it(`consistency proof from size ${c.size1} to ${c.size2}`, () => {
      const proof = consistencyProof(tree, c.size1, c.size2)
      assert.deepEqual(proof.map(hex), c.proof)
      const r1 = unhex(v.roots[c.size1 - 1]!)
      const r2 = unhex(v.roots[c.size2 - 1]!)
      verifyConsistency(c.size1, c.size2, r1, r2, proof)
      if (proof.length === 0) return
      const rejects = (fn: () => void) => assert.throws(fn, (e: { code?: string }) => e.code === 'LOG_BAD_PROOF' || e.code === 'LOG_ROOT_MISMATCH')
      rejects(() => verifyConsistency(c.size1 - 1, c.size2, r1, r2, proof))
      rejects(() => verifyConsistency(c.size1 + 1, c.size2, r1, r2, proof))
      rejects(() => verifyConsistency(c.size1, c.size2 * 2, r1, r2, proof))
      rejects(() => verifyConsistency(c.size1, c.size2, r2, r1, proof))
      rejects(() => verifyConsistency(c.size1, c.size2, r1, r2, []))
      proof.forEach((_, j) => {
        const bad = [...proof]
        bad[j] = EMPTY_ROOT
        rejects(() => verifyConsistency(c.size1, c.size2, r1, r2, bad))
      })
      rejects(() => verifyConsistency(c.size1, c.size2, r1, r2, [...proof, proof[proof.length - 1]!]))
      rejects(() => verifyConsistency(c.size1, c.size2, r1, r2, proof.slice(0, -1)))
    })
  }
})

const flipBit = (b: Buffer, bit: number) => {
  const out = Buffer.from(b)
  out[(bit >> 3) % out.length]! ^= 1 << (bit & 7)
  return out
}
const leavesArb = fc.array(fc.uint8Array({ maxLength: 16 }), { minLength: 1, maxLength: 70 })

describe('Merkle properties (fast-check, fixed seed)', () => {
  it('every inclusion proof produced verifies; any single-bit change to leaf, proof or root fails', () => {
    fc.assert(
      fc.property(leavesArb, fc.nat(), fc.nat(), fc.nat(), (leaves, a, b, bit) => {
        const nodes = new MemoryNodes(leaves.map((l) => hashLeaf(l)))
        const size = 1 + (a % leaves.length)
        const index = b % size
        const root = nodes.root(size)
        const leafHash = hashLeaf(leaves[index]!)
        const proof = inclusionProof(nodes, index, size)
        verifyInclusion(index, size, leafHash, proof, root)
        assert.throws(() => verifyInclusion(index, size, flipBit(leafHash, bit), proof, root))
        assert.throws(() => verifyInclusion(index, size, leafHash, proof, flipBit(root, bit)))
        if (proof.length > 0) {
          const bad = [...proof]
          const j = bit % proof.length
          bad[j] = flipBit(bad[j]!, bit >> 3)
          assert.throws(() => verifyInclusion(index, size, leafHash, bad, root))
        }
      }),
      { seed: 9162, numRuns: 300 },
    )
  })

  it('every consistency proof produced verifies; any single-bit change fails', () => {
    fc.assert(
      fc.property(leavesArb, fc.nat(), fc.nat(), fc.nat(), (leaves, a, b, bit) => {
        const nodes = new MemoryNodes(leaves.map((l) => hashLeaf(l)))
        const size2 = 1 + (a % leaves.length)
        const size1 = 1 + (b % size2)
        const r1 = nodes.root(size1)
        const r2 = nodes.root(size2)
        const proof = consistencyProof(nodes, size1, size2)
        verifyConsistency(size1, size2, r1, r2, proof)
        if (size1 === size2) return
        assert.throws(() => verifyConsistency(size1, size2, flipBit(r1, bit), r2, proof))
        assert.throws(() => verifyConsistency(size1, size2, r1, flipBit(r2, bit), proof))
        if (proof.length > 0) {
          const bad = [...proof]
          const j = bit % proof.length
          bad[j] = flipBit(bad[j]!, bit >> 3)
          assert.throws(() => verifyConsistency(size1, size2, r1, r2, bad))
        }
      }),
      { seed: 6962, numRuns: 300 },
    )
  })

  it('the root from an inclusion proof equals the tree root for every leaf', () => {
    const nodes = new MemoryNodes(Array.from({ length: 37 }, (_, i) => hashLeaf(Buffer.of(i))))
    for (let size = 1; size <= 37; size++) {
      for (let i = 0; i < size; i++) {
        assert.ok(rootFromInclusionProof(i, size, nodes.node(0, i), inclusionProof(nodes, i, size)).equals(nodes.root(size)))
      }
    }
  })
})

describe('SqliteLog', () => {
  it('stores entries in batches and gives the same roots and proofs as the in-memory tree', () => {
    const db = openDatabase(join(mkdtempSync(join(tmpdir(), 'provena-log-')), 'db.sqlite'))
    const log = new SqliteLog(db)
    const leaves = Array.from({ length: 300 }, (_, i) => Buffer.from(`entry ${i}`))
    const mem = new MemoryNodes()
    let at = 0
    for (const batch of [1, 2, 5, 64, 100, 128]) {
      assert.equal(log.append(leaves.slice(at, at + batch)), at)
      for (const l of leaves.slice(at, at + batch)) mem.append(hashLeaf(l))
      at += batch
      assert.equal(log.size(), at)
      assert.ok(log.rootAt().equals(mem.root()))
    }
    for (const [i, size] of [[0, 1], [7, 8], [99, 300], [299, 300], [150, 257]] as const) {
      assert.deepEqual(log.inclusionProof(i, size), inclusionProof(mem, i, size))
    }
    for (const [a, b] of [[1, 300], [64, 128], [100, 257], [299, 300]] as const) {
      assert.deepEqual(log.consistencyProof(a, b), consistencyProof(mem, a, b))
    }
    assert.ok(log.entry(42).leaf.equals(leaves[42]!))
    assert.equal([...log.entries(10, 20)].length, 10)
    db.close()
  })

  it('an append inside a transaction that rolls back leaves the log unchanged', () => {
    const db = openDatabase(join(mkdtempSync(join(tmpdir(), 'provena-log-')), 'db.sqlite'))
    const log = new SqliteLog(db)
    log.append([Buffer.from('a'), Buffer.from('b'), Buffer.from('c')])
    const root = log.rootAt()
    assert.throws(() =>
      db.transaction(() => {
        log.append([Buffer.from('d')])
        throw new Error('abort')
      })(),
    )
    assert.equal(log.size(), 3)
    assert.ok(log.rootAt().equals(root))
    log.append([Buffer.from('d')])
    assert.equal(log.size(), 4)
    db.close()
  })
})
