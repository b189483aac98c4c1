import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import { tilesRoutes } from '../api/tiles.js'
import { didKeyFromEd25519, generateEd25519 } from '../crypto/index.js'
import { openDatabase, type Db } from '../db/index.js'
import { isProvenaError, type ProvenaError } from '../errors.js'
import { noteVerifierKey, recordCheckpoint, SqliteLog } from '../log/index.js'
import { CONSORTIUM_TYPE, SHARED_CONTRACTS, signMemberCard, type ConsortiumMember } from '../node/index.js'
import { runCli } from '../testing.js'
import { mirrorDir, mirrorLog } from './mirror.js'
import { httpTileFetch, type TileFetch } from './tileClient.js'

const key = generateEd25519()
const origin = 'hospital-a.example/log'
const signer = { origin, privateKey: key.privateKey, publicKey: key.publicKeyBytes }
const vkey = noteVerifierKey(origin, key.publicKeyBytes)

/** A log signed by `signer`, served over HTTP; `grow(n, tag)` appends and signs a checkpoint. */
async function servedLog(): Promise<{ url: string; db: Db; grow(n: number, tag?: string): void; close(): Promise<void> }> {
  const db = openDatabase(':memory:')
  const log = new SqliteLog(db)
  const app: FastifyInstance = Fastify()
  await app.register(tilesRoutes, { db })
  const url = `${await app.listen({ host: '127.0.0.1', port: 0 })}/log`
  return {
    url,
    db,
    grow(n, tag = 'e') {
      const from = log.size()
      log.append(Array.from({ length: n }, (_, i) => Buffer.from(`{"${tag}":${from + i}}`)))
      recordCheckpoint(db, log, signer)
    },
    async close() {
      await app.close()
      db.close()
    },
  }
}

const codeOf = (e: unknown) => (isProvenaError(e) ? e.code : String(e))

