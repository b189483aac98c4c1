// Applying consent changes: each is a record in the log and a new value in the consent
// map, all of a batch in one transaction, or none of it.
import type { Db } from '../db/index.js'
import type { SqliteLog, StoredMap } from '../log/index.js'
import { consentErrors } from './errors.js'
import { resolvePurpose, type OwnPurposes } from './purposes.js'
import {
  checkSubjectSignature,
  CONSENT_RECORD_TYPE,
  consentKey,
  encodeRecord,
  newRecordId,
  parseTime,
  type ConsentRecord,
  type ConsentState,
} from './records.js'

/** What the consent layer needs of an open data dir. */
export interface ConsentContext {
  db: Db
  log: SqliteLog
  map: StoredMap
  ownPurposes?: OwnPurposes | undefined
}

/** One requested change: a subject (by pseudonym) gives, withdraws or refuses a purpose. */
export interface ConsentChange {
  pseudonym: string
  /** The controller's own subject id, for messages only (never stored). */
  subjectId?: string | undefined
  purpose: string
  state: ConsentState
  /** ISO time the consent ends (given only). */
  expires?: string | null | undefined
  dataset?: string | null | undefined
  /** The subject's signature of the statement; otherwise the controller attests. */
  signature?: { signer: string; issued: string; signature: string } | undefined
  processing?: string[] | undefined
  personalData?: string[] | undefined
  legalBasis?: string | undefined
  /** "file:line" of a bulk change, for messages. */
  where?: string | undefined
}

export interface AppliedChange {
  record: ConsentRecord
  hash: string
  key: string
  logIndex: number
}

interface CurrentRow {
  record: Buffer
  state: string
}

/** The current record of a map key, if any (parsed). */
export function currentRecord(db: Db, key: Uint8Array): { record: ConsentRecord; hash: Buffer; logIndex: number } | undefined {
  const row = db
    .prepare('SELECT r.record, r.hash, r.log_index FROM consent_current c JOIN consent_records r ON r.hash = c.record WHERE c.map_key = ?')
    .get(key) as { record: string; hash: Buffer; log_index: number } | undefined
  return row && { record: JSON.parse(row.record) as ConsentRecord, hash: row.hash, logIndex: row.log_index }
}

/** Every record of a map key, oldest first. */
export function recordHistory(db: Db, key: Uint8Array): { record: ConsentRecord; hash: Buffer; logIndex: number }[] {
  return (db.prepare('SELECT record, hash, log_index FROM consent_records WHERE map_key = ? ORDER BY log_index').all(key) as { record: string; hash: Buffer; log_index: number }[]).map((r) => ({
    record: JSON.parse(r.record) as ConsentRecord,
    hash: r.hash,
    logIndex: r.log_index,
  }))
}

/**
 * Validates every change first (purpose known, expiry in the future, no two changes of one
 * subject and purpose, something to withdraw, subject signatures valid and newer than the
 * last), then, in one transaction, appends each record to the log, stores it, makes it the
 * current one and updates the consent map. Throws before writing anything.
 */
export function applyConsentChanges(ctx: ConsentContext, controller: string, changes: readonly ConsentChange[], now = Date.now()): AppliedChange[] {
  const nowIso = new Date(now).toISOString()
  const seen = new Map<string, ConsentChange>()
  const current = ctx.db.prepare('SELECT c.record, c.state FROM consent_current c WHERE c.map_key = ?')
  const recordOf = ctx.db.prepare('SELECT record FROM consent_records WHERE hash = ?').pluck()
  const prepared = changes.map((c) => {
    const at = (e: Error & { message: string }) => {
      if (c.where) e.message = `${c.where}: ${e.message}`
      return e
    }
    const who = c.subjectId ?? c.pseudonym.slice(0, 12)
    let purpose
    try {
      purpose = resolvePurpose(c.purpose, ctx.ownPurposes)
    } catch (e) {
      throw at(e as Error)
    }
    const key = consentKey(c.pseudonym, purpose.id)
    const keyHex = key.toString('hex')
    const twin = seen.get(keyHex)
    if (twin) throw consentErrors.conflict(`${c.where ?? 'this batch'} changes subject "${who}" for ${purpose.id} again (first at ${twin.where ?? 'an earlier change'})`)
    seen.set(keyHex, c)
    let validUntil: string | null = null
    if (c.expires) {
      if (c.state !== 'given') throw at(consentErrors.badTime(c.expires, 'an expiry on a withdrawal or refusal'))
      const t = parseTime(c.expires, 'expires')
      if (t <= now) throw at(consentErrors.expiryInPast(c.expires, 'expires'))
      validUntil = new Date(t).toISOString()
    }
    const prev = current.get(key) as CurrentRow | undefined
    if (c.state === 'withdrawn' && prev?.state !== 'given') throw at(consentErrors.nothingToWithdraw(who, purpose.id))
    const record: ConsentRecord = {
      type: CONSENT_RECORD_TYPE,
      recordId: newRecordId(),
      subject: c.pseudonym,
      controller,
      purpose,
      processing: c.processing ?? ['dpv:Store', 'dpv:Use', 'dpv:Analyse'],
      personalData: c.personalData ?? ['dpv:PersonalData'],
      legalBasis: c.legalBasis ?? 'dpv:Consent',
      state: c.state,
      validFrom: nowIso,
      validUntil,
      dataset: c.dataset ?? null,
      evidence: c.signature ? { type: 'subject-signature', ...c.signature } : { type: 'controller-attestation', attestedBy: controller },
      recordedAt: nowIso,
      supersedes: prev ? prev.record.toString('hex') : null,
    }
    if (c.signature) {
      try {
        checkSubjectSignature(record, c.signature)
        const issued = parseTime(c.signature.issued, 'issued')
        if (issued > now + 5 * 60_000) throw consentErrors.badSignature(`the statement was issued in the future (${c.signature.issued})`)
        if (prev) {
          const before = JSON.parse(recordOf.get(prev.record) as string) as ConsentRecord
          if (before.evidence.type === 'subject-signature' && Date.parse(before.evidence.issued) >= issued) {
            throw consentErrors.badSignature(`the statement issued ${c.signature.issued} is not newer than the one already recorded (${before.evidence.issued}): a replay?`)
          }
        }
      } catch (e) {
        throw at(e as Error)
      }
    }
    return { record, key, ...encodeRecord(record) }
  })
  if (prepared.length === 0) return []
  return ctx.db.transaction(() => {
    const first = ctx.log.append(prepared.map((p) => p.bytes), now)
    const insRecord = ctx.db.prepare('INSERT INTO consent_records (hash, map_key, log_index, record) VALUES (?, ?, ?, ?)')
    const setCurrent = ctx.db.prepare(
      'INSERT OR REPLACE INTO consent_current (map_key, record, subject, purpose, state, valid_from, valid_until, dataset) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    )
    const out = prepared.map((p, i) => {
      insRecord.run(p.hash, p.key, first + i, p.bytes.toString('utf8'))
      const r = p.record
      setCurrent.run(p.key, p.hash, r.subject, r.purpose.id, r.state, Date.parse(r.validFrom), r.validUntil === null ? null : Date.parse(r.validUntil), r.dataset)
      return { record: r, hash: p.hash.toString('hex'), key: p.key.toString('hex'), logIndex: first + i }
    })
    ctx.map.apply(prepared.map((p) => ({ key: p.key, value: p.hash })))
    return out
  })()
}
