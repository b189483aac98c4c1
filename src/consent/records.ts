// Consent records, with the fields of ISO/IEC TS 27560 (consent record information
// structure): record id, subject (a pseudonym), controller, purpose, processing, personal
// data categories, legal basis, state, validity, evidence, timestamps and the record it
// supersedes. Stored and logged as RFC 8785 canonical JSON; the consent map holds the
// SHA-256 of those bytes under the key SHA-256(pseudonym ‖ purpose id).
import { randomUUID } from 'node:crypto'
import { canonicalJson, ed25519FromDidKey, sha256, verifyEd25519 } from '../crypto/index.js'
import { LOG_EVENT } from '../log/index.js'
import { consentErrors } from './errors.js'
import type { Purpose } from './purposes.js'

/** The log event type of a consent record (log/events.ts). */
export const CONSENT_RECORD_TYPE = LOG_EVENT.consentRecord
export const CONSENT_STATEMENT_TYPE = 'provena.consent.statement/v1'

/** given: consent holds within its validity; withdrawn / refused: it does not. Expiry is read from validUntil. */
export type ConsentState = 'given' | 'withdrawn' | 'refused'
export const CONSENT_STATES: readonly ConsentState[] = ['given', 'withdrawn', 'refused']

/** How the change is evidenced: the subject's own signature, or the controller's attestation. */
export type ConsentEvidence =
  | { type: 'subject-signature'; signer: string; issued: string; signature: string }
  | { type: 'controller-attestation'; attestedBy: string }

export interface ConsentRecord {
  type: typeof CONSENT_RECORD_TYPE
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
  const strs = [r.controller, r.legalBasis, r.recordId, r.recordedAt, r.state, r.subject, r.type, r.validFrom, r.purpose.id, r.purpose.dpv, ...r.personalData, ...r.processing]
  const e = r.evidence
  const known =
    Object.keys(r).length === 15 &&
    Object.keys(r.purpose).length === 2 &&
    (e.type === 'controller-attestation' ? Object.keys(e).length === 2 && typeof e.attestedBy === 'string' : Object.keys(e).length === 4 && typeof e.issued === 'string' && typeof e.signature === 'string' && typeof e.signer === 'string') &&
    strs.every((x) => typeof x === 'string' && x.isWellFormed()) &&
    [r.dataset, r.supersedes, r.validUntil].every((x) => x === null || (typeof x === 'string' && x.isWellFormed())) &&
    (e.type === 'controller-attestation' ? e.attestedBy.isWellFormed() : e.issued.isWellFormed() && e.signature.isWellFormed() && e.signer.isWellFormed())
  if (!known) return canonicalJson(r)
  const j = JSON.stringify
  const evidence =
    e.type === 'controller-attestation'
      ? `{"attestedBy":${j(e.attestedBy)},"type":${j(e.type)}}`
      : `{"issued":${j(e.issued)},"signature":${j(e.signature)},"signer":${j(e.signer)},"type":${j(e.type)}}`
  return (
    `{"controller":${j(r.controller)},"dataset":${j(r.dataset)},"evidence":${evidence},"legalBasis":${j(r.legalBasis)}` +
    `,"personalData":${j(r.personalData)},"processing":${j(r.processing)},"purpose":{"dpv":${j(r.purpose.dpv)},"id":${j(r.purpose.id)}}` +
    `,"recordId":${j(r.recordId)},"recordedAt":${j(r.recordedAt)},"state":${j(r.state)},"subject":${j(r.subject)},"supersedes":${j(r.supersedes)}` +
    `,"type":${j(r.type)},"validFrom":${j(r.validFrom)},"validUntil":${j(r.validUntil)}}`
  )
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
