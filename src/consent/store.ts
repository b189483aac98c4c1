// Applying consent changes: each is a record in the log and a new value in the consent
// map, all of a batch in one transaction, or none of it.
import { insertMany, type Db } from '../db/index.js'
import type { MapChange, SqliteLog, StoredMap } from '../log/index.js'
import { consentErrors } from './errors.js'
import { resolvePurpose, type OwnPurposes, type Purpose } from './purposes.js'
import {
  checkSubjectSignature,
  CONSENT_RECORD_CONTEXT,
  CONSENT_RECORD_SCHEMA,
  CONSENT_RECORD_TYPE,
  CONSENT_STATUS,
  consentKey,
  encodeRecord,
  newRecordId,
  parseTime,
  resolveConsentTerms,
  type ConsentRecord,
  type ConsentRecordV2,
  type ConsentState,
  type ConsentTerms,
} from './records.js'

/** What the consent layer needs of an open data dir. */
export interface ConsentContext {
  db: Db
  log: SqliteLog
  map: StoredMap
  ownPurposes?: OwnPurposes | undefined
  /** The controller's notice, language, storage, jurisdiction, recipients, withdrawal method (provena.json `consentTerms`); DEFAULT_CONSENT_TERMS when absent. */
  terms?: Partial<ConsentTerms> | undefined
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
  log_index: number
}

/** The consent record logged at `logIndex` (its bytes are the log entry). */
export function recordAt(log: SqliteLog, logIndex: number): ConsentRecord {
  return JSON.parse(log.entry(logIndex).leaf.toString('utf8')) as ConsentRecord
}

/** The current record of a map key, if any (parsed). */
export function currentRecord(ctx: Pick<ConsentContext, 'db' | 'log'>, key: Uint8Array): { record: ConsentRecord; hash: Buffer; logIndex: number } | undefined {
  const row = ctx.db.prepare('SELECT record, log_index FROM consent_current WHERE map_key = ?').get(key) as { record: Buffer; log_index: number } | undefined
  return row && { record: recordAt(ctx.log, row.log_index), hash: row.record, logIndex: row.log_index }
}

/** Every record of a map key, oldest first. */
export function recordHistory(ctx: Pick<ConsentContext, 'db' | 'log'>, key: Uint8Array): { record: ConsentRecord; hash: Buffer; logIndex: number }[] {
  const out: { record: ConsentRecord; hash: Buffer; logIndex: number }[] = []
  const step = ctx.db.prepare('SELECT hash, prev FROM consent_records WHERE log_index = ?')
  let at = (ctx.db.prepare('SELECT log_index FROM consent_current WHERE map_key = ?').pluck().get(key) as number | undefined) ?? null
  while (at !== null) {
    const row = step.get(at) as { hash: Buffer; prev: number | null }
    out.push({ record: recordAt(ctx.log, at), hash: row.hash, logIndex: at })
    at = row.prev
  }
  return out.reverse()
}

/** The purposes a subject (pseudonym) has a consent record for, among `purposes`. */
export function subjectPurposes(ctx: Pick<ConsentContext, 'db'>, pseudonym: string, purposes: readonly string[]): string[] {
  const has = ctx.db.prepare('SELECT 1 FROM consent_current WHERE map_key = ?')
  return purposes.filter((p) => has.get(consentKey(pseudonym, p)) !== undefined)
}

/** What a batch of changes did. */
export interface AppliedBatch {
  count: number
  /** Changes that state what the subject's current record states already: not logged again (a rerun of an import). */
  unchanged: number
  firstLogIndex: number
  byState: Partial<Record<ConsentState, number>>
}

const CHUNK = 10_000
const DEFAULT_PROCESSING = Object.freeze(['dpv:Store', 'dpv:Use', 'dpv:Analyse']) as string[]
const DEFAULT_PERSONAL_DATA = Object.freeze(['dpv:PersonalData']) as string[]

/**
 * Validates every change first (purpose known, expiry in the future, no two changes of one
 * subject and purpose, something to withdraw, subject signatures valid and newer than the
 * last), then, in one transaction, appends each record to the log, stores it, makes it the
 * current one and updates the consent map. Throws before writing anything. Records are
 * built chunk by chunk, so a million changes fit in memory; `onApplied` sees each one.
 * With `deferMap`, the consent map is not updated: its changes go to `deferMap`, and the
 * caller applies them in the same transaction (a group commit: one map pass for many batches).
 */