describe('mirrorLog', () => {
  let honest: Awaited<ReturnType<typeof servedLog>>
  let forked: Awaited<ReturnType<typeof servedLog>>
  before(async () => {
    honest = await servedLog()
    forked = await servedLog()
  })
  after(async () => {
    await honest.close()
    await forked.close()
  })

  it('mirrors a new log, then only what it grew by, checking it extends what was mirrored', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'provena-mirror-'))
    honest.grow(300)
    const first = await mirrorLog({ url: honest.url, vkey, dir })
    assert.equal(first.status, 'new')
    assert.deepEqual([first.checkpoint.treeSize, first.newEntries, first.previous], [300, 300, null])
    const m = mirrorDir(dir, origin)
    assert.equal(m, join(dir, 'mirrors', 'hospital-a.example%2Flog'))
    assert.equal(readFileSync(join(m, 'tile/0/000')).length, 8192)
    assert.equal(readFileSync(join(m, 'tile/0/001.p/44')).length, 44 * 32)
    assert.ok(existsSync(join(m, 'tile/entries/001.p/44')))
    assert.ok(existsSync(join(m, 'checkpoints/300.note')))

    honest.grow(65_536)
    const second = await mirrorLog({ url: honest.url, vkey, dir })
    assert.equal(second.status, 'grown')
    assert.deepEqual([second.previous?.treeSize, second.checkpoint.treeSize, second.newEntries], [300, 65_836, 65_536])
    // The first full level-0 tile was mirrored already: not fetched again.
    assert.ok(second.bundlesFetched === 257 && second.tilesFetched < 257 + 3 + 4, `${second.tilesFetched} tiles, ${second.bundlesFetched} bundles`)
    assert.equal(existsSync(join(m, 'tile/0/001.p/44')), false, 'the superseded partial tile is gone')
    assert.ok(existsSync(join(m, 'tile/0/257.p/44')) && existsSync(join(m, 'tile/1/000')) && existsSync(join(m, 'tile/2/000.p/1')))
    assert.equal(readFileSync(join(m, 'checkpoint'), 'utf8'), readFileSync(join(m, 'checkpoints/65836.note'), 'utf8'))

    const third = await mirrorLog({ url: honest.url, vkey, dir })
    assert.deepEqual([third.status, third.tilesFetched, third.bundlesFetched], ['unchanged', 0, 0])

    // A stale cache serving the older checkpoint: consistent, nothing written.
    const oldNote = readFileSync(join(m, 'checkpoints/300.note'))
    const stale: TileFetch = async (path, max) => (path === 'checkpoint' ? oldNote : httpTileFetch(honest.url)(path, max))
    const fourth = await mirrorLog({ url: honest.url, vkey, dir, fetchTile: stale })
    assert.equal(fourth.status, 'stale')
    assert.equal(readFileSync(join(m, 'checkpoint'), 'utf8'), readFileSync(join(m, 'checkpoints/65836.note'), 'utf8'))
  })

  it('names a split view (a rewritten history, or the same size with another root) and keeps both notes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'provena-mirror-'))
    const a = await servedLog()
    const b = await servedLog()
    try {
      a.grow(10)
      b.grow(10, 'rewritten')
      await mirrorLog({ url: a.url, vkey, dir })
      const m = mirrorDir(dir, origin)
      const mirrored = readFileSync(join(m, 'checkpoint'), 'utf8')
      // Same size, another root.
      const e1 = await mirrorLog({ url: b.url, vkey, dir, now: () => new Date(1) }).catch((e: ProvenaError) => e)
      assert.equal(codeOf(e1), 'AUDIT_SPLIT_VIEW')
      assert.match((e1 as ProvenaError).message, /mirrored size 10 root [0-9a-f]{64}, served size 10 root [0-9a-f]{64}: the same size with another root/)
      // A longer log whose first entries differ: it does not extend what was mirrored.
      b.grow(500, 'rewritten')
      const e2 = await mirrorLog({ url: b.url, vkey, dir, now: () => new Date(2) }).catch((e: ProvenaError) => e)
      assert.equal(codeOf(e2), 'AUDIT_SPLIT_VIEW')
      assert.match((e2 as ProvenaError).message, /mirrored size 10 .* served size 510 .*does not extend/)
      const evidence = (e2 as ProvenaError).details!.evidence as string
      assert.equal(readFileSync(join(evidence, 'mirrored.note'), 'utf8'), mirrored)
      assert.match(readFileSync(join(evidence, 'served.note'), 'utf8'), /^hospital-a\.example\/log\n510\n/)
      assert.equal(readdirSync(join(m, 'evidence')).length, 2)
      // The mirror still holds the first view; the honest log still mirrors fine.
      assert.equal(readFileSync(join(m, 'checkpoint'), 'utf8'), mirrored)
      a.grow(5)
      assert.equal((await mirrorLog({ url: a.url, vkey, dir })).status, 'grown')
    } finally {
      await a.close()
      await b.close()
    }
  })

  it('refuses a full tile that its signed root does not cover directly, an altered entry, another key', async () => {
    const a = await servedLog()
    try {
      a.grow(600)
      const http = httpTileFetch(a.url)
      const altering =
        (target: string): TileFetch =>
        async (path, max) => {
          const bytes = Buffer.from(await http(path, max))
          if (path === target) bytes[40]! ^= 1
          return bytes
        }
      // The root of 600 reads tile/1/000.p/2 and tile/0/002.p/88 only: tile/0/000 is
      // caught by its parent's hash.
      await assert.rejects(mirrorLog({ url: a.url, vkey, dir: mkdtempSync(join(tmpdir(), 'provena-mirror-')), fetchTile: altering('tile/0/000') }), (e) => codeOf(e) === 'AUDIT_BAD_TILE' && /hash 0 is not the root of tile tile\/0\/000/.test((e as Error).message))
      await assert.rejects(mirrorLog({ url: a.url, vkey, dir: mkdtempSync(join(tmpdir(), 'provena-mirror-')), fetchTile: altering('tile/entries/001') }), (e) => codeOf(e) === 'AUDIT_ENTRY_MISMATCH')
      const other = noteVerifierKey(origin, generateEd25519().publicKeyBytes)
      await assert.rejects(mirrorLog({ url: a.url, vkey: other, dir: mkdtempSync(join(tmpdir(), 'provena-mirror-')) }), (e) => codeOf(e) === 'AUDIT_BAD_CHECKPOINT')
    } finally {
      await a.close()
    }
  })
})

