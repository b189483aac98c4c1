import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { canonicalJson, canonicalJsonBytes, didKeyFromEd25519, generateEd25519, sha256, sha256Hex, signEd25519 } from '../crypto/index.js'
import { openDatabase } from '../db/index.js'
import { CompactRange, SqliteLog, StoredMap, verifyMapProof } from '../log/index.js'
import {
  applyConsentChanges,
  applyConsentChangesListed,
  buildManifest,
  CONSENT_RECORD_TYPE_V1,
  consentKey,
  expandConsentRecords,
  MANIFEST_TYPE,
  MANIFEST_TYPE_V1,
  recordJson,
  type CompactConsentRecord,
  type ConsentRecord,
  readConsentFile,
  statementBytes,
  verifyManifest,
  type ConsentContext,
  type GateDataset,
  type TrainingManifest,
} from './index.js'

const CONTROLLER = 'did:key:z6MkController'
const P = 'dpv:ScientificResearch'
const pseudo = (i: number) => sha256(Buffer.from(`subject ${i}`)).toString('hex')

function context(): ConsentContext {
  const db = openDatabase(join(mkdtempSync(join(tmpdir(), 'provena-consent-')), 'db.sqlite'))
  return { db, log: new SqliteLog(db), map: new StoredMap(db), ownPurposes: { 'train-sepsis': { dpv: 'dpv:ResearchAndDevelopment' } } }
}
const writeTemp = (name: string, text: string) => {
  const f = join(mkdtempSync(join(tmpdir(), 'provena-consent-file-')), name)
  writeFileSync(f, text)
  return f
}

function dataset(n: number, subjects: (string | null)[]): GateDataset {
  const commitments = Buffer.concat(Array.from({ length: n }, (_, i) => sha256(Buffer.from(`record ${i}`))))
  const r = new CompactRange()
  for (let i = 0; i < n; i++) r.appendLeafHash(commitments.subarray(32 * i, 32 * i + 32))
  return { id: 'd'.repeat(64), root: r.root().toString('hex'), controller: CONTROLLER, commitments, subjects }
}
const anchoredOf = (ctx: ConsentContext) => ({ index: 0, treeSize: ctx.log.size(), rootHash: ctx.log.rootAt(), mapRoot: ctx.map.root(), chainId: 31337, checkpointAnchor: '0xa', assetRegistry: '0xb' })
const facts = (m: TrainingManifest) => ({ checkpoint: { treeSize: m.checkpoint.treeSize, rootHash: Buffer.from(m.checkpoint.rootHash, 'hex'), mapRoot: Buffer.from(m.checkpoint.mapRoot, 'hex') }, datasetRoot: Buffer.from(m.dataset.root, 'hex') })

