import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { openDatabase } from '../db/index.js'
import {
  hashChildren,
  LeavesNode,
  MAP_EMPTY,
  mapLeafHash,
  mapRootOf,
  proveKey,
  proveKeys,
  rootFromMapProof,
  sortLeaves,
  StoredMap,
  verifyMapMultiProof,
  verifyMapProof,
  verifyMapProofBytes,
  encodeMapProof,
  type MapProof,
} from './index.js'

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')
// Keys from a few prefixes, so that paths share long prefixes and buckets hold many keys.
const keyArb = fc
  .tuple(fc.constantFrom(0x00, 0x00, 0x01, 0x80, 0xff), fc.constantFrom(0x00, 0x0f, 0x10, 0xff), fc.uint8Array({ minLength: 30, maxLength: 30 }))
  .map(([a, b, rest]) => Buffer.concat([Buffer.of(a, b), rest]))
const valueArb = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((v) => Buffer.from(v))
const entriesArb = fc.uniqueArray(fc.tuple(keyArb, valueArb), { minLength: 0, maxLength: 60, selector: ([k]) => hex(k) })

function tempMap(): StoredMap {
  return new StoredMap(openDatabase(join(mkdtempSync(join(tmpdir(), 'provena-map-')), 'db.sqlite')))
}

function flipHex(h: string, bit: number): string {
  const b = Buffer.from(h, 'hex')
  b[(bit >> 3) % b.length]! ^= 1 << (bit & 7)
  return b.toString('hex')
}