export function applyConsentChanges(
  ctx: ConsentContext,
  controller: string,
  changes: readonly ConsentChange[],
  opts: {
    now?: number
    onApplied?: (a: AppliedChange) => void
    deferMap?: (changes: MapChange[]) => void
    /** The number of current records, when the caller knows it (a group commit counts once for its batches); an estimate will do. */
    stored?: number
  } = {},
): AppliedBatch {
  const now = opts.now ?? Date.now()
  const nowIso = new Date(now).toISOString()
  const seen = new Map<string, ConsentChange>()
  // The current state of the keys changed: point lookups for a small batch, one scan for a
  // large one (a bulk import would otherwise pay a B-tree lookup a change).
  const stored = opts.stored ?? (ctx.db.prepare('SELECT count(*) FROM consent_current').pluck().get() as number)
  let lookup: (key: Buffer) => CurrentRow | undefined
  if (changes.length * 4 > stored) {
    const all = new Map<string, CurrentRow>()
    for (const row of ctx.db.prepare('SELECT map_key, record, state, log_index FROM consent_current').iterate() as Iterable<CurrentRow & { map_key: Buffer }>) {
      all.set(row.map_key.toString('latin1'), row)
    }
    lookup = (key) => all.get(key.toString('latin1'))
  } else {
    const one = ctx.db.prepare('SELECT record, state, log_index FROM consent_current WHERE map_key = ?')
    lookup = (key) => one.get(key) as CurrentRow | undefined
  }
  const purposes = new Map<string, ReturnType<typeof resolvePurpose>>()
  // Pass 1: validate, keeping only what pass 2 needs.
  const validated = changes.map((c) => {
    const at = (e: Error & { message: string }) => {
      if (c.where) e.message = `${c.where}: ${e.message}`
      return e
    }
    const who = () => c.subjectId ?? c.pseudonym.slice(0, 12)
    let purpose = purposes.get(c.purpose)
    if (!purpose) {
      try {
        purpose = resolvePurpose(c.purpose, ctx.ownPurposes)
      } catch (e) {
        throw at(e as Error)
      }
      purposes.set(c.purpose, purpose)
    }
    const key = consentKey(c.pseudonym, purpose.id)
    const keyId = key.toString('latin1')
    const twin = seen.get(keyId)
    if (twin) throw consentErrors.conflict(`${c.where ?? 'this batch'} changes subject "${who()}" for ${purpose.id} again (first at ${twin.where ?? 'an earlier change'})`)
    seen.set(keyId, c)
    let validUntil: string | null = null
    if (c.expires) {
      if (c.state !== 'given') throw at(consentErrors.expiryNotAllowed(c.state))
      const t = parseTime(c.expires, 'expires')
      if (t <= now) throw at(consentErrors.expiryInPast(c.expires, 'expires'))
      validUntil = new Date(t).toISOString()
    }
    const prev = lookup(key)
    // A change the current record states already (the same file imported again after a
    // failure) is not a change: nothing is logged, so a rerun is idempotent.
    if (prev && prev.state === c.state && sameAsCurrent(recordAt(ctx.log, prev.log_index), c, purpose, validUntil, controller)) return null
    if (c.state === 'withdrawn' && prev?.state !== 'given') throw at(consentErrors.nothingToWithdraw(who(), purpose.id))
    if (c.signature) {
      try {
        checkSubjectSignature({ controller, purpose, state: c.state, validUntil, dataset: c.dataset ?? null }, c.signature)
        const issued = parseTime(c.signature.issued, 'issued')
        if (issued > now + 5 * 60_000) throw consentErrors.badSignature(`the statement was issued in the future (${c.signature.issued})`)
        if (prev) {
          const before = recordAt(ctx.log, prev.log_index)
          if (before.evidence.type === 'subject-signature' && Date.parse(before.evidence.issued) >= issued) {
            throw consentErrors.badSignature(`the statement issued ${c.signature.issued} is not newer than the one already recorded (${before.evidence.issued}): a replay?`)
          }
        }
      } catch (e) {
        throw at(e as Error)
      }
    }
    return { c, purpose, key, validUntil, supersedes: prev ? prev.record.toString('hex') : null, prevIndex: prev ? prev.log_index : null }
  })
  seen.clear()
  const checked = validated.filter((x) => x !== null)
  const unchanged = validated.length - checked.length
  const byState: Partial<Record<ConsentState, number>> = {}
  if (checked.length === 0) return { count: 0, unchanged, firstLogIndex: ctx.log.size(), byState }

  // Pass 2: build, log and store, chunk by chunk, all in one transaction.
  const terms = resolveConsentTerms(ctx.terms)
  const recipients = Object.freeze([controller, ...terms.recipients.filter((r) => r !== controller)]) as string[]
  return ctx.db.transaction(() => {
    const firstLogIndex = ctx.log.size()
    const mapChanges: { key: Buffer; value: Buffer }[] = new Array(checked.length)
    const hashes: Buffer[] = new Array(checked.length)
    // The current rows go in at the end, sorted by key: B-tree inserts in key order touch
    // each page once. Sorted as indexes by latin1 key strings (compared as their bytes).
    const keyOrder: string[] = new Array(checked.length)
    for (let from = 0; from < checked.length; from += CHUNK) {
      const chunk = checked.slice(from, from + CHUNK).map(({ c, purpose, key, validUntil, supersedes, prevIndex }) => {
        const record: ConsentRecordV2 = {
          '@context': CONSENT_RECORD_CONTEXT,
          type: CONSENT_RECORD_TYPE,
          conformsTo: CONSENT_RECORD_SCHEMA,
          recordId: newRecordId(),
          subject: c.pseudonym,
          controller,
          purpose,
          processing: c.processing ?? DEFAULT_PROCESSING,
          personalData: c.personalData ?? DEFAULT_PERSONAL_DATA,
          legalBasis: c.legalBasis ?? 'dpv:Consent',
          state: c.state,
          validFrom: nowIso,
          validUntil,
          dataset: c.dataset ?? null,
          evidence: c.signature ? { type: 'subject-signature', ...c.signature } : { type: 'controller-attestation', attestedBy: controller },
          recordedAt: nowIso,
          supersedes,
          status: CONSENT_STATUS[c.state],
          notice: terms.notice,
          language: terms.language,
          storage: terms.storage,
          jurisdiction: terms.jurisdiction,
          recipients,
          withdrawalMethod: terms.withdrawalMethod,
        }
        return { record, key, prevIndex, ...encodeRecord(record) }
      })
      const first = ctx.log.append(
        chunk.map((p) => p.bytes),
        now,
      )
      const records: unknown[] = []
      chunk.forEach((p, i) => {
        const r = p.record
        records.push(first + i, p.hash, p.prevIndex)
        keyOrder[from + i] = p.key.toString('latin1')
        hashes[from + i] = p.hash
        mapChanges[from + i] = { key: p.key, value: p.hash }
        byState[r.state] = (byState[r.state] ?? 0) + 1
        opts.onApplied?.({ record: r, hash: p.hash.toString('hex'), key: p.key.toString('hex'), logIndex: first + i })
      })
      insertMany(ctx.db, 'consent_records (log_index, hash, prev)', 3, records)
    }
    // latin1 strings compare as their bytes do, and far faster than Buffer.compare.
    const order = Array.from({ length: checked.length }, (_, i) => i).sort((a, b) => (keyOrder[a]! < keyOrder[b]! ? -1 : 1))
    for (let from = 0; from < order.length; from += CHUNK) {
      const rows: unknown[] = []
      for (const i of order.slice(from, from + CHUNK)) {
        const { c, purpose, key, validUntil } = checked[i]!
        rows.push(key, firstLogIndex + i, hashes[i], c.pseudonym, purpose.id, c.state, now, validUntil === null ? null : Date.parse(validUntil), c.dataset ?? null)
      }
      insertMany(ctx.db, 'consent_current (map_key, log_index, record, subject, purpose, state, valid_from, valid_until, dataset)', 9, rows, 'INSERT OR REPLACE')
    }
    if (opts.deferMap) opts.deferMap(mapChanges)
    else ctx.map.apply(mapChanges)
    return { count: checked.length, unchanged, firstLogIndex, byState }
  })()
}

