import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { createPublicClient, http, type PublicClient } from 'viem'
import { placeOf } from '../access/index.js'
import { AccessPolicyAbi } from '../chain/index.js'
import { repoRoot, runCli } from '../testing.js'

const CSV = join(repoRoot, 'data', 'breast_cancer.csv')

describe('encrypted data plane: import, export, erasure (breast-cancer CSV)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'provena-plane-'))
  const work = mkdtempSync(join(tmpdir(), 'provena-plane-files-'))
  const env = { PROVENA_PASSPHRASE: 'pw for tests' }
  const cli = (...args: string[]) => runCli([...args, '--dir', dir], env)
  let id = ''
  before(async () => {
    assert.equal((await cli('init')).code, 0)
    assert.equal((await cli('node', 'start')).code, 0)
    assert.equal((await cli('identity', 'create', 'st-mary', '--role', 'controller')).code, 0)
    assert.equal((await cli('identity', 'create', 'lab-1', '--role', 'trainer')).code, 0)
  })
  after(async () => void (await cli('node', 'stop')))

  it('imports encrypted: no clear record in the block store; the export is the original file, byte for byte', async () => {
    const r = await cli('dataset', 'import', CSV, '--subject-column', 'patient_id', '--as', 'st-mary', '--json')
    assert.equal(r.code, 0, r.stderr)
    const j = r.json<{ id: string; records: number; subjects: number }>()
    assert.deepEqual([j.records, j.subjects], [569, 569])
    id = j.id
    const blobs = join(dir, 'blobs')
    const stored = readdirSync(blobs).flatMap((s) => readdirSync(join(blobs, s)).map((f) => readFileSync(join(blobs, s, f))))
    assert.ok(stored.length >= 1)
    for (const b of stored) assert.equal(b.indexOf('BC-0001'), -1, 'subject ids are not stored in clear')
    const e = await cli('dataset', 'export', id, '--as', 'st-mary', '--out', join(work, 'out.csv'), '--json')
    assert.equal(e.code, 0, e.stderr)
    assert.ok(readFileSync(join(work, 'out.csv')).equals(readFileSync(CSV)))
    assert.equal((await cli('dataset', 'verify', CSV, '--id', id)).code, 0, 'the registered root is the same as dataset register gives')
    const info = (await cli('store', 'info', '--verify', '--json')).json<{ backend: string; blocks: number; referencedBlocks: number; verified: boolean }>()
    assert.deepEqual([info.backend, info.blocks, info.referencedBlocks, info.verified], ['fs', stored.length, stored.length, true])
  })

  it('refuses a member without a grant, and logs the refusal; refuses a missing subject column', async () => {
    const r = await cli('dataset', 'export', id, '--as', 'lab-1', '--purpose', 'dpv:ScientificResearch', '--out', join(work, 'no.csv'))
    assert.equal(r.code, 1)
    assert.match(r.stderr, /AccessPolicy does not allow lab-1/)
    assert.equal(existsSync(join(work, 'no.csv')), false)
    const leaves = (await cli('log', 'entries', '--json')).json<{ entries: { leaf: string }[] }>().entries.map((x) => JSON.parse(Buffer.from(x.leaf, 'base64').toString()))
    assert.ok(leaves.some((l) => l.type === 'provena.access.export/v1' && l.outcome.startsWith('refused')))
    assert.ok(leaves.some((l) => l.type === 'provena.access.export/v1' && l.outcome === 'granted'))
    const bad = await cli('dataset', 'import', CSV, '--subject-column', 'nope', '--as', 'st-mary')
    assert.match(bad.stderr, /no column "nope"/)
  })

  it('an on-chain grant lets a member export (pseudonyms, keys released by HPKE) for that purpose only, until revoked or expired', async () => {
    const out = join(work, 'lab.csv')
    const exportAs = (who: string, purpose: string) => cli('dataset', 'export', id, '--as', who, '--purpose', purpose, '--out', out, '--force', '--json')
    assert.equal((await cli('access', 'grant', id, '--to', 'lab-1', '--purpose', 'dpv:ScientificResearch', '--as', 'st-mary')).code, 0)
    // Every patient consents to research but BC-0002, who refuses, and BC-0003, who says nothing.
    const original = readFileSync(CSV, 'utf8').trimEnd().split('\n')
    const consents = join(work, 'consents.csv')
    const ids = original.slice(1).map((l) => l.slice(0, l.indexOf(',')))
    writeFileSync(consents, `subject,purpose,action\n${ids.filter((s) => s !== 'BC-0003').map((s) => `${s},dpv:ScientificResearch,${s === 'BC-0002' ? 'refuse' : 'grant'}`).join('\n')}\n`)
    assert.equal((await cli('consent', 'import', consents, '--as', 'st-mary')).code, 0)
    const ok = await exportAs('lab-1', 'dpv:ScientificResearch')
    assert.equal(ok.code, 0, ok.stderr)
    assert.deepEqual(ok.json<{ excluded: Record<string, number> }>().excluded, { refused: 1, 'no-consent': 1 })
    const rows = readFileSync(out, 'utf8').trimEnd().split('\n')
    assert.equal(rows.length, original.length - 2, 'the refusing and the silent patient are left out')
    const said = await cli('dataset', 'export', id, '--as', 'lab-1', '--purpose', 'dpv:ScientificResearch', '--out', out, '--force')
    assert.match(said.stdout, /Exported 567 record\(s\) of .* for dpv:ScientificResearch; left out: 1 refused consent, 1 without consent/)
    assert.equal(rows[0], original[0], 'same columns')
    assert.match(rows[1]!, /^[0-9a-f]{64},/, 'subject ids are pseudonyms for a grantee')
    assert.equal(rows[1]!.slice(65), original[1]!.slice(original[1]!.indexOf(',') + 1), 'the rest of the record is the original')
    assert.equal((await exportAs('lab-1', 'dpv:Marketing')).code, 1, 'another purpose')
    assert.equal((await cli('access', 'revoke', id, '--to', 'lab-1', '--as', 'st-mary')).code, 0)
    assert.equal((await exportAs('lab-1', 'dpv:ScientificResearch')).code, 1, 'revoked')
    assert.match((await cli('access', 'revoke', id, '--to', 'lab-1', '--as', 'st-mary')).stderr, /no active grant/)
    assert.match((await cli('access', 'grant', id, '--to', 'lab-1', '--purpose', 'dpv:ScientificResearch', '--expires', '2001-01-01T00:00:00Z', '--as', 'st-mary')).stderr, /is in the past/)
    assert.match((await cli('access', 'grant', id, '--to', 'nobody', '--purpose', 'dpv:ScientificResearch', '--as', 'st-mary')).stderr, /no identity "nobody"/)
    // A grant for an hour, then the chain's clock moves past it.
    const inAnHour = new Date(Date.now() + 3600_000).toISOString()
    assert.equal((await cli('access', 'grant', id, '--to', 'lab-1', '--purpose', 'dpv:ScientificResearch', '--expires', inAnHour, '--as', 'st-mary')).code, 0)
    assert.equal((await exportAs('lab-1', 'dpv:ScientificResearch')).code, 0)
    const rpcUrl = (await cli('chain', 'info', '--json')).json<{ rpcUrl: string }>().rpcUrl
    const rpc = (method: string, params: unknown[]) => fetch(rpcUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) })
    await rpc('evm_increaseTime', [7200])
    await rpc('evm_mine', [])
    assert.equal((await exportAs('lab-1', 'dpv:ScientificResearch')).code, 1, 'expired')
  })

  it('a tampered segment is refused before decryption: its bytes no longer match their content address', async () => {
    const db = new Database(join(dir, 'provena.db'), { readonly: true })
    const place = placeOf(db, db.prepare('SELECT id FROM access_datasets WHERE dataset = ?').pluck().get(id) as number, 7)!
    const rec = { cid: db.prepare('SELECT cid FROM access_segments WHERE id = ?').pluck().get(place.segment) as string, offset: place.offset }
    db.close()
    const path = join(dir, 'blobs', rec.cid.slice(-2), rec.cid)
    const original = readFileSync(path)
    const bytes = Buffer.from(original)
    bytes[rec.offset + 20]! ^= 1
    writeFileSync(path, bytes)
    try {
      const r = await cli('dataset', 'export', id, '--as', 'st-mary', '--out', join(work, 't.csv'))
      assert.equal(r.code, 1)
      assert.match(r.stderr, /does not match its content address/, 'the block store catches it first')
    } finally {
      writeFileSync(path, original)
    }
  })

  it('store migrate moves every block to IPFS (Helia, offline) and back, verified; exports read from either', async () => {
    const before = (await cli('store', 'info', '--json')).json<{ blocks: number }>().blocks
    const m = await cli('store', 'migrate', '--to', 'ipfs', '--json')
    assert.equal(m.code, 0, m.stderr)
    assert.deepEqual([m.json<{ blocks: number }>().blocks, m.json<{ verified: boolean }>().verified], [before, true])
    const info = (await cli('store', 'info', '--verify', '--json')).json<{ backend: string; blocks: number; verified: boolean }>()
    assert.deepEqual([info.backend, info.blocks, info.verified], ['ipfs', before, true])
    const e = await cli('dataset', 'export', id, '--as', 'st-mary', '--out', join(work, 'from-ipfs.csv'))
    assert.equal(e.code, 0, e.stderr)
    assert.ok(readFileSync(join(work, 'from-ipfs.csv')).equals(readFileSync(CSV)))
    assert.match((await cli('store', 'migrate', '--to', 'ipfs')).stderr, /ipfs already/)
    assert.equal((await cli('store', 'migrate', '--to', 'fs')).code, 0)
    assert.equal((await cli('store', 'info', '--json')).json<{ backend: string }>().backend, 'fs')
  })

  it('erasure: the key is gone from the database files, the export leaves the subject out, verify reports erased not tampered', async () => {
    const db = new Database(join(dir, 'provena.db'), { readonly: true })
    // The subject's key is sealed in a block with others: that sealed block must not survive.
    const wrapped = db
      .prepare('SELECT b.sealed FROM access_key_blocks b JOIN access_subject_keys k ON k.block = b.id WHERE k.id = ?')
      .pluck()
      .get(placeOf(db, db.prepare('SELECT id FROM access_datasets WHERE dataset = ?').pluck().get(id) as number, 41)!.subject) as Buffer
    db.close()
    const r = await cli('subject', 'erase', 'BC-0042', '--as', 'st-mary', '--json')
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.json<{ records: number }>().records, 1)
    const info = (await cli('chain', 'info', '--json')).json<{ rpcUrl: string; contracts: { AccessPolicy: `0x${string}` } }>()
    const client = createPublicClient({ transport: http(info.rpcUrl) }) as PublicClient
    const events = await client.getContractEvents({ address: info.contracts.AccessPolicy, abi: AccessPolicyAbi, eventName: 'SubjectErased', fromBlock: 0n })
    assert.equal(events.length, 1)
    assert.equal((events[0]!.args as { pseudonym: string }).pseudonym, `0x${r.json<{ pseudonym: string }>().pseudonym}`)
    assert.deepEqual((events[0]!.args as { datasets: string[] }).datasets, [`0x${id}`])
    for (const f of ['provena.db', 'provena.db-wal']) {
      if (existsSync(join(dir, f))) assert.equal(readFileSync(join(dir, f)).indexOf(wrapped), -1, `the block that sealed the erased key lingers in ${f}`)
    }
    const e = (await cli('dataset', 'export', id, '--as', 'st-mary', '--out', join(work, 'after.csv'), '--json')).json<{ records: number; erased: number }>()
    assert.deepEqual([e.records, e.erased], [568, 1])
    assert.ok(!readFileSync(join(work, 'after.csv'), 'utf8').includes('BC-0042'))
    const v = (await cli('dataset', 'verify', CSV, '--id', id, '--json')).json<{ ok: boolean; erased: number[]; changed: number[] }>()
    assert.deepEqual([v.ok, v.erased, v.changed], [true, [43], []])
    assert.match((await cli('subject', 'erase', 'BC-0042', '--as', 'st-mary')).stderr, /erased already/)
    assert.match((await cli('subject', 'erase', 'nobody', '--as', 'st-mary')).stderr, /no data of subject "nobody"/)
    assert.equal((await cli('verify')).code, 0)
  })

  it('erasure with another reader open does not report success while the old key bytes stay in provena.db or its WAL', async () => {
    const files = ['provena.db', 'provena.db-wal'].map((f) => join(dir, f))
    const lingers = (b: Buffer) => files.some((f) => existsSync(f) && readFileSync(f).indexOf(b) !== -1)
    const reader = new Database(join(dir, 'provena.db'), { readonly: true })
    const wrapped = reader
      .prepare('SELECT b.sealed FROM access_key_blocks b JOIN access_subject_keys k ON k.block = b.id WHERE k.id = ?')
      .pluck()
      .get(placeOf(reader, reader.prepare('SELECT id FROM access_datasets WHERE dataset = ?').pluck().get(id) as number, 99)!.subject) as Buffer
    // A read transaction on the snapshot before the erasure: the checkpoint cannot finish.
    reader.exec('BEGIN')
    reader.prepare('SELECT count(*) FROM access_key_blocks').get()
    const r = await cli('subject', 'erase', 'BC-0100', '--as', 'st-mary', '--json')
    const stillThere = lingers(wrapped)
    reader.exec('COMMIT')
    reader.close()
    assert.ok(!(r.code === 0 && stillThere), 'subject erase reported success while the erased key block is still in provena.db or provena.db-wal')
    assert.equal(r.code, 1, r.stdout)
    assert.match(r.stdout + r.stderr, /may remain in .*provena\.db-wal/)
    // The erasure itself stands (logged, announced), and the next command clears the WAL.
    assert.match((await cli('subject', 'erase', 'BC-0100', '--as', 'st-mary')).stderr, /erased already/)
    assert.equal(lingers(wrapped), false, 'the erased key block is gone once the reader closed and a command opened the data dir')
  })
})
