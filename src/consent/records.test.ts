import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import jsonld from 'jsonld'
import { canonicalJson, sha256 } from '../crypto/index.js'
import { openDatabase } from '../db/index.js'
import { SqliteLog, StoredMap } from '../log/index.js'
import { repoRoot } from '../testing.js'
import {
  applyConsentChangesListed,
  CONSENT_RECORD_CONTEXT,
  CONSENT_RECORD_SCHEMA,
  CONSENT_RECORD_TYPE,
  consentStatusAt,
  DEFAULT_CONSENT_TERMS,
  recordJson,
  type ConsentContext,
  type ConsentRecord,
  type ConsentRecordV2,
} from './index.js'

const CONTROLLER = 'did:key:z6MkController'
const P = 'dpv:ScientificResearch'
const pseudo = (i: number) => sha256(Buffer.from(`subject ${i}`)).toString('hex')
const context = (terms?: ConsentContext['terms']): ConsentContext => {
  const db = openDatabase(join(mkdtempSync(join(tmpdir(), 'provena-records-')), 'db.sqlite'))
  return { db, log: new SqliteLog(db), map: new StoredMap(db), terms }
}

// The ISO/IEC TS 27560 fields the DPV guide (consent-27560, "Mappings of Terms") marks
// mandatory, by the member of a record that carries each.
const MANDATORY_27560: Record<string, keyof ConsentRecordV2> = {
  'schema version': 'conformsTo',
  'record id': 'recordId',
  'pii principal id': 'subject',
  'privacy notice': 'notice',
  language: 'language',
  purpose: 'purpose',
  'pii information / pii type': 'personalData',
  'pii controllers': 'controller',
  'storage locations and retention period': 'storage',
  jurisdiction: 'jurisdiction',
  'recipient third parties': 'recipients',
  'withdrawal method': 'withdrawalMethod',
  'event time': 'recordedAt',
  'validity duration': 'validFrom',
  'entity id': 'evidence',
  'event type': 'legalBasis',
  'event state': 'status',
}