describe('consent records and the consent map', () => {
  it('a change is a log entry and a map value; the map proves it; withdrawal supersedes', () => {
    const ctx = context()
    const [given] = applyConsentChangesListed(ctx, CONTROLLER, [{ pseudonym: pseudo(1), purpose: P, state: 'given', expires: '2099-01-01T00:00:00Z' }])
    assert.equal(given!.record.evidence.type, 'controller-attestation')
    assert.equal(given!.record.supersedes, null)
    assert.equal(sha256(ctx.log.entry(given!.logIndex).leaf).toString('hex'), given!.hash, 'the map value is the hash of the logged bytes')
    const key = consentKey(pseudo(1), P)
    assert.equal(ctx.map.prove(key).value, given!.hash)
    const [withdrawn] = applyConsentChangesListed(ctx, CONTROLLER, [{ pseudonym: pseudo(1), purpose: P, state: 'withdrawn' }])
    assert.equal(withdrawn!.record.supersedes, given!.hash)
    const proof = ctx.map.prove(key)
    assert.equal(proof.value, withdrawn!.hash)
    assert.ok(verifyMapProof(ctx.map.root(), proof))
    // Absent keys are proven absent.
    const none = ctx.map.prove(consentKey(pseudo(2), P))
    assert.equal(none.value, null)
    assert.ok(verifyMapProof(ctx.map.root(), none))
  })

  it('bad changes are refused before anything is written', () => {
    const ctx = context()
    const before = [ctx.log.size(), ctx.map.root().toString('hex')]
    const ok = { pseudonym: pseudo(1), purpose: P, state: 'given' as const }
    assert.throws(() => applyConsentChanges(ctx, CONTROLLER, [ok, { ...ok, purpose: 'dpv:Astrology' }]), { code: 'CONSENT_UNKNOWN_PURPOSE' })
    assert.throws(() => applyConsentChanges(ctx, CONTROLLER, [{ ...ok, expires: '2001-01-01T00:00:00Z' }]), { code: 'CONSENT_EXPIRY_IN_PAST' })
    assert.throws(() => applyConsentChanges(ctx, CONTROLLER, [ok, { ...ok, state: 'refused' }]), { code: 'CONSENT_CONFLICT' })
    assert.throws(() => applyConsentChanges(ctx, CONTROLLER, [{ ...ok, state: 'withdrawn' }]), { code: 'CONSENT_NOTHING_TO_WITHDRAW' })
    assert.deepEqual([ctx.log.size(), ctx.map.root().toString('hex')], before)
    // An own purpose declared in the config is accepted, with its DPV concept.
    const [own] = applyConsentChangesListed(ctx, CONTROLLER, [{ ...ok, purpose: 'train-sepsis' }])
    assert.deepEqual(own!.record.purpose, { id: 'train-sepsis', dpv: 'dpv:ResearchAndDevelopment' })
  })

  it('the same changes applied again (a rerun after a failure) log nothing: only real changes are recorded', () => {
    const ctx = context()
    const batch = [
      { pseudonym: pseudo(1), purpose: P, state: 'given' as const, expires: '2099-01-01T00:00:00Z' },
      { pseudonym: pseudo(2), purpose: P, state: 'refused' as const },
      { pseudonym: pseudo(3), purpose: P, state: 'given' as const },
    ]
    assert.equal(applyConsentChanges(ctx, CONTROLLER, batch).count, 3)
    const [size, root] = [ctx.log.size(), ctx.map.root().toString('hex')]
    const again = applyConsentChanges(ctx, CONTROLLER, batch)
    assert.deepEqual([again.count, again.unchanged], [0, 3])
    assert.deepEqual([ctx.log.size(), ctx.map.root().toString('hex')], [size, root], 'nothing logged twice')
    // What differs is a change: another expiry, another dataset, a withdrawal.
    const changed = applyConsentChanges(ctx, CONTROLLER, [
      { ...batch[0]!, expires: '2098-01-01T00:00:00Z' },
      { ...batch[2]!, dataset: 'e'.repeat(64) },
      { pseudonym: pseudo(1), purpose: 'train-sepsis', state: 'given' },
    ])
    assert.deepEqual([changed.count, changed.unchanged], [3, 0])
    const w = { pseudonym: pseudo(3), purpose: P, state: 'withdrawn' as const, dataset: 'e'.repeat(64) }
    assert.equal(applyConsentChanges(ctx, CONTROLLER, [w]).count, 1)
    assert.deepEqual(applyConsentChanges(ctx, CONTROLLER, [w]).unchanged, 1, 'withdrawing again is not an error, and not logged')
  })

  it("a subject's signature is checked, and an older statement cannot be replayed", () => {
    const ctx = context()
    const subject = generateEd25519()
    const signer = didKeyFromEd25519(subject.publicKeyBytes)
    const sign = (state: 'given' | 'withdrawn', issued: string) => ({
      signer,
      issued,
      signature: signEd25519(subject.privateKey, statementBytes({ controller: CONTROLLER, purpose: P, state, expires: null, dataset: null, issued })).toString('base64'),
    })
    const t1 = new Date(Date.now() - 60_000).toISOString()
    const t2 = new Date(Date.now() - 30_000).toISOString()
    const [r] = applyConsentChangesListed(ctx, CONTROLLER, [{ pseudonym: pseudo(1), purpose: P, state: 'given', signature: sign('given', t1) }])
    assert.equal(r!.record.evidence.type, 'subject-signature')
    // Signed for "given" but presented as a withdrawal: the signature does not verify.
    assert.throws(() => applyConsentChanges(ctx, CONTROLLER, [{ pseudonym: pseudo(1), purpose: P, state: 'withdrawn', signature: sign('given', t2) }]), { code: 'CONSENT_BAD_SIGNATURE' })
    applyConsentChanges(ctx, CONTROLLER, [{ pseudonym: pseudo(1), purpose: P, state: 'withdrawn', signature: sign('withdrawn', t2) }])
    // Replaying the first "given" statement after the withdrawal is refused.
    assert.throws(() => applyConsentChanges(ctx, CONTROLLER, [{ pseudonym: pseudo(1), purpose: P, state: 'given', signature: sign('given', t1) }]), /not newer/)
  })

  it('bulk files: a malformed line is named, a duplicate subject and purpose is a conflict', () => {
    const good = writeTemp('c.csv', `subject,purpose,action,expires\nS1,${P},grant,2099-01-01T00:00:00Z\nS2,${P},refuse,\n`)
    assert.deepEqual(
      readConsentFile(good).map((c) => [c.line, c.subjectId, c.state, c.expires]),
      [
        [2, 'S1', 'given', '2099-01-01T00:00:00Z'],
        [3, 'S2', 'refused', null],
      ],
    )
    const jsonl = writeTemp('c.jsonl', `{"subject":"S1","purpose":"${P}","action":"grant"}\n{"subject":"S2","purpose":"${P}","action":"maybe"}\n`)
    assert.throws(() => readConsentFile(jsonl), (e: Error & { code: string }) => e.code === 'CONSENT_BAD_LINE' && /c\.jsonl:2: action: "maybe"/.test(e.message))
    assert.throws(() => readConsentFile(writeTemp('x.csv', `subject,purpose\nS1,${P}\n`)), /x\.csv:1: action: the header has no "action" column/)
    // User-given keys never reach Object.prototype (issue 12): each is an unknown action, named by file:line.
    for (const action of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf']) {
      assert.throws(() => readConsentFile(writeTemp('p.csv', `subject,purpose,action\nS1,${P},grant\nS2,${P},${action}\n`)), { code: 'CONSENT_BAD_LINE', message: new RegExp(`p\\.csv:3: action: "${action}" is not grant, withdraw or refuse`) })
      assert.throws(() => readConsentFile(writeTemp('p.jsonl', `{"subject":"S1","purpose":"${P}","action":"${action}"}\n`)), { code: 'CONSENT_BAD_LINE', message: new RegExp(`p\\.jsonl:1: action: "${action}" is not`) })
    }
    assert.throws(() => readConsentFile(writeTemp('y.csv', `subject,purpose,action\nS1,${P},grant,extra\n`)), /y\.csv:2: 4 fields, the header has 3/)
    const ctx = context()
    const dup = readConsentFile(writeTemp('d.csv', `subject,purpose,action\nS1,${P},grant\nS1,${P},refuse\n`))
    assert.throws(
      () => applyConsentChanges(ctx, CONTROLLER, dup.map((c) => ({ pseudonym: pseudo(1), subjectId: c.subjectId, purpose: c.purpose, state: c.state, where: `d.csv:${c.line}` }))),
      (e: Error & { code: string }) => e.code === 'CONSENT_CONFLICT' && /d\.csv:3/.test(e.message) && /d\.csv:2/.test(e.message),
    )
    assert.equal(ctx.log.size(), 0)
  })
})

