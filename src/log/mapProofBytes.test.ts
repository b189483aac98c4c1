import assert from 'node:assert/strict'
import { hash } from 'node:crypto'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { encodeMapProof, hashChildren, LeavesNode, MAP_EMPTY, proveKey, rootFromMapProofBytes, sortLeaves, verifyMapProofBytes } from './index.js'
import { mapPathStep } from './sparseMap.js'

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')
const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n }).map((v) => Buffer.from(v))
const keyArb = fc.tuple(fc.constantFrom(0x00, 0x01, 0x80, 0xff), bytes(31)).map(([a, rest]) => Buffer.concat([Buffer.of(a), rest]))
const entriesArb = fc.uniqueArray(fc.tuple(keyArb, bytes(32)), { maxLength: 40, selector: ([k]) => hex(k) })

/** The plain reading of encodeMapProof's format: Buffers and hashChildren, nothing reused. */
function plainRoot(b: Buffer): Buffer {
  if (b.length < 35) throw new Error('too short')
  const key = b.subarray(0, 32)
  const flags = b[32]!
  if (flags > 2) throw new Error('bad flags')
  let at = 33
  let h = MAP_EMPTY
  const leaf = (k: Buffer, v: Buffer) => hash('sha256', Buffer.concat([Buffer.of(0), k, v]), 'buffer')
  if (flags === 1) {
    if (b.length < at + 32) throw new Error('too short')
    h = leaf(key, b.subarray(at, at + 32))
    at += 32
  } else if (flags === 2) {
    if (b.length < at + 64) throw new Error('too short')
    const other = b.subarray(at, at + 32)
    if (other.equals(key)) throw new Error('own key')
    h = leaf(other, b.subarray(at + 32, at + 64))
    at += 64
  }
  if (b.length < at + 2) throw new Error('too short')
  const depth = b.readUInt16BE(at)
  at += 2
  if (depth > 256) throw new Error('depth')
  const bit = (buf: Buffer, d: number) => (buf[d >> 3]! >> (7 - (d & 7))) & 1
  if (flags === 2) for (let d = 0; d < depth; d++) if (bit(b.subarray(33, 65), d) !== bit(key, d)) throw new Error('off path')
  const bitmap = b.subarray(at, at + Math.ceil(depth / 8))
  at += Math.ceil(depth / 8)
  if (bitmap.length !== Math.ceil(depth / 8)) throw new Error('short bitmap')
  for (let d = depth; d < 8 * bitmap.length; d++) if (bit(bitmap, d)) throw new Error('bits past depth')
  const listed = Array.from({ length: depth }, (_, d) => bit(bitmap, d) === 1)
  const siblings: Buffer[] = []
  for (let d = 0; d < depth; d++) if (listed[d]) siblings.push(b.subarray(at + 32 * siblings.length, at + 32 * siblings.length + 32))
  if (b.length !== at + 32 * siblings.length || siblings.some((s) => s.length !== 32)) throw new Error('length')
  for (let d = depth - 1; d >= 0; d--) {
    const s = listed[d] ? siblings.pop()! : MAP_EMPTY
    h = bit(key, d) ? hashChildren(s, h) : hashChildren(h, s)
  }
  return h
}

describe('binary map proof verification (the fast path)', () => {
  it('mapPathStep equals hashChildren on the same children, listed or EMPTY sibling (property)', () => {
    fc.assert(
      fc.property(bytes(32), bytes(40), fc.nat(8), fc.boolean(), fc.boolean(), (h, sibs, at, bit, empty) => {
        const sib = empty ? MAP_EMPTY : sibs.subarray(at, at + 32)
        const want = bit ? hashChildren(sib, h) : hashChildren(h, sib)
        const got = mapPathStep(h.toString('latin1'), bit ? 1 : 0, sibs, empty ? -1 : at)
        assert.deepEqual(Buffer.from(got, 'latin1'), want)
      }),
      { numRuns: 300 },
    )
  })

  it('agrees with the plain reading of the format on real, truncated and altered proofs (property)', () => {
    fc.assert(
      fc.property(entriesArb, fc.array(keyArb, { maxLength: 3 }), fc.array(fc.tuple(fc.nat(), fc.nat(7)), { maxLength: 3 }), fc.nat(), (entries, absent, flips, cut) => {
        const l = sortLeaves(entries)
        const node = new LeavesNode(l, 0, l.keys.length, 0)
        const root = node.hash()
        for (const k of [...entries.map(([k]) => k), ...absent]) {
          const good = encodeMapProof(proveKey(node, k))
          assert.deepEqual(rootFromMapProofBytes(good), root)
          assert.equal(verifyMapProofBytes(root, good), true)
          const altered = Buffer.from(good)
          for (const [i, b] of flips) altered[i % altered.length]! ^= 1 << b
          for (const b of [altered, good.subarray(0, cut % (good.length + 1)), Buffer.concat([good, Buffer.of(0)])]) {
            let want: Buffer | undefined
            try {
              want = plainRoot(b)
            } catch {
              want = undefined
            }
            if (want === undefined) assert.throws(() => rootFromMapProofBytes(b), { code: 'LOG_BAD_MAP_PROOF' })
            else assert.deepEqual(rootFromMapProofBytes(b), want)
            assert.equal(verifyMapProofBytes(root, b), want !== undefined && want.equals(root))
            // A plain Uint8Array (not a Buffer) reads the same.
            assert.equal(verifyMapProofBytes(root, new Uint8Array(b)), want !== undefined && want.equals(root))
          }
        }
      }),
      { numRuns: 200 },
    )
  })

  it('refuses a root that is not 32 bytes', () => {
    const node = new LeavesNode(sortLeaves([[Buffer.alloc(32, 1), Buffer.alloc(32, 2)]]), 0, 1, 0)
    const proof = encodeMapProof(proveKey(node, Buffer.alloc(32, 1)))
    assert.equal(verifyMapProofBytes(node.hash(), proof), true)
    assert.equal(verifyMapProofBytes(node.hash().subarray(0, 31), proof), false)
  })
})
