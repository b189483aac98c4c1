// Checks that must not vouch for what they did not check (issue 11): `log prove` of altered
// bytes, `verify` and the outbox replay after the embedded chain lost its state, the
// messages when it did, and `store info --verify` with deleted and corrupt blocks.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { appendFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { anchorNow, initDataDir, openChain, openProvena } from '../app/index.js'
import { repoRoot, runCli, TEST_PASSPHRASE } from '../testing.js'

const entry = (i: number) => Buffer.from(`{"type":"test/v1","i":${i}}`)

/** A data dir with 11 entries, checkpoints of size 5 and 8 anchored on its embedded node (stopped). */
async function anchoredDataDir(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'provena-checks-'))
  initDataDir(dir, TEST_PASSPHRASE)
  const p = openProvena(dir, { passphrase: TEST_PASSPHRASE })
  const chain = await openChain(p)
  try {
    p.log.append([0, 1, 2, 3, 4].map(entry))
    await anchorNow(p, chain)
    p.log.append([5, 6, 7].map(entry))
    await anchorNow(p, chain)
    p.log.append([8, 9, 10].map(entry))
  } finally {
    await chain.close()
    p.close()
  }
  return dir
}

/** Rewrites entry `index`'s bytes in the database, leaving its stored leaf hash (and nodes) as they were. */
function alterEntry(dir: string, index: number, leaf: Buffer): void {
  const db = new Database(join(dir, 'provena.db'))
  try {
    assert.equal(db.prepare('UPDATE log_entries SET leaf = ? WHERE idx = ?').run(leaf, index).changes, 1)
  } finally {
    db.close()
  }
}

const ALTERED = Buffer.from('{"type":"test/v1","i":666}')

describe('log prove proves the bytes it returns', () => {
  it('fails with exit 3 naming the entry when its bytes do not hash to the stored leaf hash', async () => {
    const dir = await anchoredDataDir()
    const good = await runCli(['log', 'prove', '1', '--json', '--dir', dir])
    assert.equal(good.code, 0, good.stderr)
    assert.equal(good.json().verified, true)
    alterEntry(dir, 1, ALTERED)
    const r = await runCli(['log', 'prove', '1', '--json', '--dir', dir])
    assert.equal(r.code, 3, r.stdout + r.stderr)
    const j = r.json<{ ok: boolean; verified?: boolean; error: { code: string; message: string } }>()
    assert.equal(j.verified, undefined)
    assert.equal(j.error.code, 'LOG_LEAF_MISMATCH')
    assert.match(j.error.message, /log entry 1 \(test\/v1: \{"type":"test\/v1","i":666\}\)/)
    // Another entry still proves.
    assert.equal((await runCli(['log', 'prove', '2', '--json', '--dir', dir])).json().verified, true)
  })

  it('fails with exit 3 when the bytes and the stored leaf hash were both rewritten (the proof no longer reaches the anchored root)', async () => {
    const dir = await anchoredDataDir()
    const db = new Database(join(dir, 'provena.db'))
    try {
      const leafHash = createHash('sha256').update(Buffer.from([0])).update(ALTERED).digest()
      assert.equal(db.prepare('UPDATE log_entries SET leaf = ?, leaf_hash = ? WHERE idx = 1').run(ALTERED, leafHash).changes, 1)
    } finally {
      db.close()
    }
    const r = await runCli(['log', 'prove', '1', '--json', '--dir', dir])
    assert.equal(r.code, 3, r.stdout + r.stderr)
    const j = r.json<{ verified?: boolean; error: { code: string; hint?: string } }>()
    assert.equal(j.verified, undefined)
    assert.equal(j.error.code, 'LOG_ROOT_MISMATCH')
    assert.ok(j.error.hint, 'a hint says what to do')
  })
})

