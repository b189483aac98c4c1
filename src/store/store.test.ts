import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { cidOf, digestOfCid, FsBlobStore, SEGMENT_MAX_BYTES, SegmentWriter } from './index.js'

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = []
  for await (const item of items) all.push(item)
  return all
}

describe('content-addressed blob store', () => {
  it('CIDv1 raw sha2-256 matches the address IPFS gives the empty block', () => {
    assert.equal(cidOf(Buffer.alloc(0)), 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku')
    assert.equal(digestOfCid(cidOf(Buffer.from('x'))).length, 32)
    for (const bad of ['', 'Qm123', 'bafkrei', `c${cidOf(Buffer.from('x')).slice(1)}`]) assert.throws(() => digestOfCid(bad), { code: 'STORE_BAD_CID' })
  })

  it('fs store: put is idempotent, get verifies content, a damaged or missing block is named', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'provena-store-'))
    const store = new FsBlobStore(dir)
    const cid = await store.put(Buffer.from('hello'))
    assert.equal(await store.put(Buffer.from('hello')), cid)
    assert.equal((await store.get(cid)).toString(), 'hello')
    const shard = readdirSync(dir)[0]!
    writeFileSync(join(dir, shard, cid), 'jello')
    await assert.rejects(store.get(cid), { code: 'STORE_CORRUPT_BLOCK' })
    await store.delete(cid)
    await assert.rejects(store.get(cid), { code: 'STORE_MISSING_BLOCK' })
  })

  it('segments pack records and give each its place', async () => {
    const store = new FsBlobStore(mkdtempSync(join(tmpdir(), 'provena-seg-')))
    const w = new SegmentWriter(store, 100)
    const records = Array.from({ length: 25 }, (_, i) => Buffer.from(`record number ${i}`))
    for (const r of records) await w.add(r)
    const refs = await w.finish()
    assert.ok(new Set(refs.map((r) => r.cid)).size > 1, 'several segments')
    for (const [i, ref] of refs.entries()) {
      const seg = await store.get(ref.cid)
      assert.deepEqual(seg.subarray(ref.offset, ref.offset + ref.length), records[i])
    }
  })

  it('segments stay within 1 MiB (Kubo\'s block limit); a ciphertext larger than that is a segment of its own', async () => {
    const store = new FsBlobStore(mkdtempSync(join(tmpdir(), 'provena-seg-')))
    const w = new SegmentWriter(store)
    const records: Buffer[] = []
    for (let i = 0; i < 3000; i++) records.push(Buffer.alloc(700 + ((i * 7919) % 2000), i))
    records.splice(1500, 0, Buffer.alloc(SEGMENT_MAX_BYTES + 4321, 0xab))
    records.splice(2000, 0, Buffer.alloc(SEGMENT_MAX_BYTES, 0xcd))
    for (const r of records) await w.add(r)
    const refs = await w.finish()
    const sizes = new Map<string, number>()
    const segments = new Map<string, Buffer>()
    for (const [i, ref] of refs.entries()) {
      if (!segments.has(ref.cid)) segments.set(ref.cid, await store.get(ref.cid))
      const seg = segments.get(ref.cid)!
      sizes.set(ref.cid, seg.length)
      assert.ok(seg.subarray(ref.offset, ref.offset + ref.length).equals(records[i]!), `record ${i}`)
    }
    const big = refs[1500]!
    assert.deepEqual([big.offset, sizes.get(big.cid)], [0, SEGMENT_MAX_BYTES + 4321], 'the oversized ciphertext alone')
    assert.equal(sizes.get(refs[2000]!.cid), SEGMENT_MAX_BYTES, 'exactly 1 MiB fits, alone')
    const over = [...sizes].filter(([cid, n]) => n > SEGMENT_MAX_BYTES && cid !== big.cid)
    assert.deepEqual(over, [], 'no other segment above 1 MiB')
    assert.ok(sizes.size >= 6 && sizes.size <= 9, `${sizes.size} segments for ~7.1 MiB`)
  })

  it('segments are written in the background, and a failed write is thrown by finish (never lost)', async () => {
    const inner = new FsBlobStore(mkdtempSync(join(tmpdir(), 'provena-seg-')))
    let puts = 0
    let running = 0
    let most = 0
    const store = Object.assign(Object.create(inner) as FsBlobStore, {
      put: async (bytes: Uint8Array) => {
        const n = ++puts
        running++
        most = Math.max(most, running)
        await new Promise((r) => setTimeout(r, 5))
        running--
        if (n === 2) throw new Error('disk full')
        return inner.put(bytes)
      },
    })
    const w = new SegmentWriter(store, 100, 2)
    // The failure surfaces at the first wait after it: a later add, or finish.
    await assert.rejects(async () => {
      for (let i = 0; i < 40; i++) await w.add(Buffer.alloc(60, i))
      await w.finish()
    }, /disk full/)
    assert.ok(most >= 2 && most <= 3, `writes overlap, bounded (${most} at once)`)
  })
})

