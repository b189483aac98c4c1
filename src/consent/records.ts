// Consent records, with the fields of ISO/IEC TS 27560 (consent record information
// structure) that the DPV guide (w3id.org/dpv/guides/consent-27560, "Mappings of Terms")
// marks mandatory: schema version (conformsTo), record id, subject (a pseudonym),
// controller, notice, language, purpose, personal data, storage (locations and retention
// period), jurisdiction, recipients, withdrawal method, and the event: time, validity,
// who (evidence), legal basis and state, as a DPV consent status IRI. Also the processing,
// the dataset it is limited to and the record it supersedes. A JSON-LD document: its
// `@context` names contexts/consent-record-v2.jsonld (shipped in the package). Stored and
// logged as RFC 8785 canonical JSON; the consent map holds the SHA-256 of those bytes under
// the key SHA-256(pseudonym ‖ purpose id). Records logged before v2 (`…/v1`, without the
// 27560 additions) stay valid: every reader takes both, and nothing re-encodes a record.
import { randomUUID } from 'node:crypto'
import { canonicalJson, ed25519FromDidKey, sha256, verifyEd25519 } from '../crypto/index.js'
import { LOG_EVENT } from '../log/index.js'
import { consentErrors } from './errors.js'
import type { Purpose } from './purposes.js'

/** The log event type of a consent record (log/events.ts). */
export const CONSENT_RECORD_TYPE = LOG_EVENT.consentRecord
/** The type of records logged before the ISO/IEC TS 27560 fields: still read and verified. */
export const CONSENT_RECORD_TYPE_V1 = LOG_EVENT.consentRecordV1
export const CONSENT_STATEMENT_TYPE = 'provena.consent.statement/v1'
/** The JSON-LD context of a v2 record: contexts/consent-record-v2.jsonld in the package. */
export const CONSENT_RECORD_CONTEXT = 'urn:provena:context:consent-record:v2'
/** Schema version (ISO/IEC TS 27560; dct:conformsTo): the DPV profile for 27560 consent records. */
export const CONSENT_RECORD_SCHEMA = 'https://w3id.org/dpv/schema/dpv-27560#record'

/** Whether a logged record's type is a consent record's, of any version. */
export const isConsentRecordType = (type: unknown): boolean => type === CONSENT_RECORD_TYPE || type === CONSENT_RECORD_TYPE_V1

/** given: consent holds within its validity; withdrawn / refused: it does not. Expiry is read from validUntil. */
export type ConsentState = 'given' | 'withdrawn' | 'refused'
export const CONSENT_STATES: readonly ConsentState[] = ['given', 'withdrawn', 'refused']

/** DPV consent status concepts (https://w3id.org/dpv#ConsentStatus). */
export type ConsentStatusIri = 'dpv:ConsentGiven' | 'dpv:ConsentWithdrawn' | 'dpv:ConsentRefused' | 'dpv:ConsentExpired'
/** The DPV status a record states (`status`, dpv:hasConsentStatus). */
export const CONSENT_STATUS: Readonly<Record<ConsentState, ConsentStatusIri>> = {
  given: 'dpv:ConsentGiven',
  withdrawn: 'dpv:ConsentWithdrawn',
  refused: 'dpv:ConsentRefused',
}

/** How the change is evidenced: the subject's own signature, or the controller's attestation. */
export type ConsentEvidence =
  | { type: 'subject-signature'; signer: string; issued: string; signature: string }
  | { type: 'controller-attestation'; attestedBy: string }

/**
 * The controller's terms that every consent record states (ISO/IEC TS 27560 mandatory
 * fields); `consentTerms` in provena.json, else DEFAULT_CONSENT_TERMS.
 */
export interface ConsentTerms {
  /** IRI (URL) of the consent notice shown to the subject (dpv:hasNotice). */
  notice: string
  /** BCP 47 language of the notice and the consent (dct:language). */
  language: string
  /** Where the data is stored (DPV location IRIs, e.g. loc:EU) and for how long (ISO 8601 duration). */
  storage: { location: string[]; duration: string }
  /** Jurisdictions whose law applies (dpv:hasJurisdiction; DPV location IRIs). */
  jurisdiction: string[]
  /** Recipients beyond the controller (dpv:hasRecipient); the controller is always one. */
  recipients: string[]
  /** How the subject withdraws consent (dpv:hasConsentControl, dpv:WithdrawConsent). */
  withdrawalMethod: string
}

