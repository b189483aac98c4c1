import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { initDataDir, openChain, openProvena, type Provena } from '../app/index.js'
import { FsBlobStore } from '../store/index.js'
import {
  buildKeyRelease,
  createIdentity,
  exportDataset,
  importDataset,
  importedDataset,
  openKeyRelease,
  placeOf,
  segmentsFromStore,
  selectRecords,
  unlockIdentity,
  writeReleasedRecords,
  type DataPlaneContext,
  type UnlockedIdentity,
} from './index.js'

describe('export on worker threads writes exactly what the single-threaded path writes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'provena-export-'))
  const work = mkdtempSync(join(tmpdir(), 'provena-export-files-'))
  let p: Provena
  let chain: Awaited<ReturnType<typeof openChain>>
  let ctx: DataPlaneContext
  let controller: UnlockedIdentity
  let grantee: UnlockedIdentity
  const allowed = { isAllowed: async () => true }
  // A grantee's export: the controller's release (keys sealed to the grantee's X25519 key), opened with the grantee's own key.
  const viaRelease = async (id: string, opts: { as: UnlockedIdentity; out: string; parallelFrom?: number; onProgress?: (done: number, total: number) => void }) => {
    const dataset = importedDataset(ctx.db, id)
    const body = buildKeyRelease(ctx.db, dataset, selectRecords(ctx.db, dataset, controller), { did: opts.as.did, x25519: opts.as.x25519PublicKey }, { digest: 'test', nonce: '00'.repeat(32) })
    await writeReleasedRecords(body, openKeyRelease(body, opts.as), { segments: segmentsFromStore(ctx.store), ...opts })
    return { records: body.records }
  }

  before(async () => {
    initDataDir(dir, 'pw')
    createIdentity(dir, 'ctl', 'controller', 'pw')
    createIdentity(dir, 'lab', 'trainer', 'pw')
    controller = unlockIdentity(dir, 'ctl', 'pw')
    grantee = unlockIdentity(dir, 'lab', 'pw')
    p = openProvena(dir, { passphrase: 'pw' })
    chain = await openChain(p)
    ctx = { db: p.db, log: p.log, signer: p.signer, operatorDid: p.operatorDid, outbox: chain.outbox, store: new FsBlobStore(join(dir, 'blobs')) }
  })
  after(async () => {
    await chain.close()
    p.close()
  })

  // 3,000 rows over several 64 KiB segments; some values need CSV quoting or JSON escapes
  // (the parsed path), some subjects have two records.
  const rows = Array.from({ length: 3000 }, (_, i) => {
    const note = i % 7 === 0 ? '"said ""hi"", twice"' : i % 5 === 0 ? '"a,b"' : i % 11 === 0 ? 'é ü' : `n${i}`
    return `S-${i % 2900},${(i * 0.37).toFixed(2)},${note}`
  })
  const csv = `id,x,note\n${rows.join('\n')}\n`
  const jsonl = rows.map((r, i) => JSON.stringify({ id: `S-${i % 2900}`, v: [i, { deep: r }], t: i % 3 === 0 ? 'tab\there' : 'x' })).join('\n') + '\n'

  for (const [name, text] of [
    ['data.csv', csv],
    ['data.jsonl', jsonl],
  ] as const) {
    it(`${name}: same bytes for the controller and for a grantee (pseudonyms), with 2 workers and without`, async () => {
      const path = join(work, name)
      writeFileSync(path, text)
      const seen: string[] = []
      const { id } = await importDataset(ctx, path, { subjectColumn: 'id', controller, onProgress: (phase, done, total) => seen.push(`${phase} ${done}/${total}`) })
      assert.deepEqual([seen[0]!.startsWith('reading'), seen.at(-1)], [true, 'encrypting 3000/3000'], 'progress: bytes read, then records encrypted')
      for (const as of [controller, grantee]) {
        const one = join(work, `one-${as.name}-${name}`)
        const many = join(work, `many-${as.name}-${name}`)
        const env = process.env.PROVENA_WORKERS
        process.env.PROVENA_WORKERS = '2'
        try {
          const run = as === controller ? (o: { out: string; parallelFrom?: number; onProgress?: (d: number, t: number) => void }) => exportDataset(ctx, id, { as, purpose: 'test', ...allowed, ...o }) : (o: { out: string; parallelFrom?: number; onProgress?: (d: number, t: number) => void }) => viaRelease(id, { as, ...o })
          const a = await run({ out: one })
          let last = ''
          const b = await run({ out: many, parallelFrom: 1, onProgress: (done, total) => (last = `${done}/${total}`) })
          assert.equal(last, '3000/3000')
          assert.deepEqual([a.records, b.records], [3000, 3000])
        } finally {
          if (env === undefined) delete process.env.PROVENA_WORKERS
          else process.env.PROVENA_WORKERS = env
        }
        assert.ok(readFileSync(one).equals(readFileSync(many)), `${as.name}: parallel export differs`)
        if (as === controller) assert.ok(readFileSync(one).equals(Buffer.from(text)) || name.endsWith('.jsonl'), 'the CSV comes back as imported')
        else assert.equal(readFileSync(one, 'utf8').includes(name.endsWith('.csv') ? '\nS-17,' : '"id":"S-17"'), false, 'a grantee sees pseudonyms')
      }
    })
  }

  it('importing the same file again gives its registration as it stands, and encrypts nothing twice', async () => {
    const path = join(work, 'again.csv')
    writeFileSync(path, csv.replace('id,x,note', 'id,x,again'))
    const blocks = () => readdirSync(join(dir, 'blobs')).flatMap((d) => readdirSync(join(dir, 'blobs', d))).length
    const first = await importDataset(ctx, path, { subjectColumn: 'id', controller })
    const stored = blocks()
    const second = await importDataset(ctx, path, { subjectColumn: 'id', controller })
    assert.deepEqual([second.id, second.existing, second.records, second.subjects, second.segments], [first.id, true, 3000, first.subjects, first.segments])
    assert.equal(blocks(), stored, 'no new blocks')
  })

  it('a record failing its GCM tag on a worker is named, and no output file is left', async () => {
    const path = join(work, 'tamper.csv')
    writeFileSync(path, csv.replace('id,x,note', 'id,x,remark'))
    const { id } = await importDataset(ctx, path, { subjectColumn: 'id', controller })
    const place = placeOf(p.db, p.db.prepare('SELECT id FROM access_datasets WHERE dataset = ?').pluck().get(id) as number, 2222)!
    const row = { cid: p.db.prepare('SELECT cid FROM access_segments WHERE id = ?').pluck().get(place.segment) as string, offset: place.offset }
    // A store that hands out the segment with one ciphertext byte flipped (the fs store
    // would refuse the block by its CID first; this reaches the GCM check).
    const store = new FsBlobStore(join(dir, 'blobs'))
    const flipped: DataPlaneContext = {
      ...ctx,
      store: Object.assign(Object.create(store) as FsBlobStore, {
        get: async (cid: string) => {
          const bytes = Buffer.from(await store.get(cid))
          if (cid === row.cid) bytes[row.offset + 20]! ^= 1
          return bytes
        },
      }),
    }
    const out = join(work, 'tampered.csv')
    await assert.rejects(exportDataset(flipped, id, { as: controller, purpose: 'test', out, ...allowed, parallelFrom: 1 }), /record 2222 \(line 2224 as imported\) does not decrypt/)
    assert.equal(existsSync(out), false)
    assert.deepEqual(readdirSync(work).filter((f) => f.includes('.partial')), [], 'no temporary file left')
    const last = JSON.parse(p.log.entry(p.log.size() - 1).leaf.toString('utf8')) as { type: string; outcome: string; dataset: string }
    assert.deepEqual([last.type, last.outcome, last.dataset], ['provena.access.export/v1', 'failed: CRYPTO_DECRYPT_FAILED', id], 'the failed attempt is logged')
    await assert.rejects(exportDataset(ctx, id, { as: controller, purpose: 'test', out: join(work, 'no', 'such', 'dir.csv'), ...allowed }), {
      code: 'ACCESS_CANNOT_WRITE',
      message: /dir\.csv: its directory does not exist/,
    })
    await assert.rejects(exportDataset(ctx, id, { as: controller, purpose: 'test', out: work, ...allowed }), { code: 'ACCESS_CANNOT_WRITE', message: /it is a directory/ })
    const again = JSON.parse(p.log.entry(p.log.size() - 1).leaf.toString('utf8')) as { outcome: string }
    assert.equal(again.outcome, 'failed: ACCESS_CANNOT_WRITE')
  })
})
