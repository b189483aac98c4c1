import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { controllerSecrets, eraseSubject, importDataset, pseudonymOf, unlockIdentity, type UnlockedIdentity } from '../access/index.js'
import { createMemberIdentity, initDataDir, openChain, openProvena, type ChainSession, type Provena } from '../app/index.js'
import { applyConsentChanges, type ConsentChange } from '../consent/index.js'
import { FsBlobStore } from '../store/index.js'
import { exportForPurpose, grantAccess, type ServiceContext } from './index.js'

const P = 'dpv:ScientificResearch'

describe("exportForPurpose applies the subjects' consent for the purpose, now (issue 12, attack 3)", () => {
  const dir = mkdtempSync(join(tmpdir(), 'provena-export-consent-'))
  const work = mkdtempSync(join(tmpdir(), 'provena-export-consent-files-'))
  let p: Provena
  let chain: ChainSession
  let ctx: ServiceContext
  let controller: UnlockedIdentity
  let lab: UnlockedIdentity
  let dataset = ''
  // 40 subjects, two records each (80 rows): S-0..S-35 consent; S-36 refused; S-37 gave
  // then withdrew; S-38 gave with an expiry now past; S-39 never said anything.
  // S-35 consents but is then erased.
  const subjects = Array.from({ length: 40 }, (_, i) => `S-${i}`)
  const rows = subjects.flatMap((s, i) => [`${s},${i},a`, `${s},${i + 100},b`])
  const unlockController = () => controller

  before(async () => {
    initDataDir(dir, 'pw')
    p = openProvena(dir, { passphrase: 'pw' })
    chain = await openChain(p)
    await createMemberIdentity(p, chain, 'st-mary', 'controller', 'pw')
    await createMemberIdentity(p, chain, 'lab', 'trainer', 'pw')
    controller = unlockIdentity(dir, 'st-mary', 'pw')
    lab = unlockIdentity(dir, 'lab', 'pw')
    const plane = { db: p.db, log: p.log, signer: p.signer, operatorDid: p.operatorDid, outbox: chain.outbox, store: new FsBlobStore(join(dir, 'blobs')) }
    ctx = { p, chain, plane }
    const file = join(work, 'data.csv')
    writeFileSync(file, `id,x,note\n${rows.join('\n')}\n`)
    dataset = (await importDataset(plane, file, { subjectColumn: 'id', controller })).id
    await grantAccess({ p, chain }, { dataset, grantee: lab, purpose: P, expiresAt: 0, as: controller })

    const key = controllerSecrets(controller).pseudonymKey
    const change = (s: string, state: ConsentChange['state'], expires?: string): ConsentChange => ({ pseudonym: pseudonymOf(key, s), subjectId: s, purpose: P, state, expires })
    const consentCtx = { db: p.db, log: p.log, map: p.map, ownPurposes: p.config.purposes }
    // S-38's consent is given at t0 with an expiry one minute later; the checks run now, past it.
    const t0 = Date.now() - 3_600_000
    applyConsentChanges(consentCtx, controller.did, [change('S-38', 'given', new Date(t0 + 60_000).toISOString())], { now: t0 })
    applyConsentChanges(consentCtx, controller.did, [...subjects.slice(0, 36).map((s) => change(s, 'given')), change('S-36', 'refused'), change('S-37', 'given')])
    applyConsentChanges(consentCtx, controller.did, [change('S-37', 'withdrawn')])
    eraseSubject(plane, 'S-35', controller)
  })
  after(async () => {
    await chain.close()
    p.close()
  })

  const lastExportEvent = () => {
    for (let i = p.log.size() - 1; ; i--) {
      const event = JSON.parse(p.log.entry(i).leaf.toString('utf8')) as Record<string, unknown>
      if (event.type === 'provena.access.export/v1') return event
    }
  }

  for (const [path, parallelFrom] of [
    ['single-threaded', undefined],
    ['worker threads', 1],
  ] as const) {
    it(`${path}: a lab granted ${P} gets only the consenting subjects' records; the log entry counts the others by reason`, async () => {
      const out = join(work, `lab-${path}.csv`)
      const r = await exportForPurpose(ctx, { dataset, as: lab, purpose: P, out, unlockController, parallelFrom })
      const expected = { erased: 2, refused: 2, withdrawn: 2, expired: 2, 'no-consent': 2 }
      assert.deepEqual([r.records, r.excluded, r.erased], [70, expected, 2])
      // The file: 70 rows of 35 pseudonyms, each the pseudonym of a consenting subject.
      const lines = readFileSync(out, 'utf8').trim().split('\n').slice(1)
      assert.equal(lines.length, 70)
      const key = controllerSecrets(controller).pseudonymKey
      const allowed = new Map(subjects.slice(0, 35).map((s, i) => [pseudonymOf(key, s), i]))
      const seen = new Set(lines.map((l) => l.split(',')[0]!))
      assert.equal(seen.size, 35)
      for (const l of lines) {
        const [pseudonym, x, note] = l.split(',')
        const i = allowed.get(pseudonym!)
        assert.ok(i !== undefined, `a record of a subject without consent was exported: ${l}`)
        // Decrypted, and it is that subject's own record.
        assert.ok((x === String(i) && note === 'a') || (x === String(i + 100) && note === 'b'), l)
      }
      const event = lastExportEvent()
      assert.deepEqual(
        [event.type, event.actor, event.purpose, event.records, event.erased, event.excluded, event.outcome],
        ['provena.access.export/v1', lab.did, P, 70, 2, expected, 'granted'],
      )
    })
  }

  it('the controller naming the purpose gets the same records; without a purpose, its own copy of every subject not erased', async () => {
    const withPurpose = await exportForPurpose(ctx, { dataset, as: controller, purpose: P, out: join(work, 'own-p.csv'), unlockController })
    assert.equal(withPurpose.records, 70)
    const backup = await exportForPurpose(ctx, { dataset, as: controller, purpose: null, out: join(work, 'own.csv'), unlockController })
    assert.deepEqual([backup.records, backup.excluded], [78, { erased: 2 }])
    const text = readFileSync(join(work, 'own.csv'), 'utf8')
    for (const s of ['S-36', 'S-37', 'S-38', 'S-39']) assert.ok(text.includes(`\n${s},`), `${s} is in the controller's own copy`)
    assert.equal(text.includes('\nS-35,'), false)
    const event = lastExportEvent()
    assert.deepEqual([event.purpose, event.records, event.excluded], [null, 78, { erased: 2 }])
  })

  it('a grantee without a purpose is refused, and the refusal is logged', async () => {
    await assert.rejects(exportForPurpose(ctx, { dataset, as: lab, purpose: null, out: join(work, 'nope.csv'), unlockController }), { code: 'ACCESS_PURPOSE_REQUIRED' })
    assert.equal(lastExportEvent().outcome, 'refused: no purpose')
  })
})