describe('provena audit mirror (CLI, a real process)', () => {
  it('mirrors twice as the log grows, then exits 3 with AUDIT_SPLIT_VIEW when the server rewrites history', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'provena-mirror-cli-'))
    const a = await servedLog()
    const b = await servedLog()
    try {
      a.grow(20)
      const r1 = await runCli(['audit', 'mirror', a.url, '--vkey', vkey, '--dir', dir, '--json'])
      assert.equal(r1.code, 0, r1.stderr)
      assert.deepEqual([r1.json().status, (r1.json().checkpoint as { treeSize: number }).treeSize], ['new', 20])
      assert.match(r1.stderr, /checkpoint of hospital-a\.example\/log: size 20/)
      a.grow(280)
      const r2 = await runCli(['audit', 'mirror', a.url, '--vkey', vkey, '--dir', dir])
      assert.equal(r2.code, 0, r2.stderr)
      assert.match(r2.stdout, /Mirrored hospital-a\.example\/log: size 300 \(280 new, extends size 20\)/)
      b.grow(300, 'rewritten')
      const r3 = await runCli(['audit', 'mirror', b.url, '--vkey', vkey, '--dir', dir, '--json'])
      assert.equal(r3.code, 3, r3.stderr)
      const err = r3.json<{ error: { code: string; message: string } }>()
      assert.equal(err.error.code, 'AUDIT_SPLIT_VIEW', r3.stdout)
      assert.match(err.error.message, /mirrored size 300 root [0-9a-f]{64}, served size 300 root [0-9a-f]{64}/)
      const r4 = await runCli(['audit', 'mirror', a.url, '--dir', dir])
      assert.equal(r4.code, 2, r4.stderr)

      // --member: the vkey pinned for that member in the consortium file.
      const memberKey = generateEd25519()
      const address = '0x00000000000000000000000000000000000000a1' as const
      const member: ConsortiumMember = {
        name: 'hospital-a',
        did: didKeyFromEd25519(memberKey.publicKeyBytes),
        role: 'controller',
        address,
        x25519: '11'.repeat(32),
        log: { origin, vkey, operator: address, anchor: address, consentVerifier: address },
      }
      const consortium = join(dir, 'consortium-file.json')
      writeFileSync(
        consortium,
        JSON.stringify({
          _type: CONSORTIUM_TYPE,
          chainId: 31337,
          rpcUrl: null,
          contracts: Object.fromEntries(SHARED_CONTRACTS.map((n) => [n, address])),
          admin: { did: member.did, address },
          members: [{ ...member, card: signMemberCard(member, memberKey.privateKey) }],
        }),
      )
      const dir2 = mkdtempSync(join(tmpdir(), 'provena-mirror-cli-'))
      const r5 = await runCli(['audit', 'mirror', a.url, '--member', 'hospital-a', '--consortium', consortium, '--dir', dir2, '--json'])
      assert.equal(r5.code, 0, r5.stdout + r5.stderr)
      assert.equal((r5.json().checkpoint as { treeSize: number }).treeSize, 300)
      const r6 = await runCli(['audit', 'mirror', a.url, '--member', 'lab-b', '--consortium', consortium, '--dir', dir2, '--json'])
      assert.equal(r6.code, 2, r6.stdout)
    } finally {
      await a.close()
      await b.close()
    }
  })
})
