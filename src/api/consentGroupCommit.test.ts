import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { controllerSecrets, pseudonymOf, unlockIdentity, type UnlockedIdentity } from '../access/index.js'
import { createMemberIdentity, initDataDir, openChain, openProvena, type ChainSession, type Provena } from '../app/index.js'
import { consentKey, type BulkChange, type ConsentState } from '../consent/index.js'
import { StoredMap } from '../log/index.js'
import { ConsentGroupCommit, type GroupedBatch } from '../service/index.js'
import { createToken } from './index.js'
import { buildServer } from './server.js'

const P = 'dpv:ScientificResearch'

describe('consent group commit: concurrent batches share one transaction, each all or none (issue 13)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'provena-group-'))
  let p: Provena
  let chain: ChainSession
  let app: FastifyInstance
  let who: UnlockedIdentity
  let base = ''
  let token = ''

  before(async () => {
    initDataDir(dir, 'pw')
    p = openProvena(dir, { passphrase: 'pw' })
    chain = await openChain(p)
    await createMemberIdentity(p, chain, 'c', 'controller', 'pw')
    who = unlockIdentity(dir, 'c', 'pw')
    token = createToken(p.db, dir, { as: 'c', role: 'controller', scopes: ['consent:write'], lifetimeMs: 3_600_000 }).token
    app = await buildServer({ p, chain, dir, passphrase: 'pw' })
    await app.listen({ host: '127.0.0.1', port: 0 })
    base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
  })
  after(async () => {
    await app?.close()
    await chain?.close()
    p?.close()
  })

  const pseudonym = (subject: string) => pseudonymOf(controllerSecrets(who).pseudonymKey, subject)
  const keyOf = (subject: string) => consentKey(pseudonym(subject), P)
  const row = (subject: string, state: ConsentState = 'given', purpose = P): BulkChange => ({ line: 0, subjectId: subject, purpose, state, expires: null, dataset: null, signature: undefined })
  /** What the log says of entry i: the subject's pseudonym and state of the consent record. */
  const entryAt = (i: number) => {
    const r = JSON.parse(p.log.entry(i).leaf.toString('utf8')) as { subject: string; state: string }
    return `${r.subject}:${r.state}`
  }
  const currentState = (subject: string) => p.db.prepare('SELECT state FROM consent_current WHERE map_key = ?').pluck().get(keyOf(subject)) as string | undefined
  /** The map's root and values agree with the database (a fresh StoredMap reads only the database). */
  const assertMapConsistent = () => {
    assert.equal(p.map.root().toString('hex'), new StoredMap(p.db).root().toString('hex'))
    const rows = p.db.prepare('SELECT map_key, record FROM consent_current').raw().all() as [Buffer, Buffer][]
    assert.equal(p.map.size(), rows.length)
    for (const [k, h] of rows) assert.equal(p.map.get(k)?.toString('hex'), h.toString('hex'))
  }

  it('a group: one commit, batches in order (a later one sees an earlier one), a bad batch refused alone, one failing mid-write rolled back alone', async () => {
    const g = new ConsentGroupCommit({ p, chain })
    const start = p.log.size()
    // A failure after the batch's log entries are written: its savepoint must undo them.
    p.db.exec(`CREATE TEMP TRIGGER boom BEFORE INSERT ON consent_current WHEN NEW.subject = '${pseudonym('G-E')}' BEGIN SELECT RAISE(ABORT, 'injected failure'); END`)
    try {
      const submitted = [
        g.apply(who, [row('G-A')], 'b0'),
        g.apply(who, [row('G-B'), row('G-X', 'given', 'dpv:NoSuchPurpose')], 'b1'),
        g.apply(who, [row('G-C'), row('G-D', 'refused')], 'b2'),
        g.apply(who, [row('G-A', 'withdrawn')], 'b3'),
        g.apply(who, [row('G-E'), row('G-E2')], 'b4'),
        g.apply(who, [row('G-F')], 'b5'),
        g.apply(who, [row('G-never', 'withdrawn')], 'b6'),
      ]
      const out = await Promise.allSettled(submitted)
      assert.deepEqual(g.stats, { commits: 1, batches: 7 })
      const ok = (i: number) => (out[i] as PromiseFulfilledResult<GroupedBatch>).value
      const err = (i: number) => (out[i] as PromiseRejectedResult).reason as Error & { code?: string }
      assert.deepEqual(out.map((o) => o.status), ['fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'rejected'])
      assert.equal(err(1).code, 'CONSENT_UNKNOWN_PURPOSE')
      assert.match(err(4).message, /injected failure/)
      assert.equal(err(6).code, 'CONSENT_NOTHING_TO_WITHDRAW')
      // Each answer as the batch applied alone, in order, would give.
      assert.deepEqual([0, 2, 3, 5].map((i) => [ok(i).firstLogIndex - start, ok(i).count, ok(i).treeSize - start]), [
        [0, 1, 1],
        [1, 2, 3],
        [3, 1, 4],
        [4, 1, 5],
      ])
      assert.deepEqual(ok(2).byState, { given: 1, refused: 1 })
      // Exactly the valid batches in the log, in order; nothing of b1, b4, b6.
      assert.equal(p.log.size(), start + 5)
      assert.deepEqual(
        [0, 1, 2, 3, 4].map((i) => entryAt(start + i)),
        [`${pseudonym('G-A')}:given`, `${pseudonym('G-C')}:given`, `${pseudonym('G-D')}:refused`, `${pseudonym('G-A')}:withdrawn`, `${pseudonym('G-F')}:given`],
      )
      assert.deepEqual(['G-A', 'G-B', 'G-C', 'G-D', 'G-E', 'G-E2', 'G-F', 'G-X'].map(currentState), ['withdrawn', undefined, 'given', 'refused', undefined, undefined, 'given', undefined])
      assert.equal(p.db.prepare('SELECT count(*) FROM consent_records WHERE log_index >= ?').pluck().get(start), 5)
      for (const s of ['G-B', 'G-E', 'G-E2']) assert.equal(p.map.get(keyOf(s)), undefined)
      assertMapConsistent()
    } finally {
      p.db.exec('DROP TRIGGER boom')
    }
  })

  it('a commit that fails leaves nothing: every batch of the group refused, log, map and their caches as the database has them', async () => {
    const g = new ConsentGroupCommit({ p, chain })
    const start = p.log.size()
    const rootBefore = p.map.root().toString('hex') // caches filled before the group
    // The one map pass fails (after every batch's log entries and rows were written): the whole group rolls back.
    p.db.exec(`CREATE TEMP TRIGGER boom BEFORE INSERT ON map_leaves WHEN NEW.key = x'${keyOf('H-2').toString('hex')}' BEGIN SELECT RAISE(ABORT, 'injected failure'); END`)
    let out: PromiseSettledResult<GroupedBatch>[]
    try {
      out = await Promise.allSettled([g.apply(who, [row('H-1')], 'h0'), g.apply(who, [row('H-2')], 'h1'), g.apply(who, [row('H-3')], 'h2')])
    } finally {
      p.db.exec('DROP TRIGGER boom')
    }
    assert.deepEqual(out.map((o) => o.status), ['rejected', 'rejected', 'rejected'])
    assert.deepEqual(g.stats, { commits: 0, batches: 0 })
    assert.equal(p.db.inTransaction, false)
    assert.equal(p.log.size(), start)
    assert.equal(p.map.root().toString('hex'), rootBefore)
    for (const s of ['H-1', 'H-2', 'H-3']) assert.equal(currentState(s), undefined)
    assertMapConsistent()
    // The same batches again: committed, and everything agrees.
    const again = await Promise.all([g.apply(who, [row('H-1')], 'h0'), g.apply(who, [row('H-2')], 'h1'), g.apply(who, [row('H-3')], 'h2')])
    assert.deepEqual(again.map((b) => b.firstLogIndex - start), [0, 1, 2])
    assert.equal(p.log.size(), start + 3)
    assert.notEqual(p.map.root().toString('hex'), rootBefore)
    assertMapConsistent()
  })

  it('POST /v1/consent from many concurrent clients: the valid requests logged and in the map, the bad ones refused alone, answers correct', async () => {
    const start = p.log.size()
    const post = async (changes: unknown[]) => {
      const r = await fetch(`${base}/v1/consent`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ changes }) })
      return { status: r.status, body: (await r.json()) as Record<string, unknown> }
    }
    const N = 32
    const bodies = Array.from({ length: N }, (_, i) => {
      if (i === 11) return [{ subject: 'K-11', purpose: 'dpv:NoSuchPurpose', action: 'grant' }]
      if (i === 23) return [{ subject: 'K-23a', purpose: P, action: 'grant' }, { subject: 'K-23b', purpose: P, action: 'withdraw' }]
      return Array.from({ length: 1 + (i % 3) }, (_, k) => ({ subject: `K-${i}-${k}`, purpose: P, action: i % 5 === 0 ? 'refuse' : 'grant' }))
    })
    const answers = await Promise.all(bodies.map(post))
    assert.equal(answers[11]!.status, 400)
    assert.equal(answers[11]!.body.code, 'CONSENT_UNKNOWN_PURPOSE')
    assert.equal(answers[23]!.status, 409)
    assert.equal(answers[23]!.body.code, 'CONSENT_NOTHING_TO_WITHDRAW')
    let logged = 0
    answers.forEach((a, i) => {
      if (i === 11 || i === 23) return
      assert.equal(a.status, 200, JSON.stringify(a.body))
      const n = bodies[i]!.length
      const state = i % 5 === 0 ? 'refused' : 'given'
      assert.deepEqual(a.body, { changes: n, unchanged: 0, byState: { [state]: n }, firstLogIndex: a.body.firstLogIndex, treeSize: (a.body.firstLogIndex as number) + n })
      // Its entries are its own changes, in its order.
      for (let k = 0; k < n; k++) assert.equal(entryAt((a.body.firstLogIndex as number) + k), `${pseudonym(`K-${i}-${k}`)}:${state}`)
      for (let k = 0; k < n; k++) assert.equal(currentState(`K-${i}-${k}`), state)
      logged += n
    })
    assert.equal(p.log.size(), start + logged)
    for (const s of ['K-11', 'K-23a', 'K-23b']) assert.equal(currentState(s), undefined)
    assertMapConsistent()
  })
})
