import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import {
  claimDataset,
  controllerSecrets,
  exportDataset,
  importDataset,
  openKeyRelease,
  pseudonymOf,
  segmentsFromDir,
  segmentsFromStore,
  unlockIdentity,
  type UnlockedIdentity,
} from '../access/index.js'
import { anchorNow, createMemberIdentity, initDataDir, openChain, openProvena, type ChainSession, type Provena } from '../app/index.js'
import { subjectReport } from '../audit/index.js'
import { applyConsentChanges, type ConsentChange } from '../consent/index.js'
import { didKeyFromEd25519, generateEd25519, type DsseEnvelope } from '../crypto/index.js'
import { signMessage } from '../node/index.js'
import { FsBlobStore } from '../store/index.js'
import { exportForPurpose, exportReleased, grantAccess, releaseAccess, requestAccess, revokeAccess, type ServiceContext } from './index.js'

const P = 'dpv:ScientificResearch'

describe('key release: request → release → export, keys sealed to the requester (issue 12, attack 1)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'provena-release-'))
  const work = mkdtempSync(join(tmpdir(), 'provena-release-files-'))
  let p: Provena
  let chain: ChainSession
  let ctx: ServiceContext
  let hospital: UnlockedIdentity
  let lab: UnlockedIdentity
  let lab2: UnlockedIdentity
  let dataset = ''
  // 30 subjects, one record each: S-0..S-26 consent, S-27 refused, S-28 withdrew, S-29 never said.
  const subjects = Array.from({ length: 30 }, (_, i) => `S-${i}`)

  before(async () => {
    initDataDir(dir, 'pw')
    p = openProvena(dir, { passphrase: 'pw' })
    chain = await openChain(p)
    await createMemberIdentity(p, chain, 'st-mary', 'controller', 'pw')
    await createMemberIdentity(p, chain, 'lab', 'trainer', 'pw')
    await createMemberIdentity(p, chain, 'lab2', 'trainer', 'pw')
    hospital = unlockIdentity(dir, 'st-mary', 'pw')
    lab = unlockIdentity(dir, 'lab', 'pw')
    lab2 = unlockIdentity(dir, 'lab2', 'pw')
    const plane = { db: p.db, log: p.log, signer: p.signer, operatorDid: p.operatorDid, outbox: chain.outbox, store: new FsBlobStore(join(dir, 'blobs')) }
    ctx = { p, chain, plane }
    const file = join(work, 'data.csv')
    writeFileSync(file, `id,x\n${subjects.map((s, i) => `${s},${i}`).join('\n')}\n`)
    dataset = (await importDataset(plane, file, { subjectColumn: 'id', controller: hospital })).id
    await claimDataset(chain.outbox, dataset, hospital.address)
    const key = controllerSecrets(hospital).pseudonymKey
    const change = (s: string, state: ConsentChange['state']): ConsentChange => ({ pseudonym: pseudonymOf(key, s), subjectId: s, purpose: P, state })
    const consentCtx = { db: p.db, log: p.log, map: p.map, ownPurposes: p.config.purposes }
    applyConsentChanges(consentCtx, hospital.did, [...subjects.slice(0, 27).map((s) => change(s, 'given')), change('S-27', 'refused'), change('S-28', 'given')])
    applyConsentChanges(consentCtx, hospital.did, [change('S-28', 'withdrawn')])
  })
  after(async () => {
    await chain.close()
    p.close()
  })

  const events = (type: string) => {
    const out: Record<string, unknown>[] = []
    for (let i = 0; i < p.log.size(); i++) {
      const e = JSON.parse(p.log.entry(i).leaf.toString('utf8')) as Record<string, unknown>
      if (e.type === type) out.push(e)
    }
    return out
  }
  const lastRelease = () => events('provena.access.released/v1').at(-1)!
  const refusedWith = async (request: unknown, code: string, message?: RegExp, as = hospital) => {
    const before = events('provena.access.released/v1').length
    await assert.rejects(releaseAccess(ctx, { request, as }), (e: { code?: string; message?: string }) => e.code === code && (!message || message.test(e.message ?? '')))
    assert.equal(events('provena.access.released/v1').length, before + 1, `${code}: the refusal is logged`)
    assert.equal(lastRelease().outcome, `refused: ${code}`)
    assert.equal(lastRelease().release, null)
    // What an unverified request claims is marked as such in the log.
    assert.equal(lastRelease().verified, !code.startsWith('MESSAGE_'), `${code}: verified flag`)
  }

  it('without a grant on-chain the release is refused and logged; nothing is released', async () => {
    const { request } = await requestAccess(ctx, { dataset, purpose: P, as: lab })
    await refusedWith(request, 'ACCESS_DENIED', /AccessPolicy does not allow lab/)
  })

  it('granted: the lab opens the release with its own X25519 key, fetches segments by CID, gets only the consenting subjects (pseudonyms)', async () => {
    await grantAccess({ p, chain }, { dataset, grantee: lab, purpose: P, expiresAt: 0, as: hospital })
    // The request names the dataset by id and the controller from the chain (no --to).
    const req = await requestAccess(ctx, { dataset, purpose: P, as: lab })
    assert.equal(req.to, hospital.did)
    const payload = JSON.parse(Buffer.from(req.request.payload, 'base64').toString()) as Record<string, unknown>
    assert.deepEqual(Object.keys(payload).sort(), ['_type', 'dataset', 'expiresAt', 'from', 'issuedAt', 'nonce', 'purpose', 'to'], 'a request carries no key')
    const segmentsDir = join(work, 'segments')
    const rel = await releaseAccess(ctx, { request: req.request, as: hospital, segmentsOut: segmentsDir })
    assert.deepEqual([rel.records, rel.excluded], [27, { refused: 1, withdrawn: 1, 'no-consent': 1 }])
    assert.deepEqual(readdirSync(segmentsDir).sort(), [...rel.body.segments].sort())
    assert.deepEqual([lastRelease().outcome, lastRelease().release, lastRelease().requester, lastRelease().records], ['released', rel.digest, lab.did, 27])
    // Named for another purpose than the release's: refused, and the release is not spent.
    await assert.rejects(exportReleased(ctx, { release: rel.release, as: lab, segments: segmentsFromDir(segmentsDir), out: join(work, 'mkt.csv'), purpose: 'dpv:Marketing' }), { code: 'MESSAGE_WRONG_PURPOSE' })
    assert.equal(events('provena.access.export/v1').at(-1)!.outcome, 'refused: MESSAGE_WRONG_PURPOSE')
    // Another identity cannot open it: addressed to lab, sealed to lab's key.
    await assert.rejects(exportReleased(ctx, { release: rel.release, as: lab2, segments: segmentsFromDir(segmentsDir), out: join(work, 'lab2.csv') }), { code: 'MESSAGE_WRONG_RECIPIENT' })
    const out = join(work, 'lab.csv')
    const r = await exportReleased(ctx, { release: rel.release, as: lab, segments: segmentsFromDir(segmentsDir), out })
    assert.deepEqual([r.records, r.purpose, r.excluded], [27, P, { refused: 1, withdrawn: 1, 'no-consent': 1 }])
    const key = controllerSecrets(hospital).pseudonymKey
    const rows = readFileSync(out, 'utf8').trim().split('\n')
    assert.equal(rows[0], 'id,x')
    assert.deepEqual(rows.slice(1), subjects.slice(0, 27).map((s, i) => `${pseudonymOf(key, s)},${i}`))
    const exported = events('provena.access.export/v1').at(-1)!
    assert.deepEqual([exported.actor, exported.outcome, exported.records, exported.release], [lab.did, 'granted', 27, rel.digest])
    // The release is used once.
    await assert.rejects(exportReleased(ctx, { release: rel.release, as: lab, segments: segmentsFromDir(segmentsDir), out: join(work, 'again.csv') }), { code: 'MESSAGE_REPLAYED' })
    // The subject's report on the controller's node lists the release among the uses of their records.
    const anchored = await anchorNow(p, chain)
    const report = subjectReport({ db: p.db, log: p.log, map: p.map, ownPurposes: p.config.purposes }, pseudonymOf(key, 'S-1'), { treeSize: anchored.anchoredSize, rootHash: anchored.anchoredRoot })
    assert.ok(report.exports.some((e) => e.outcome === 'released' && e.actor === lab.did && e.purpose === P && e.dataset === dataset))
  })

  it('refuses, and logs: a replayed request, an expired one, one to another identity, one from a stranger, a forged one', async () => {
    const req = await requestAccess(ctx, { dataset, purpose: P, as: lab })
    await releaseAccess(ctx, { request: req.request, as: hospital })
    await refusedWith(req.request, 'MESSAGE_REPLAYED', /replayed nonce/)
    const old = await requestAccess(ctx, { dataset, purpose: P, as: lab, ttlMs: 60_000, now: Date.now() - 120_000 })
    await refusedWith(old.request, 'MESSAGE_EXPIRED', /expired/)
    // Addressed to lab2 (an identity of this node, not the controller), released as st-mary.
    const misaddressed = await requestAccess(ctx, { dataset, purpose: P, as: lab, to: lab2.did })
    await refusedWith(misaddressed.request, 'MESSAGE_WRONG_RECIPIENT', /wrong recipient/)
    // Released by lab2 (it is addressed to it), which is not the dataset's controller.
    await refusedWith(misaddressed.request, 'ACCESS_NOT_CONTROLLER', /not the controller/, lab2)
    const signing = generateEd25519()
    const stranger = { did: didKeyFromEd25519(signing.publicKeyBytes), signing }
    const fromStranger = signMessage(stranger, { _type: 'provena.access.request/v1', to: hospital.did, purpose: P, body: { dataset } }, { ttlMs: 60_000 }).envelope
    await refusedWith(fromStranger, 'MESSAGE_NOT_MEMBER', /not a member/)
    const fresh = (await requestAccess(ctx, { dataset, purpose: P, as: lab })).request
    const forged: DsseEnvelope = { ...fresh, payload: Buffer.from(Buffer.from(fresh.payload, 'base64').toString().replace(P, 'dpv:Marketing')).toString('base64') }
    await refusedWith(forged, 'MESSAGE_BAD_SIGNATURE', /bad signature/)
  })

  it('a grant past its expiry is refused although no block was mined since (the latest block is older than the expiry)', async () => {
    // Attack: the contract's isAllowed compares the expiry with its latest block's time;
    // the embedded chain mines only when written to, so an expired grant still said yes.
    const expiresAt = Math.floor(Date.now() / 1000) + 4
    await grantAccess({ p, chain }, { dataset, grantee: lab2, purpose: P, expiresAt, as: hospital })
    const { request } = await requestAccess(ctx, { dataset, purpose: P, as: lab2 })
    await new Promise((r) => setTimeout(r, expiresAt * 1000 - Date.now() + 1500))
    await refusedWith(request, 'ACCESS_DENIED', /AccessPolicy does not allow lab2/)
  })

  it('revoked: the next request is refused and logged', async () => {
    await revokeAccess({ p, chain }, { dataset, grantee: lab, purpose: P, as: hospital })
    await refusedWith((await requestAccess(ctx, { dataset, purpose: P, as: lab })).request, 'ACCESS_DENIED')
    await grantAccess({ p, chain }, { dataset, grantee: lab, purpose: P, expiresAt: 0, as: hospital })
  })

  it('the lab takes only a release answering its own request, signed by the on-chain owner; a wrong segment is named', async () => {
    const req = await requestAccess(ctx, { dataset, purpose: P, as: lab })
    const rel = await releaseAccess(ctx, { request: req.request, as: hospital })
    // Forget the request: the release answers no request of this node.
    p.db.prepare('UPDATE access_requests SET digest = ? WHERE nonce = ?').run('00'.repeat(32), req.nonce)
    await assert.rejects(exportReleased(ctx, { release: rel.release, as: lab, segments: segmentsFromStore(ctx.plane.store), out: join(work, 'x.csv') }), { code: 'ACCESS_NOT_REQUESTED' })
    p.db.prepare('UPDATE access_requests SET digest = ? WHERE nonce = ?').run(req.digest, req.nonce)
    // A segment directory holding other bytes under a segment's CID.
    const bad = mkdtempSync(join(work, 'bad-'))
    const cid = rel.body.segments[0]!
    writeFileSync(join(bad, cid), 'not the segment')
    const out = join(work, 'bad.csv')
    await assert.rejects(exportReleased(ctx, { release: rel.release, as: lab, segments: segmentsFromDir(bad), out }), { code: 'ACCESS_SEGMENT_ALTERED', message: new RegExp(`segment ${cid} .* does not hash to its CID`) })
    assert.equal(existsSync(out), false)
    assert.equal(events('provena.access.export/v1').at(-1)!.outcome, 'failed: ACCESS_SEGMENT_ALTERED')
    // The export failed, so the release was not spent: with the right segments it goes through.
    assert.equal((await exportReleased(ctx, { release: rel.release, as: lab, segments: segmentsFromStore(ctx.plane.store), out })).records, 27)
  })

  it("the sealed keys are bound to the dataset, the requester, the request nonce and the pseudonyms' order (HPKE additional data)", async () => {
    const req = await requestAccess(ctx, { dataset, purpose: P, as: lab })
    const { body } = await releaseAccess(ctx, { request: req.request, as: hospital })
    assert.equal(openKeyRelease(body, lab).keys.length, body.pseudonyms.length)
    const swapped = [body.pseudonyms[1]!, body.pseudonyms[0]!, ...body.pseudonyms.slice(2)]
    for (const [what, changed, who] of [
      ['another requester', body, lab2],
      ['another request nonce', { ...body, requestNonce: 'ab'.repeat(32) }, lab],
      ['another dataset', { ...body, dataset: 'cd'.repeat(32) }, lab],
      ['the pseudonyms reordered', { ...body, pseudonyms: swapped }, lab],
    ] as const) {
      assert.throws(() => openKeyRelease(changed, who), { code: 'CRYPTO_DECRYPT_FAILED' }, what)
    }
  })

  it('the data plane exports only for the controller: a grantee, even of the same node, goes through a release (attack 1)', async () => {
    await assert.rejects(exportDataset(ctx.plane, dataset, { as: lab, purpose: P, out: join(work, 'direct.csv'), isAllowed: async () => true }), { code: 'ACCESS_NOT_CONTROLLER' })
    const before = { requested: events('provena.access.requested/v1').length, released: events('provena.access.released/v1').length }
    const r = await exportForPurpose(ctx, { dataset, as: lab, purpose: P, out: join(work, 'same-node.csv'), unlockController: () => hospital })
    assert.equal(r.records, 27)
    assert.deepEqual([events('provena.access.requested/v1').length, events('provena.access.released/v1').length], [before.requested + 1, before.released + 1])
    assert.equal(lastRelease().outcome, 'released')
  })
  it('a release taken before a revocation is not used after it on the grantee\'s node; granted again, it is (the release is not spent)', async () => {
    await grantAccess({ p, chain }, { dataset, grantee: lab2, purpose: P, expiresAt: 0, as: hospital })
    const { request } = await requestAccess(ctx, { dataset, purpose: P, as: lab2 })
    const segmentsDir = join(work, 'segments-revoked')
    const rel = await releaseAccess(ctx, { request, as: hospital, segmentsOut: segmentsDir })
    await revokeAccess({ p, chain }, { dataset, grantee: lab2, purpose: P, as: hospital })
    await assert.rejects(exportReleased(ctx, { release: rel.release, as: lab2, segments: segmentsFromDir(segmentsDir), out: join(work, 'revoked.csv') }), { code: 'ACCESS_DENIED' })
    assert.equal(events('provena.access.export/v1').at(-1)!.outcome, 'refused: ACCESS_DENIED')
    assert.equal(existsSync(join(work, 'revoked.csv')), false)
    await grantAccess({ p, chain }, { dataset, grantee: lab2, purpose: P, expiresAt: 0, as: hospital })
    assert.equal((await exportReleased(ctx, { release: rel.release, as: lab2, segments: segmentsFromDir(segmentsDir), out: join(work, 'regranted.csv') })).records, 27)
  })
})