/** The terms used when provena.json sets none (README "Consent"): a controller should set its own. */
export const DEFAULT_CONSENT_TERMS: Readonly<ConsentTerms> = Object.freeze({
  notice: 'urn:provena:notice:not-configured',
  language: 'en',
  storage: Object.freeze({ location: Object.freeze(['loc:EU']) as string[], duration: 'P10Y' }),
  jurisdiction: Object.freeze(['loc:EU']) as string[],
  recipients: Object.freeze([]) as unknown as string[],
  withdrawalMethod: 'ask the controller, who records it with provena consent withdraw; or sign a withdrawal statement with your did:key',
})

/** The terms a record states: `given` over the defaults, each checked; throws CONSENT_BAD_TERMS naming the field. */
export function resolveConsentTerms(given: Partial<ConsentTerms> | undefined): ConsentTerms {
  const t = { ...DEFAULT_CONSENT_TERMS, ...given }
  const text = (v: unknown, field: string) => {
    if (typeof v !== 'string' || v.trim() === '' || !v.isWellFormed()) throw consentErrors.badTerms(field, 'must be a non-empty string')
  }
  const list = (v: unknown, field: string) => {
    if (!Array.isArray(v)) throw consentErrors.badTerms(field, 'must be a list of strings')
    v.forEach((x, i) => text(x, `${field}[${i}]`))
  }
  text(t.notice, 'notice')
  text(t.language, 'language')
  text(t.withdrawalMethod, 'withdrawalMethod')
  list(t.jurisdiction, 'jurisdiction')
  list(t.recipients, 'recipients')
  if (typeof t.storage !== 'object' || t.storage === null || Array.isArray(t.storage)) throw consentErrors.badTerms('storage', 'must be {location: [...], duration: "P…"}')
  list(t.storage.location, 'storage.location')
  text(t.storage.duration, 'storage.duration')
  if (!/^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?!$)(\d+H)?(\d+M)?(\d+S)?)?$/.test(t.storage.duration)) throw consentErrors.badTerms('storage.duration', `"${t.storage.duration}" is not an ISO 8601 duration (e.g. P10Y)`)
  // Frozen: every record of a batch shares them, and recordJson writes them once.
  return {
    notice: t.notice,
    language: t.language,
    storage: Object.freeze({ location: Object.freeze([...t.storage.location]), duration: t.storage.duration }) as ConsentTerms['storage'],
    jurisdiction: Object.freeze([...t.jurisdiction]) as string[],
    recipients: Object.freeze([...t.recipients]) as string[],
    withdrawalMethod: t.withdrawalMethod,
  }
}

interface ConsentRecordFields {
  recordId: string
  /** The subject's pseudonym under the controller (hex HMAC-SHA256); never the clear id. */
  subject: string
  controller: string
  purpose: Purpose
  processing: string[]
  personalData: string[]
  legalBasis: string
  state: ConsentState
  validFrom: string
  validUntil: string | null
  /** The dataset the consent is limited to, or null for any of the controller's data. */
  dataset: string | null
  evidence: ConsentEvidence
  recordedAt: string
  /** SHA-256 of the record this one replaces for the same subject and purpose. */
  supersedes: string | null
}

/** A record as logged since v2: with the ISO/IEC TS 27560 fields and its JSON-LD context. */
export interface ConsentRecordV2 extends ConsentRecordFields, ConsentTerms {
  '@context': typeof CONSENT_RECORD_CONTEXT
  type: typeof CONSENT_RECORD_TYPE
  conformsTo: typeof CONSENT_RECORD_SCHEMA
  status: ConsentStatusIri
  /** The controller first, then the terms' recipients. */
  recipients: string[]
}

/** A record as logged before v2. */
export interface ConsentRecordV1 extends ConsentRecordFields {
  type: typeof CONSENT_RECORD_TYPE_V1
}

/** A logged consent record, of either version. */
export type ConsentRecord = ConsentRecordV2 | ConsentRecordV1

/** The consent map key of a subject and purpose: SHA-256(pseudonym bytes ‖ UTF-8 purpose id). */
export function consentKey(pseudonym: string, purposeId: string): Buffer {
  return sha256(Buffer.from(pseudonym, 'hex'), Buffer.from(purposeId, 'utf8'))
}

/** The record's canonical bytes and their SHA-256 (the map value). */
export function encodeRecord(r: ConsentRecord): { bytes: Buffer; hash: Buffer } {
  const bytes = Buffer.from(recordJson(r), 'utf8')
  return { bytes, hash: sha256(bytes) }
}

/**
 * RFC 8785 JSON of a consent record, written member by member in sorted order: the same
 * bytes as canonicalJson(r) (a property test holds them equal), several times faster,
 * which matters at a million records. Anything unexpected goes the generic way.
 */