describe('the training gate and its manifest', () => {
  function scenario() {
    const ctx = context()
    // The records are given "now": the gate's instant is a second after the last of them,
    // taken here and not when the file loads (a busy machine may start the test later).
    const until = new Date(Date.now() + 120_000).toISOString()
    applyConsentChanges(ctx, CONTROLLER, [
      { pseudonym: pseudo(0), purpose: P, state: 'given' },
      { pseudonym: pseudo(1), purpose: P, state: 'given', expires: until },
      { pseudonym: pseudo(2), purpose: P, state: 'refused' },
      { pseudonym: pseudo(3), purpose: P, state: 'given' },
      { pseudonym: pseudo(4), purpose: 'dpv:Marketing', state: 'given' },
      { pseudonym: pseudo(5), purpose: P, state: 'given', dataset: 'e'.repeat(64) },
    ])
    applyConsentChanges(ctx, CONTROLLER, [{ pseudonym: pseudo(3), purpose: P, state: 'withdrawn' }])
    // Records 0..7: subject 0 twice, 6 is erased, 7 has no consent at all.
    const ds = dataset(8, [pseudo(0), pseudo(1), pseudo(2), pseudo(3), pseudo(4), pseudo(5), null, pseudo(0)])
    return { ctx, ds, until, at: Date.now() + 1000 }
  }

  it('includes exactly the records whose consent holds, with a reason for every other; the manifest verifies', () => {
    const { ctx, ds, at } = scenario()
    const { manifest } = buildManifest(ctx, ds, P, at, anchoredOf(ctx))
    assert.deepEqual(manifest.included.map((r) => r.index), [0, 1, 7])
    assert.deepEqual(
      manifest.excluded.map((r) => [r.index, r.reason]),
      [
        [2, 'refused'],
        [3, 'withdrawn'],
        [4, 'no-consent'],
        [5, 'other-dataset'],
        [6, 'erased'],
      ],
    )
    const report = verifyManifest(manifest, facts(manifest))
    assert.deepEqual(report.problems, [])
  })

  it('expiry: valid up to the instant before validUntil, expired at it', () => {
    const { ctx, ds, until } = scenario()
    const t = Date.parse(until)
    const before = buildManifest(ctx, ds, P, t - 1, anchoredOf(ctx)).manifest
    const atExpiry = buildManifest(ctx, ds, P, t, anchoredOf(ctx)).manifest
    assert.ok(before.included.some((r) => r.index === 1))
    assert.deepEqual(atExpiry.excluded.find((r) => r.index === 1)?.reason, 'expired')
    assert.ok(verifyManifest(atExpiry, facts(atExpiry)).ok)
  })

  it('every kind of edit is caught: a moved record, a changed reason, a changed time, a foreign checkpoint', () => {
    const { ctx, ds, at } = scenario()
    const { manifest } = buildManifest(ctx, ds, P, at, anchoredOf(ctx))
    const copy = () => JSON.parse(JSON.stringify(manifest)) as TrainingManifest
    // Move the withdrawn record into the included list.
    const a = copy()
    const w = a.excluded.splice(1, 1)[0]!
    a.included.push({ index: w.index, commitment: w.commitment, subject: w.subject!, consent: w.consent! })
    assert.match(verifyManifest(a, facts(a)).problems.join('\n'), /record 3 is included but its consent is withdrawn/)
    // Claim a valid record was refused.
    const b = copy()
    const i = b.included.pop()!
    b.excluded.push({ index: i.index, commitment: i.commitment, reason: 'refused', subject: i.subject, consent: i.consent })
    assert.match(verifyManifest(b, facts(b)).problems.join('\n'), /record 7 is excluded as refused, but its consent is valid/)
    // A record's commitment changed: the dataset root no longer matches.
    const c = copy()
    c.included[0]!.commitment = 'f'.repeat(64)
    assert.match(verifyManifest(c, facts(c)).problems.join('\n'), /commitments give root/)
    // The chain has no such checkpoint, or another map root.
    assert.match(verifyManifest(manifest, { ...facts(manifest), checkpoint: undefined }).problems.join('\n'), /not anchored/)
    const other = { ...facts(manifest), checkpoint: { ...facts(manifest).checkpoint, mapRoot: Buffer.alloc(32, 1) } }
    assert.match(verifyManifest(manifest, other).problems.join('\n'), /consent map root anchored at checkpoint 0 is/)
  })

  it('states shared record fields once (v2); a v1 manifest with every record in full still verifies', () => {
    const { ctx, ds, at } = scenario()
    const { manifest, bytes } = buildManifest(ctx, ds, P, at, anchoredOf(ctx))
    assert.equal(manifest.type, MANIFEST_TYPE)
    // One controller, one purpose: one set of shared fields, however many records.
    assert.equal(manifest.consentShared?.length, 1)
    assert.equal(manifest.consentShared![0]!.controller, CONTROLLER)
    for (const r of Object.values(manifest.consentRecords)) {
      assert.equal((r as CompactConsentRecord).shared, 0)
      assert.equal('withdrawalMethod' in r || 'controller' in r || 'purpose' in r, false)
    }
    // The same manifest with its records in full, as v1 wrote them: verifies, and is larger.
    const { records, problems } = expandConsentRecords(manifest)
    assert.deepEqual(problems, [])
    const v1 = { ...manifest, type: MANIFEST_TYPE_V1, consentShared: undefined, consentRecords: Object.fromEntries(records) } as unknown as TrainingManifest
    delete (v1 as Partial<TrainingManifest>).consentShared
    assert.deepEqual(verifyManifest(v1, facts(v1)).problems, [])
    assert.ok(canonicalJsonBytes(v1).length > bytes.length)
    // Every record rebuilt is the logged one (its hash is its name).
    for (const [h, r] of records) assert.equal(sha256Hex(canonicalJsonBytes(r)), h)
  })

  it('a compact record cannot change what the record says: shared fields edited, stated twice, or missing are caught', () => {
    const { ctx, ds, at } = scenario()
    const { manifest } = buildManifest(ctx, ds, P, at, anchoredOf(ctx))
    const copy = () => JSON.parse(JSON.stringify(manifest)) as TrainingManifest
    const first = (m: TrainingManifest) => Object.keys(m.consentRecords)[0]!
    // The shared purpose, controller or terms edited: every record over them stops hashing to its name.
    const a = copy()
    a.consentShared![0]!.withdrawalMethod = 'no way'
    assert.match(verifyManifest(a, facts(a)).problems.join('\n'), /does not hash to its name/)
    // A record that overrides a shared field (a later validUntil would be its own field; a purpose is shared).
    const b = copy()
    ;(b.consentRecords[first(b)] as CompactConsentRecord).purpose = { id: P, dpv: P }
    assert.match(verifyManifest(b, facts(b)).problems.join('\n'), /states "purpose" both itself and in its shared fields/)
    // A record naming shared fields the manifest does not have.
    const c = copy()
    ;(c.consentRecords[first(c)] as CompactConsentRecord).shared = 7
    assert.match(verifyManifest(c, facts(c)).problems.join('\n'), /names shared fields 7, which the manifest does not have/)
    // A v1 manifest cannot lean on shared fields: its records must be whole.
    const d = { ...copy(), type: MANIFEST_TYPE_V1 } as unknown as TrainingManifest
    assert.match(verifyManifest(d, facts(d)).problems.join('\n'), /does not hash to its name/)
  })

  it('refuses to build against a checkpoint that does not hold the current map', () => {
    const { ctx, ds, at } = scenario()
    const anchored = anchoredOf(ctx)
    applyConsentChanges(ctx, CONTROLLER, [{ pseudonym: pseudo(9), purpose: P, state: 'given' }])
    assert.throws(() => buildManifest(ctx, ds, P, at, anchored), { code: 'CONSENT_NOT_ANCHORED' })
  })
})