describe('after the embedded chain lost its state', () => {
  it('a tampered log is not replayed onto the new chain, and verify fails naming the entry', async () => {
    const dir = await anchoredDataDir()
    alterEntry(dir, 1, ALTERED)
    rmSync(join(dir, 'node', 'state.json'))
    const info = await runCli(['chain', 'info', '--json', '--dir', dir])
    assert.equal(info.code, 3, info.stdout + info.stderr)
    const e = info.json<{ error: { code: string; message: string } }>().error
    assert.equal(e.code, 'CHAIN_REPLAY_REFUSED')
    assert.match(e.message, /log entry 1 \(test\/v1: .*"i":666/)
    const v = await runCli(['verify', '--dir', dir])
    assert.equal(v.code, 3, v.stdout + v.stderr)
    assert.match(v.stdout, /^FAILED: log entry 1 \(test\/v1: \{"type":"test\/v1","i":666\}\)/)
    assert.doesNotMatch(v.stdout, /not anchored yet|VERIFIED/)
    const j = (await runCli(['verify', '--json', '--dir', dir])).json<{ ok: boolean; firstDifference: { index: number }; failures: { code: string }[] }>()
    assert.equal(j.ok, false)
    assert.equal(j.firstDifference.index, 1)
    assert.ok(j.failures.some((f) => f.code === 'VERIFY_ROOT_MISMATCH'), 'the signed checkpoints kept in the data dir are checked too')
  })

  it('verify says what happened and what to do, chain deploy does it, then verify passes', async () => {
    const dir = await anchoredDataDir()
    rmSync(join(dir, 'node', 'state.json'))
    const v = await runCli(['verify', '--dir', dir])
    assert.equal(v.code, 1, v.stdout + v.stderr)
    assert.match(v.stderr, /the embedded chain's state is gone .*the contracts and the 2 checkpoint\(s\) anchored from this data dir are not on it/)
    assert.match(v.stderr, /hint: run provena chain deploy: it deploys the contracts again and re-anchors the log's signed checkpoints/)
    const d = await runCli(['chain', 'deploy', '--dir', dir])
    assert.equal(d.code, 0, d.stdout + d.stderr)
    assert.match(d.stdout, /^Contracts deployed on the embedded chain\nRe-anchored the log's history the chain had lost/)
    assert.doesNotMatch(d.stdout + d.stderr, /deploys on first use/)
    const again = await runCli(['chain', 'deploy', '--dir', dir])
    assert.match(again.stdout, /^Contracts already deployed on the embedded chain: nothing to do/)
    const ok = await runCli(['verify', '--json', '--dir', dir])
    assert.equal(ok.code, 0, ok.stdout + ok.stderr)
    assert.deepEqual([ok.json().ok, ok.json().anchoredSize], [true, 8])
  })
})

describe('a data dir whose embedded chain has no contracts yet', () => {
  it('verify points to chain deploy, which deploys them on the embedded node', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'provena-checks-fresh-'))
    initDataDir(dir, TEST_PASSPHRASE)
    const v = await runCli(['verify', '--dir', dir])
    assert.equal(v.code, 1)
    assert.match(v.stderr, /not deployed on its embedded chain yet\nhint: run provena chain deploy \(/)
    const d = await runCli(['chain', 'deploy', '--dir', dir])
    assert.equal(d.code, 0, d.stdout + d.stderr)
    assert.match(d.stdout, /^Contracts deployed on the embedded chain\n/)
    assert.equal((await runCli(['verify', '--dir', dir])).code, 0)
  })
})

describe('store info --verify checks every block the database refers to', () => {
  it('reports every missing or corrupt block with the datasets and records it holds, exit 3', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'provena-checks-store-'))
    const work = mkdtempSync(join(tmpdir(), 'provena-checks-store-files-'))
    const env = { PROVENA_PASSPHRASE: 'pw for tests' }
    const cli = (...args: string[]) => runCli([...args, '--dir', dir], env)
    assert.equal((await cli('init')).code, 0)
    assert.equal((await cli('node', 'start')).code, 0)
    try {
      assert.equal((await cli('identity', 'create', 'st-mary', '--role', 'controller')).code, 0)
      const small = join(work, 'small.csv')
      writeFileSync(small, 'patient_id,x\n')
      for (let i = 0; i < 10; i++) appendFileSync(small, `P-${i},${i}\n`)
      const ids: string[] = []
      for (const file of [join(repoRoot, 'data', 'breast_cancer.csv'), small]) {
        const r = await cli('dataset', 'import', file, '--subject-column', 'patient_id', '--as', 'st-mary', '--json')
        assert.equal(r.code, 0, r.stderr)
        ids.push(r.json<{ id: string }>().id)
      }
      const good = await cli('store', 'info', '--verify', '--json')
      assert.equal(good.code, 0, good.stdout + good.stderr)
      assert.deepEqual([good.json().ok, good.json().referencedBlocks], [true, 2])
      assert.deepEqual([(await cli('store', 'info', '--json')).json().referencedBlocks], [2], 'counted the same without --verify')
      const blobs = join(dir, 'blobs')
      const files = readdirSync(blobs).flatMap((s) => readdirSync(join(blobs, s)).map((f) => ({ cid: f, path: join(blobs, s, f) })))
      assert.equal(files.length, 2)
      const [deleted, corrupt] = files
      rmSync(deleted!.path)
      writeFileSync(corrupt!.path, Buffer.from('not the bytes it was'))
      const r = await cli('store', 'info', '--verify', '--json')
      assert.equal(r.code, 3, r.stdout + r.stderr)
      const j = r.json<{ ok: boolean; badBlocks: { cid: string; problem: string; holds: string[] }[] }>()
      assert.equal(j.ok, false)
      const byCid = new Map(j.badBlocks.map((b) => [b.cid, b]))
      assert.equal(byCid.get(deleted!.cid)?.problem, 'missing')
      assert.equal(byCid.get(corrupt!.cid)?.problem, 'corrupt')
      const holds = j.badBlocks.flatMap((b) => b.holds).sort()
      assert.deepEqual(holds, [`dataset ${ids[0]} records 0–568`, `dataset ${ids[1]} records 0–9`].sort())
      const text = await cli('store', 'info', '--verify')
      assert.equal(text.code, 3)
      assert.match(text.stdout, /FAILED +2 bad block\(s\) of 2 checked \(1 missing, 1 corrupt\)/)
      assert.doesNotMatch(text.stdout, /verified +all/)
    } finally {
      await cli('node', 'stop')
    }
  })
})