export function recordJson(r: ConsentRecord): string {
  const e = r.evidence
  const strs = [r.controller, r.legalBasis, r.recordId, r.recordedAt, r.state, r.subject, r.type, r.validFrom, r.purpose?.id, r.purpose?.dpv, ...r.personalData, ...r.processing]
  const v2 = r.type === CONSENT_RECORD_TYPE
  const known =
    Object.keys(r).length === (v2 ? 24 : 15) &&
    Array.isArray(r.personalData) &&
    Array.isArray(r.processing) &&
    Object.keys(r.purpose).length === 2 &&
    (e.type === 'controller-attestation' ? Object.keys(e).length === 2 && typeof e.attestedBy === 'string' : Object.keys(e).length === 4 && typeof e.issued === 'string' && typeof e.signature === 'string' && typeof e.signer === 'string') &&
    strs.every(isString) &&
    [r.dataset, r.supersedes, r.validUntil].every((x) => x === null || isString(x)) &&
    (e.type === 'controller-attestation' ? e.attestedBy.isWellFormed() : e.issued.isWellFormed() && e.signature.isWellFormed() && e.signer.isWellFormed()) &&
    (!v2 || (isString(r.status) && termsJson(r) !== undefined))
  if (!known) return canonicalJson(r)
  const j = JSON.stringify
  const evidence =
    e.type === 'controller-attestation'
      ? `{"attestedBy":${j(e.attestedBy)},"type":${j(e.type)}}`
      : `{"issued":${j(e.issued)},"signature":${j(e.signature)},"signer":${j(e.signer)},"type":${j(e.type)}}`
  if (r.type !== CONSENT_RECORD_TYPE) {
    return (
      `{"controller":${j(r.controller)},"dataset":${j(r.dataset)},"evidence":${evidence},"legalBasis":${j(r.legalBasis)}` +
      `,"personalData":${j(r.personalData)},"processing":${j(r.processing)},"purpose":{"dpv":${j(r.purpose.dpv)},"id":${j(r.purpose.id)}}` +
      `,"recordId":${j(r.recordId)},"recordedAt":${j(r.recordedAt)},"state":${j(r.state)},"subject":${j(r.subject)},"supersedes":${j(r.supersedes)}` +
      `,"type":${j(r.type)},"validFrom":${j(r.validFrom)},"validUntil":${j(r.validUntil)}}`
    )
  }
  const t = termsJson(r)!
  return (
    `{"@context":${t.context},"conformsTo":${t.conformsTo},"controller":${j(r.controller)},"dataset":${j(r.dataset)},"evidence":${evidence}` +
    `,"jurisdiction":${t.jurisdiction},"language":${t.language},"legalBasis":${j(r.legalBasis)},"notice":${t.notice}` +
    `,"personalData":${j(r.personalData)},"processing":${j(r.processing)},"purpose":{"dpv":${j(r.purpose.dpv)},"id":${j(r.purpose.id)}}` +
    `,"recipients":${t.recipients},"recordId":${j(r.recordId)},"recordedAt":${j(r.recordedAt)},"state":${j(r.state)},"status":${j(r.status)}` +
    `,"storage":${t.storage},"subject":${j(r.subject)},"supersedes":${j(r.supersedes)}` +
    `,"type":${j(r.type)},"validFrom":${j(r.validFrom)},"validUntil":${j(r.validUntil)},"withdrawalMethod":${t.withdrawalMethod}}`
  )
}

const isString = (x: unknown): x is string => typeof x === 'string' && x.isWellFormed()
const isStrings = (x: unknown): x is string[] => Array.isArray(x) && x.every(isString)

interface TermsJson {
  of: Pick<ConsentRecordV2, '@context' | 'conformsTo' | 'notice' | 'language' | 'withdrawalMethod' | 'storage' | 'jurisdiction' | 'recipients'>
  context: string
  conformsTo: string
  notice: string
  language: string
  withdrawalMethod: string
  storage: string
  jurisdiction: string
  recipients: string
}
let lastTerms: TermsJson | undefined

/**
 * The JSON of a v2 record's members that a batch shares (the controller's terms), or
 * undefined when one is not of the expected shape. Kept for the next record when its
 * arrays are frozen (as a batch's are) and the same: a million records state them once.
 */