describe('consent record encoding', () => {
  it('recordJson writes exactly the RFC 8785 bytes of canonicalJson for a v1 record (property)', () => {
    const str = fc.string({ unit: 'binary', maxLength: 12 })
    const rec = fc.record({
      recordId: str,
      subject: str,
      controller: str,
      purpose: fc.record({ id: str, dpv: str }),
      processing: fc.array(str, { maxLength: 3 }),
      personalData: fc.array(str, { maxLength: 3 }),
      legalBasis: str,
      state: fc.constantFrom('given', 'withdrawn', 'refused'),
      validFrom: str,
      validUntil: fc.option(str),
      dataset: fc.option(str),
      evidence: fc.oneof(
        fc.record({ type: fc.constant('controller-attestation' as const), attestedBy: str }),
        fc.record({ type: fc.constant('subject-signature' as const), signer: str, issued: str, signature: str }),
      ),
      recordedAt: str,
      supersedes: fc.option(str),
    })
    fc.assert(
      fc.property(rec, (r) => {
        const record = { type: CONSENT_RECORD_TYPE_V1, ...r } as ConsentRecord
        let expected: string | undefined
        try {
          expected = canonicalJson(record)
        } catch {
          expected = undefined
        }
        if (expected === undefined) assert.throws(() => recordJson(record))
        else assert.equal(recordJson(record), expected)
      }),
      { numRuns: 500 },
    )
  })
})
