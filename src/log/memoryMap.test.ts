import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { LeavesNode, mapRootOf, MemoryMap, proveKey, proveKeys, rootFromMapProof, sortLeaves, type MapNode } from './index.js'
import { keyBit, MAP_KEY_BITS, subtreeOfLeaves, type Leaves } from './sparseMap.js'

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')
// Keys from a few prefixes, so that paths share long prefixes.
const keyArb = fc
  .tuple(fc.constantFrom(0x00, 0x00, 0x01, 0x80, 0xff), fc.constantFrom(0x00, 0x0f, 0x10, 0xff), fc.uint8Array({ minLength: 30, maxLength: 30 }))
  .map(([a, b, rest]) => Buffer.concat([Buffer.of(a, b), rest]))
const valueArb = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((v) => Buffer.from(v))
const entriesArb = fc.uniqueArray(fc.tuple(keyArb, valueArb), { minLength: 0, maxLength: 80, selector: ([k]) => hex(k) })

/** The plain tree view: every hash() rehashes its whole subtree (the reference). */
class PlainNode implements MapNode {
  constructor(
    readonly l: Leaves,
    readonly lo: number,
    readonly hi: number,
    readonly depth: number,
  ) {}
  count = () => this.hi - this.lo
  hash = () => subtreeOfLeaves(this.l, this.lo, this.hi, this.depth)
  single = (): [Buffer, Buffer] => [this.l.keys[this.lo]!, this.l.values[this.lo]!]
  children(): [MapNode, MapNode] {
    assert.ok(this.depth < MAP_KEY_BITS)
    let mid = this.lo
    while (mid < this.hi && !keyBit(this.l.keys[mid]!, this.depth)) mid++
    return [new PlainNode(this.l, this.lo, mid, this.depth + 1), new PlainNode(this.l, mid, this.hi, this.depth + 1)]
  }
}

describe('MemoryMap: an in-memory sparse map with cached interior hashes', () => {
  it('its root after each batch of sets and deletes is the root of the map rebuilt from scratch (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.tuple(keyArb, fc.option(valueArb, { freq: 4 }), fc.nat()), { maxLength: 30 }), { maxLength: 8 }), (batches) => {
        const map = new MemoryMap()
        const model = new Map<string, Buffer>()
        for (const batch of batches) {
          for (const [k, v, pick] of batch) {
            // Deletes also target keys set earlier.
            const known = [...model.keys()]
            const key = v === null && known.length ? Buffer.from(known[pick % known.length]!, 'hex') : k
            if (v) {
              map.set(key, v)
              model.set(hex(key), v)
            } else {
              map.delete(key)
              model.delete(hex(key))
            }
          }
          assert.deepEqual(map.root(), mapRootOf([...model].map(([k, v]) => [Buffer.from(k, 'hex'), v])))
          assert.equal(map.size, model.size)
          for (const [k, v] of [...model].slice(0, 3)) assert.deepEqual(map.get(Buffer.from(k, 'hex')), v)
        }
      }),
      { seed: 11, numRuns: 150 },
    )
  })

  it('gives the same single-key proofs and multiproofs as the plain implementation (property)', () => {
    fc.assert(
      fc.property(entriesArb, fc.array(keyArb, { maxLength: 5 }), (entries, absent) => {
        const l = sortLeaves(entries)
        const plain = new PlainNode(l, 0, l.keys.length, 0)
        const map = new MemoryMap()
        for (const [k, v] of entries) map.set(k, v)
        const keys = [...entries.map(([k]) => k), ...absent]
        for (const k of keys) {
          const p = proveKey(plain, k)
          assert.deepEqual(proveKey(map.rootNode(), k), p)
          assert.deepEqual(proveKey(new LeavesNode(l, 0, l.keys.length, 0), k), p)
          assert.deepEqual(rootFromMapProof(p), plain.hash())
        }
        if (keys.length) {
          assert.deepEqual(proveKeys(map.rootNode(), keys), proveKeys(plain, keys))
          assert.deepEqual(proveKeys(new LeavesNode(l, 0, l.keys.length, 0), keys), proveKeys(plain, keys))
        }
      }),
      { seed: 11, numRuns: 150 },
    )
  })

  it('LeavesNode hashes each subtree once: proofs after the root read the memo, adding nothing to it', () => {
    const entries = Array.from({ length: 2000 }, (_, i) => [Buffer.alloc(32, 0).fill(i % 251, 0, 1).fill(i >> 3, 1, 2).fill(i, 2, 3), Buffer.alloc(32, i % 256)] as [Buffer, Buffer])
    const l = sortLeaves(entries.filter(([k], i) => entries.findIndex(([o]) => o.equals(k)) === i))
    const memo = new Map<number, Buffer>()
    const root = new LeavesNode(l, 0, l.keys.length, 0, memo)
    const r = root.hash()
    const interior = memo.size
    assert.ok(interior >= l.keys.length - 1, 'every subtree of two or more keys is kept')
    for (const k of l.keys) assert.deepEqual(rootFromMapProof(proveKey(root, k)), r)
    assert.equal(memo.size, interior, 'no subtree hashed again')
  })
})