function termsJson(r: ConsentRecordV2): TermsJson | undefined {
  const c = lastTerms?.of
  if (
    c &&
    c.storage === r.storage &&
    c.jurisdiction === r.jurisdiction &&
    c.recipients === r.recipients &&
    c['@context'] === r['@context'] &&
    c.conformsTo === r.conformsTo &&
    c.notice === r.notice &&
    c.language === r.language &&
    c.withdrawalMethod === r.withdrawalMethod
  ) {
    return lastTerms
  }
  const st = r.storage as unknown
  const known =
    [r['@context'], r.conformsTo, r.notice, r.language, r.withdrawalMethod].every(isString) &&
    isStrings(r.jurisdiction) &&
    isStrings(r.recipients) &&
    typeof st === 'object' &&
    st !== null &&
    !Array.isArray(st) &&
    Object.keys(st).length === 2 &&
    isString(r.storage.duration) &&
    isStrings(r.storage.location)
  if (!known) return undefined
  const j = JSON.stringify
  const t: TermsJson = {
    of: r,
    context: j(r['@context']),
    conformsTo: j(r.conformsTo),
    notice: j(r.notice),
    language: j(r.language),
    withdrawalMethod: j(r.withdrawalMethod),
    storage: `{"duration":${j(r.storage.duration)},"location":${j(r.storage.location)}}`,
    jurisdiction: j(r.jurisdiction),
    recipients: j(r.recipients),
  }
  const frozen = [r.storage, r.storage.location, r.jurisdiction, r.recipients].every(Object.isFrozen)
  lastTerms = frozen ? { ...t, of: { '@context': r['@context'], conformsTo: r.conformsTo, notice: r.notice, language: r.language, withdrawalMethod: r.withdrawalMethod, storage: r.storage, jurisdiction: r.jurisdiction, recipients: r.recipients } } : undefined
  return t
}

/** What a subject signs to give, withdraw or refuse consent (RFC 8785 JSON, Ed25519). */
export interface ConsentStatement {
  type: typeof CONSENT_STATEMENT_TYPE
  controller: string
  purpose: string
  state: ConsentState
  expires: string | null
  dataset: string | null
  issued: string
}

export function statementBytes(s: Omit<ConsentStatement, 'type'>): Buffer {
  return Buffer.from(canonicalJson({ type: CONSENT_STATEMENT_TYPE, ...s }), 'utf8')
}

/** Checks a subject-signature evidence against the record it backs; throws CONSENT_BAD_SIGNATURE. */
export function checkSubjectSignature(r: Pick<ConsentRecord, 'controller' | 'purpose' | 'state' | 'validUntil' | 'dataset'>, e: { signer: string; issued: string; signature: string }): void {
  let key: Uint8Array
  try {
    key = ed25519FromDidKey(e.signer)
  } catch {
    throw consentErrors.badSignature(`the signer "${e.signer}" is not an Ed25519 did:key`)
  }
  const message = statementBytes({ controller: r.controller, purpose: r.purpose.id, state: r.state, expires: r.validUntil, dataset: r.dataset, issued: e.issued })
  const sig = Buffer.from(e.signature, 'base64')
  if (sig.length !== 64 || !verifyEd25519(key, message, sig)) {
    throw consentErrors.badSignature(`the subject's signature does not verify for ${r.state} ${r.purpose.id}${r.validUntil ? ` until ${r.validUntil}` : ''} issued ${e.issued} by ${e.signer}`)
  }
}

/** Fills in a new record's id. */
export const newRecordId = () => `urn:uuid:${randomUUID()}`

/** Parses an ISO 8601 time to ms, or throws naming `where`. */
export function parseTime(text: string, where: string): number {
  const t = Date.parse(text)
  if (!/^\d{4}-\d{2}-\d{2}/.test(text) || Number.isNaN(t)) throw consentErrors.badTime(text, where)
  return t
}

/** Whether a record lets its data be used at `at` (ms): given, and at within [validFrom, validUntil). */
export function stateAt(r: Pick<ConsentRecord, 'state' | 'validFrom' | 'validUntil'>, at: number): 'valid' | 'withdrawn' | 'refused' | 'expired' | 'not-yet-valid' {
  if (r.state !== 'given') return r.state
  if (Date.parse(r.validFrom) > at) return 'not-yet-valid'
  if (r.validUntil !== null && at >= Date.parse(r.validUntil)) return 'expired'
  return 'valid'
}

/** The DPV consent status of a record at `at` (ms): a given consent past its validUntil is dpv:ConsentExpired. */
export function consentStatusAt(r: Pick<ConsentRecord, 'state' | 'validFrom' | 'validUntil'>, at: number): ConsentStatusIri {
  return r.state === 'given' && r.validUntil !== null && at >= Date.parse(r.validUntil) ? 'dpv:ConsentExpired' : CONSENT_STATUS[r.state]
}