describe('sparse Merkle map', () => {
  it('hashes an empty map to zero, one key to its leaf, two keys to a node of their leaves', () => {
    assert.deepEqual(mapRootOf([]), MAP_EMPTY)
    const k1 = Buffer.alloc(32, 0x00)
    const k2 = Buffer.alloc(32, 0xff)
    const v = Buffer.alloc(32, 7)
    const leaf = createHash('sha256').update(Buffer.concat([Buffer.of(0), k1, v])).digest()
    assert.deepEqual(mapRootOf([[k1, v]]), leaf)
    assert.deepEqual(mapLeafHash(k1, v), leaf)
    // Keys differ at bit 0: the root is the node of both leaves.
    assert.deepEqual(mapRootOf([[k2, v], [k1, v]]), hashChildren(leaf, mapLeafHash(k2, v)))
    // Keys that share 255 bits: a chain of 255 nodes with one EMPTY side each.
    const k3 = Buffer.from(k1)
    k3[31] = 1
    let h = hashChildren(mapLeafHash(k1, v), mapLeafHash(k3, v))
    for (let d = 254; d >= 0; d--) h = hashChildren(h, MAP_EMPTY)
    assert.deepEqual(mapRootOf([[k1, v], [k3, v]]), h)
  })

  it('every proof verifies, present or absent, and any change breaks it (property)', () => {
    fc.assert(
      fc.property(entriesArb, fc.array(keyArb, { maxLength: 5 }), fc.nat(), (entries, absent, bit) => {
        const l = sortLeaves(entries)
        const root = new LeavesNode(l, 0, l.keys.length, 0)
        const r = root.hash()
        for (const [k, v] of entries) {
          const p = proveKey(root, k)
          assert.equal(p.value, hex(v))
          assert.ok(verifyMapProof(r, p))
          // Tamper: the value, the key, a sibling, the bitmap.
          assert.equal(verifyMapProof(r, { ...p, value: flipHex(p.value!, bit) }), false)
          assert.equal(verifyMapProof(r, { ...p, key: flipHex(p.key, bit) }), false)
          assert.equal(verifyMapProof(r, { ...p, value: null }), false)
          if (p.siblings.length > 0) {
            const s = [...p.siblings]
            const i = bit % s.length
            s[i] = flipHex(s[i]!, bit)
            assert.equal(verifyMapProof(r, { ...p, siblings: s }), false)
          }
          if (p.bitmap.length > 0) assert.equal(verifyMapProof(r, { ...p, bitmap: p.bitmap.slice(1) }), false)
          // The binary form verifies the same, and any flipped bit breaks it.
          const bin = encodeMapProof(p)
          assert.ok(verifyMapProofBytes(r, bin))
          const flipped = Buffer.from(bin)
          flipped[bit % flipped.length]! ^= 1 << (bit % 8)
          assert.equal(verifyMapProofBytes(r, flipped), false)
        }
        const present = new Set(entries.map(([k]) => hex(k)))
        for (const k of absent) {
          if (present.has(hex(k))) continue
          const p = proveKey(root, k)
          assert.equal(p.value, null)
          assert.ok(verifyMapProof(r, p))
          // Claiming any value for an absent key fails.
          assert.equal(verifyMapProof(r, { ...p, value: hex(Buffer.alloc(32, 1)), leaf: undefined } as MapProof), false)
          assert.ok(verifyMapProofBytes(r, encodeMapProof(p)))
        }
      }),
      { numRuns: 150 },
    )
  })

  it('multiproofs verify and return every value; tampering fails (property)', () => {
    fc.assert(
      fc.property(entriesArb, fc.array(keyArb, { maxLength: 5 }), fc.nat(), fc.nat(), (entries, absent, pick, bit) => {
        const l = sortLeaves(entries)
        const root = new LeavesNode(l, 0, l.keys.length, 0)
        const r = root.hash()
        const present = new Map(entries.map(([k, v]) => [hex(k), hex(v)]))
        const chosen = entries.filter((_, i) => (pick >> i % 30) & 1).map(([k]) => k)
        const keys = [...chosen, ...absent]
        if (keys.length === 0) return
        const p = proveKeys(root, keys)
        const got = verifyMapMultiProof(r, p)
        for (const k of keys) assert.equal(got.get(hex(k)), present.get(hex(k)) ?? null)
        if (p.hashes.length > 0) {
          const h = [...p.hashes]
          h[bit % h.length] = flipHex(h[bit % h.length]!, bit)
          assert.throws(() => verifyMapMultiProof(r, { ...p, hashes: h }), { code: 'LOG_BAD_MAP_PROOF' })
        }
        const leafAt = p.leaves.findIndex((x) => x !== null)
        if (leafAt >= 0) {
          const leaves = [...p.leaves]
          leaves[leafAt] = [leaves[leafAt]![0], flipHex(leaves[leafAt]![1], bit)]
          assert.throws(() => verifyMapMultiProof(r, { ...p, leaves }), { code: 'LOG_BAD_MAP_PROOF' })
        }
        assert.throws(() => verifyMapMultiProof(Buffer.from(flipHex(hex(r), bit), "hex"), p), { code: "LOG_BAD_MAP_PROOF" })
      }),
      { numRuns: 150 },
    )
  })

  it('the stored map agrees with the in-memory tree through batches of sets and removals (property)', () => {
    const map = tempMap()
    const model = new Map<string, Buffer>()
    fc.assert(
      fc.property(fc.array(fc.tuple(keyArb, fc.option(valueArb, { freq: 4 })), { maxLength: 40 }), (batch) => {
        // Removals also target keys set earlier.
        const known = [...model.keys()]
        const changes = batch.map(([k, v], i) => ({ key: v === null && known.length ? Buffer.from(known[i % known.length]!, 'hex') : k, value: v }))
        map.apply(changes)
        for (const c of changes) {
          if (c.value) model.set(hex(c.key), c.value)
          else model.delete(hex(c.key))
        }
        const expected = mapRootOf([...model].map(([k, v]) => [Buffer.from(k, 'hex'), v]))
        assert.deepEqual(map.root(), expected)
        assert.equal(map.size(), model.size)
        for (const [k, v] of [...model].slice(0, 5)) {
          const p = map.prove(Buffer.from(k, 'hex'))
          assert.equal(p.value, hex(v))
          assert.deepEqual(rootFromMapProof(p), expected)
        }
        if (model.size > 0) {
          const keys = [...model.keys()].slice(0, 8).map((k) => Buffer.from(k, 'hex'))
          const got = verifyMapMultiProof(expected, map.proveMany(keys))
          for (const k of keys) assert.equal(got.get(hex(k)), hex(model.get(hex(k))!))
        }
      }),
      { numRuns: 60 },
    )
  })

  it('rehashes through the full-scan path when a batch touches many buckets', () => {
    const map = tempMap()
    const entries: [Buffer, Buffer][] = Array.from({ length: 3000 }, (_, i) => [
      createHash('sha256').update(`k${i}`).digest(),
      createHash('sha256').update(`v${i}`).digest(),
    ])
    map.apply(entries.map(([key, value]) => ({ key, value })))
    assert.deepEqual(map.root(), mapRootOf(entries))
    // Remove two thirds at once (many buckets emptied), change the rest.
    map.apply(entries.map(([key], i) => ({ key, value: i % 3 === 0 ? Buffer.alloc(32, 9) : null })))
    const left = entries.filter((_, i) => i % 3 === 0).map(([k]) => [k, Buffer.alloc(32, 9)] as [Buffer, Buffer])
    assert.deepEqual(map.root(), mapRootOf(left))
    assert.equal(map.size(), left.length)
    const absent = map.prove(entries[1]![0])
    assert.equal(absent.value, null)
    assert.ok(verifyMapProof(map.root(), absent))
  })

  it('a change rolled back (savepoint or transaction) leaves no stale root cached, even when read before the rollback', () => {
    const db = openDatabase(join(mkdtempSync(join(tmpdir(), 'provena-map-')), 'db.sqlite'))
    const map = new StoredMap(db)
    const kv = (i: number): [Buffer, Buffer] => [createHash('sha256').update(`k${i}`).digest(), createHash('sha256').update(`v${i}`).digest()]
    const committed = [kv(0), kv(1)]
    map.apply(committed.map(([key, value]) => ({ key, value })))
    const before = map.root()
    const [k, v] = kv(2)
    const fail = new Error('injected')
    // The whole transaction rolled back, after a root and a proof were read inside it.
    assert.throws(() =>
      db.transaction(() => {
        map.apply([{ key: k, value: v }])
        assert.deepEqual(map.root(), mapRootOf([...committed, [k, v]]))
        assert.equal(map.prove(k).value, hex(v))
        throw fail
      })(), fail)
    assert.deepEqual(map.root(), before)
    assert.equal(map.prove(k).value, null)
    // Rolled back to a savepoint, inside a transaction that goes on and commits.
    db.transaction(() => {
      assert.throws(() =>
        db.transaction(() => {
          map.apply([{ key: k, value: v }])
          map.root()
          throw fail
        })(), fail)
      assert.deepEqual(map.root(), before)
    })()
    assert.deepEqual(map.root(), before)
    assert.deepEqual(map.root(), new StoredMap(db).root())
    // A committed change inside a transaction is seen after it.
    db.transaction(() => map.apply([{ key: k, value: v }]))()
    assert.deepEqual(map.root(), mapRootOf([...committed, [k, v]]))
  })
})