/** Whether `c` states what the current record `r` does: state, purpose, validity, dataset, processing, data, legal basis, evidence. */
function sameAsCurrent(r: ConsentRecord, c: ConsentChange, purpose: Purpose, validUntil: string | null, controller: string): boolean {
  const e = r.evidence
  const sameEvidence = c.signature
    ? e.type === 'subject-signature' && e.signature === c.signature.signature && e.signer === c.signature.signer && e.issued === c.signature.issued
    : e.type === 'controller-attestation' && e.attestedBy === controller
  return (
    sameEvidence &&
    r.state === c.state &&
    r.controller === controller &&
    r.purpose.id === purpose.id &&
    r.purpose.dpv === purpose.dpv &&
    r.validUntil === validUntil &&
    r.dataset === (c.dataset ?? null) &&
    r.legalBasis === (c.legalBasis ?? 'dpv:Consent') &&
    r.processing.join('\n') === (c.processing ?? DEFAULT_PROCESSING).join('\n') &&
    r.personalData.join('\n') === (c.personalData ?? DEFAULT_PERSONAL_DATA).join('\n')
  )
}

/** Applies changes and returns each applied change (for small batches: keeps every record). */
export function applyConsentChangesListed(ctx: ConsentContext, controller: string, changes: readonly ConsentChange[], now?: number): AppliedChange[] {
  const out: AppliedChange[] = []
  applyConsentChanges(ctx, controller, changes, { ...(now === undefined ? {} : { now }), onApplied: (a) => out.push(a) })
  return out
}