describe('consent records: ISO/IEC TS 27560 fields, DPV statuses, JSON-LD', () => {
  it('a new record carries every field the DPV guide marks mandatory, with the default terms', () => {
    const ctx = context()
    const [a] = applyConsentChangesListed(ctx, CONTROLLER, [{ pseudonym: pseudo(1), purpose: P, state: 'given', expires: '2099-01-01T00:00:00Z' }])
    const r = a!.record as ConsentRecordV2
    for (const [field, member] of Object.entries(MANDATORY_27560)) {
      const v = r[member]
      assert.ok(v !== undefined && v !== null && v !== '' && !(Array.isArray(v) && v.length === 0), `${field} (${member}) is set`)
    }
    assert.equal(r['@context'], CONSENT_RECORD_CONTEXT)
    assert.equal(r.type, CONSENT_RECORD_TYPE)
    assert.equal(r.conformsTo, CONSENT_RECORD_SCHEMA)
    assert.equal(r.status, 'dpv:ConsentGiven')
    assert.deepEqual([r.notice, r.language, r.storage, r.jurisdiction, r.withdrawalMethod], [
      DEFAULT_CONSENT_TERMS.notice,
      DEFAULT_CONSENT_TERMS.language,
      DEFAULT_CONSENT_TERMS.storage,
      DEFAULT_CONSENT_TERMS.jurisdiction,
      DEFAULT_CONSENT_TERMS.withdrawalMethod,
    ])
    assert.deepEqual(r.recipients, [CONTROLLER], 'the controller is always a recipient')
    assert.equal(ctx.log.entry(a!.logIndex).leaf.toString('utf8'), canonicalJson(r), 'logged as RFC 8785 JSON')
  })

  it('states are DPV consent statuses: given, withdrawn, refused; a lapsed given consent reads as expired', () => {
    const ctx = context()
    const [given] = applyConsentChangesListed(ctx, CONTROLLER, [{ pseudonym: pseudo(1), purpose: P, state: 'given', expires: '2099-01-01T00:00:00Z' }])
    const [withdrawn, refused] = applyConsentChangesListed(ctx, CONTROLLER, [
      { pseudonym: pseudo(1), purpose: P, state: 'withdrawn' },
      { pseudonym: pseudo(2), purpose: P, state: 'refused' },
    ])
    assert.deepEqual(
      [given, withdrawn, refused].map((x) => (x!.record as ConsentRecordV2).status),
      ['dpv:ConsentGiven', 'dpv:ConsentWithdrawn', 'dpv:ConsentRefused'],
    )
    assert.equal(consentStatusAt(given!.record, Date.parse('2098-12-31T00:00:00Z')), 'dpv:ConsentGiven')
    assert.equal(consentStatusAt(given!.record, Date.parse('2099-01-01T00:00:00Z')), 'dpv:ConsentExpired')
    assert.equal(consentStatusAt(withdrawn!.record, Date.parse('2099-06-01T00:00:00Z')), 'dpv:ConsentWithdrawn')
  })

  it("the controller's terms (provena.json consentTerms) replace the defaults they name", () => {
    const ctx = context({ notice: 'https://st-mary.example/notices/research-v3', language: 'de', storage: { location: ['loc:DE'], duration: 'P5Y' }, recipients: ['did:key:z6MkLab', CONTROLLER] })
    const [a] = applyConsentChangesListed(ctx, CONTROLLER, [{ pseudonym: pseudo(1), purpose: P, state: 'given' }])
    const r = a!.record as ConsentRecordV2
    assert.deepEqual([r.notice, r.language, r.storage, r.jurisdiction, r.recipients], [
      'https://st-mary.example/notices/research-v3',
      'de',
      { location: ['loc:DE'], duration: 'P5Y' },
      DEFAULT_CONSENT_TERMS.jurisdiction,
      [CONTROLLER, 'did:key:z6MkLab'],
    ])
  })

  it('a bad term in provena.json is refused naming the field, and nothing is written', () => {
    const ctx = context({ storage: { location: 'loc:DE' as unknown as string[], duration: 'P5Y' } })
    assert.throws(() => applyConsentChangesListed(ctx, CONTROLLER, [{ pseudonym: pseudo(1), purpose: P, state: 'given' }]), {
      code: 'CONSENT_BAD_TERMS',
      message: /consentTerms\.storage\.location/,
    })
    assert.equal(ctx.log.size(), 0)
  })

  it('expands as JSON-LD (jsonld.js) with the shipped context to DPV and Dublin Core IRIs', async () => {
    const ctx = context()
    const [a] = applyConsentChangesListed(ctx, CONTROLLER, [{ pseudonym: pseudo(1), purpose: P, state: 'given' }])
    const shipped = JSON.parse(readFileSync(join(repoRoot, 'contexts', 'consent-record-v2.jsonld'), 'utf8')) as object
    const documentLoader = async (url: string) => {
      if (url !== CONSENT_RECORD_CONTEXT) throw new Error(`no network in tests: ${url}`)
      return { contextUrl: undefined, documentUrl: url, document: shipped }
    }
    // (@types/jsonld lags jsonld 9's loader signature: the call is typed by hand.)
    const expand = jsonld.expand as unknown as (doc: unknown, opts: { documentLoader: typeof documentLoader }) => Promise<Record<string, unknown>[]>
    const [node] = await expand(JSON.parse(ctx.log.entry(a!.logIndex).leaf.toString('utf8')), { documentLoader })
    const id = (term: string) => (node![term] as { '@id': string }[] | undefined)?.map((v) => v['@id'])
    const value = (term: string) => (node![term] as { '@value': string }[] | undefined)?.map((v) => v['@value'])
    const DPV = 'https://w3id.org/dpv#'
    assert.equal(node!['@id'], a!.record.recordId)
    assert.deepEqual(id(`${DPV}hasConsentStatus`), [`${DPV}ConsentGiven`])
    assert.deepEqual(id('http://purl.org/dc/terms/conformsTo'), [CONSENT_RECORD_SCHEMA])
    assert.deepEqual(id(`${DPV}hasNotice`), [DEFAULT_CONSENT_TERMS.notice])
    assert.deepEqual(value('http://purl.org/dc/terms/language'), ['en'])
    assert.deepEqual(id(`${DPV}hasJurisdiction`), ['https://w3id.org/dpv/loc#EU'])
    assert.deepEqual(id(`${DPV}hasRecipient`), [CONTROLLER])
    assert.deepEqual(id(`${DPV}hasDataController`), [CONTROLLER])
    assert.deepEqual(id(`${DPV}hasLegalBasis`), [`${DPV}Consent`])
    assert.deepEqual(value(`${DPV}hasConsentControl`), [DEFAULT_CONSENT_TERMS.withdrawalMethod])
    const [storage] = node![`${DPV}hasStorageCondition`] as Record<string, { '@id'?: string; '@value'?: string }[]>[]
    assert.deepEqual(storage![`${DPV}hasLocation`]!.map((v) => v['@id']), ['https://w3id.org/dpv/loc#EU'])
    assert.deepEqual(storage![`${DPV}hasDuration`]!.map((v) => v['@value']), ['P10Y'])
    // JSON-LD drops null values (no validUntil, dataset, supersedes here) and members no term maps.
    const stated = Object.entries(a!.record).filter(([k, v]) => k !== '@context' && v !== null).length
    assert.equal(Object.keys(node!).length, stated, 'every member but @context and the nulls is mapped to an IRI (none dropped)')
    assert.ok(Object.keys(node!).every((k) => k === '@id' || /^(https:\/\/w3id\.org\/dpv#|http:\/\/purl\.org\/dc\/terms\/|urn:provena:terms:)/.test(k)), Object.keys(node!).join(' '))
  })

  it('recordJson writes exactly the RFC 8785 bytes of canonicalJson for a v2 record (property)', () => {
    const str = fc.string({ unit: 'binary', maxLength: 12 })
    const strs = fc.array(str, { maxLength: 3 })
    const rec = fc.record({
      '@context': str,
      conformsTo: str,
      recordId: str,
      subject: str,
      controller: str,
      purpose: fc.record({ id: str, dpv: str }),
      processing: strs,
      personalData: strs,
      legalBasis: str,
      state: fc.constantFrom('given', 'withdrawn', 'refused'),
      status: str,
      validFrom: str,
      validUntil: fc.option(str),
      dataset: fc.option(str),
      evidence: fc.oneof(
        fc.record({ type: fc.constant('controller-attestation' as const), attestedBy: str }),
        fc.record({ type: fc.constant('subject-signature' as const), signer: str, issued: str, signature: str }),
      ),
      recordedAt: str,
      supersedes: fc.option(str),
      notice: str,
      language: str,
      storage: fc.record({ location: strs, duration: str }),
      jurisdiction: strs,
      recipients: strs,
      withdrawalMethod: str,
    })
    // Frozen term arrays (as a batch has them) take recordJson's cached path: the same bytes.
    const deepFreeze = (r: { storage: { location: string[] }; jurisdiction: string[]; recipients: string[] }) => {
      for (const x of [r.storage.location, r.storage, r.jurisdiction, r.recipients]) Object.freeze(x)
    }
    let previous: Record<string, unknown> | undefined
    fc.assert(
      fc.property(rec, fc.boolean(), fc.boolean(), (r, freeze, reuse) => {
        if (freeze) deepFreeze(r)
        // Reuse the previous record's terms (the cache's hit), with this record's own fields.
        if (reuse && previous) Object.assign(r, { storage: previous.storage, jurisdiction: previous.jurisdiction, recipients: previous.recipients, notice: previous.notice, language: previous.language, withdrawalMethod: previous.withdrawalMethod, '@context': previous['@context'], conformsTo: previous.conformsTo })
        previous = r
        const record = { type: CONSENT_RECORD_TYPE, ...r } as unknown as ConsentRecord
        let expected: string | undefined
        try {
          expected = canonicalJson(record)
        } catch {
          expected = undefined
        }
        if (expected === undefined) assert.throws(() => recordJson(record))
        else assert.equal(recordJson(record), expected)
      }),
      { numRuns: 2000 },
    )
  })
})