describe('IPFS block store (an IPFS block repository in the data dir) and migration', () => {
  it('keeps blocks where IPFS block repositories keep them, so data dirs written before still open', async () => {
    const { IpfsBlobStore } = await import('./ipfsBlobStore.js')
    // blockstore-fs (and Kubo's flatfs): the multihash in multibase base32 upper case ('B…'),
    // in a directory named after its next-to-last two characters, with the `.data` extension.
    // This is the file a data dir migrated to ipfs by an earlier version holds for 'hello'.
    const dir = mkdtempSync(join(tmpdir(), 'provena-ipfs-layout-'))
    const file = 'BCIQCZ4SNXJP3BIYOE3UDWKWFXHRJ4GYWDZOB7J2CLZZQIM3CSOFZQJA.data'
    mkdirSync(join(dir, 'JA'))
    writeFileSync(join(dir, 'JA', file), 'hello')
    const store = await IpfsBlobStore.open(dir)
    try {
      const cid = cidOf(Buffer.from('hello'))
      assert.deepEqual(await collect(store.list()), [cid])
      assert.equal((await store.get(cid)).toString(), 'hello')
      const world = await store.put(Buffer.from('world'))
      assert.deepEqual((await collect(store.list())).sort(), [cid, world].sort())
      rmSync(join(dir, 'JA', file))
      assert.equal(await store.has(cid), false)
      await store.put(Buffer.from('hello'))
      assert.equal(readFileSync(join(dir, 'JA', file), 'utf8'), 'hello', 'put writes the same file')
    } finally {
      await store.close()
    }
  })

  it('gives the same CIDs as IPFS, round-trips, and store migrate moves every block verified both ways', async () => {
    const { migrateStore } = await import('./index.js')
    const { IpfsBlobStore } = await import('./ipfsBlobStore.js')
    assert.equal(cidOf(Buffer.from('hello')), 'bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq')
    const fs = new FsBlobStore(mkdtempSync(join(tmpdir(), 'provena-mig-fs-')))
    const ipfs = await IpfsBlobStore.open(mkdtempSync(join(tmpdir(), 'provena-mig-ipfs-')))
    try {
      const blocks = Array.from({ length: 20 }, (_, i) => Buffer.from(`block ${i} `.repeat(i + 1)))
      const cids = []
      for (const b of blocks) cids.push(await fs.put(b))
      const moved = await migrateStore(fs, ipfs)
      assert.equal(moved.blocks, 20)
      for (const [i, cid] of cids.entries()) {
        assert.deepEqual(await ipfs.get(cid), blocks[i])
        assert.equal(await fs.has(cid), false, 'moved, not copied')
      }
      await assert.rejects(ipfs.get(cidOf(Buffer.from('absent'))), { code: 'STORE_MISSING_BLOCK' })
      const back = await migrateStore(ipfs, fs)
      assert.equal(back.blocks, 20)
      assert.deepEqual(await fs.get(cids[5]!), blocks[5])
    } finally {
      await ipfs.close()
    }
  })
})
