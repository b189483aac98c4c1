// The training gate: which records of a dataset may be used for a purpose at a time, as a
// training manifest that anyone can check against the chain. Outside checkers rely on
// `included: [{index, commitment, ...}]` and `excluded: [{index, reason, ...}]`.
import { canonicalJsonBytes, sha256Hex } from '../crypto/index.js'
import { LOG_EVENT, type ConsentManifestEvent, type MapMultiProof } from '../log/index.js'
import { consentErrors } from './errors.js'
import { resolvePurpose, type Purpose } from './purposes.js'
import { consentKey, type ConsentRecord } from './records.js'
import { recordAt, type ConsentContext } from './store.js'

/**
 * v2 states the fields many consent records share once (`consentShared`); v1 manifests
 * (every record in full) still verify.
 */
export const MANIFEST_TYPE = 'provena.training-manifest/v2'
export const MANIFEST_TYPE_V1 = 'provena.training-manifest/v1'

/**
 * The fields of a consent record that are the same across a controller's records for a
 * purpose: the controller's ISO/IEC TS 27560 terms, the purpose, processing and legal
 * basis. A manifest states each distinct combination once, in `consentShared`; a record
 * names its combination by index (`shared`) and carries only its own fields. A checker
 * rebuilds the record as {...consentShared[shared], ...own} and hashes it: the record
 * hash binds every field, wherever the manifest wrote it. Evidence is shared when it is
 * the controller's attestation (the same for all its records).
 */
export const SHARED_RECORD_FIELDS = [
  '@context',
  'type',
  'conformsTo',
  'controller',
  'purpose',
  'processing',
  'personalData',
  'legalBasis',
  'notice',
  'language',
  'storage',
  'jurisdiction',
  'recipients',
  'withdrawalMethod',
] as const

/** A consent record in a v2 manifest: its own fields, and the index of its shared fields in `consentShared`. */
export type CompactConsentRecord = Record<string, unknown> & { shared?: number }

export type ExclusionReason = 'no-consent' | 'other-dataset' | 'withdrawn' | 'refused' | 'expired' | 'not-yet-valid' | 'erased'

export interface IncludedRecord {
  index: number
  commitment: string
  subject: string
  consent: string
}

export interface ExcludedRecord {
  index: number
  commitment: string
  reason: ExclusionReason
  /** The subject's pseudonym (absent for erased subjects: nothing links them any more). */
  subject?: string
  /** The hash of the consent record behind the reason, when there is one. */
  consent?: string
}

export interface TrainingManifest {
  type: typeof MANIFEST_TYPE | typeof MANIFEST_TYPE_V1
  dataset: { id: string; root: string; records: number }
  purpose: Purpose
  at: string
  controller: string
  chain: { chainId: number; checkpointAnchor: string; assetRegistry: string }
  checkpoint: { index: number; treeSize: number; rootHash: string; mapRoot: string }
  included: IncludedRecord[]
  excluded: ExcludedRecord[]
  /** Field values many consent records share (v2; see SHARED_RECORD_FIELDS). */
  consentShared?: Record<string, unknown>[]
  /** Every consent record the manifest relies on, by its SHA-256: in full (v1), or compact over `consentShared` (v2). */
  consentRecords: Record<string, ConsentRecord | CompactConsentRecord>
  /** One proof of every key the manifest names (present or absent) under checkpoint.mapRoot. */
  mapProof: MapMultiProof
  createdAt: string
}

/** What the gate needs to know of the dataset (from the registry and the data plane). */
export interface GateDataset {
  id: string
  root: string
  controller: string
  /** Per record: the commitment (32 bytes each, in index order). */
  commitments: Buffer
  /** Per record: the subject's pseudonym, or null when the subject was erased. */
  subjects: (string | null)[]
}

/** The anchored checkpoint the manifest is built against. */
export interface AnchoredState {
  index: number
  treeSize: number
  rootHash: Buffer
  mapRoot: Buffer
  chainId: number
  checkpointAnchor: string
  assetRegistry: string
}


/** The verdict codes the state load computes in SQLite (see checkRecords). */
const VERDICT_OF: Record<string, ExclusionReason | null> = { g: null, w: 'withdrawn', r: 'refused', n: 'not-yet-valid', e: 'expired', o: 'other-dataset' }
const SEP = '\x1f'

/**
 * The gate's check: for each record, null when its subject's current consent for the
 * purpose holds at `at` (ms), else why not. The consent state is loaded with each row's
 * verdict already decided by SQLite (a one-letter code before the subject, rows joined into
 * one string per `chunk` rows): no row object, no Buffer, one string a subject; then one map
 * lookup a record. `loadSeconds` is the load, `checkSeconds` the lookups.
 */
export function checkRecords(
  ctx: Pick<ConsentContext, 'db'>,
  subjects: readonly (string | null)[],
  datasetId: string,
  purposeId: string,
  at: number,
  chunk = 1 << 16,
): { verdict: (ExclusionReason | null)[]; checkSeconds: number; loadSeconds: number } {
  const t0 = performance.now()
  const current = new Map<string, ExclusionReason | null>()
  const page = ctx.db.prepare(
    `SELECT group_concat(v, char(31)) AS v, max(map_key) AS last, count(*) AS n FROM (
       SELECT map_key, CASE state
           WHEN 'given' THEN CASE WHEN valid_from > @at THEN 'n' WHEN valid_until IS NOT NULL AND @at >= valid_until THEN 'e' WHEN dataset IS NOT NULL AND dataset <> @dataset THEN 'o' ELSE 'g' END
           WHEN 'withdrawn' THEN 'w' WHEN 'refused' THEN 'r' ELSE '?' END || subject AS v
       FROM consent_current WHERE purpose = @purpose AND map_key > @after ORDER BY map_key LIMIT @chunk)`,
  )
  let after: Buffer = Buffer.alloc(0)
  for (;;) {
    const r = page.get({ at, dataset: datasetId, purpose: purposeId, after, chunk }) as { v: string | null; last: Buffer | null; n: number }
    if (r.v !== null) {
      for (const row of r.v.split(SEP)) {
        const reason = VERDICT_OF[row[0]!]
        if (reason === undefined) throw new Error(`consent_current holds an unknown state for subject ${row.slice(1)}`)
        current.set(row.slice(1), reason)
      }
    }
    if (r.n < chunk || r.last === null) break
    after = r.last
  }
  const t1 = performance.now()
  const n = subjects.length
  const verdict = new Array<ExclusionReason | null>(n)
  for (let i = 0; i < n; i++) {
    const s = subjects[i]
    if (s === null || s === undefined) {
      verdict[i] = 'erased'
      continue
    }
    const v = current.get(s)
    verdict[i] = v === undefined ? 'no-consent' : v
  }
  return { verdict, checkSeconds: (performance.now() - t1) / 1000, loadSeconds: (t1 - t0) / 1000 }
}

/** The current consent rows of a purpose (the hashes and log places the manifest names). */
function currentRows(ctx: Pick<ConsentContext, 'db'>, purposeId: string): Map<string, { log_index: number; record: Buffer }> {
  const current = new Map<string, { log_index: number; record: Buffer }>()
  for (const row of ctx.db.prepare('SELECT log_index, subject, record FROM consent_current WHERE purpose = ?').iterate(purposeId) as Iterable<{ log_index: number; subject: string; record: Buffer }>) {
    current.set(row.subject, row)
  }
  return current
}

/**
 * The gate's rule alone, for an export: per pseudonym, null when the subject's current
 * consent for the purpose holds at `at` (ms) for the dataset, else why not. The same rule
 * and the same load as the training gate (`checkRecords`).
 */
export function consentVerdicts(ctx: Pick<ConsentContext, 'db'>, pseudonyms: readonly string[], datasetId: string, purposeId: string, at: number): (ExclusionReason | null)[] {
  return checkRecords(ctx, pseudonyms, datasetId, purposeId, at).verdict
}

/**
 * Checks every record of the dataset against the subject's current consent for the
 * purpose at `at` (ms), and builds the manifest with one multiproof of the consent map.
 * The map must be in the state the anchored checkpoint commits to.
 */
export function buildManifest(
  ctx: ConsentContext,
  ds: GateDataset,
  purposeId: string,
  at: number,
  anchored: AnchoredState,
  onProgress?: (phase: string) => void,
): { manifest: TrainingManifest; bytes: Buffer; hash: string; checkSeconds: number } {
  const purpose = resolvePurpose(purposeId, ctx.ownPurposes)
  if (!ctx.map.root().equals(anchored.mapRoot)) throw consentErrors.notAnchored('consent changed after the latest anchored checkpoint: its map root is not the current one')
  onProgress?.('checking records')
  const { verdict, checkSeconds } = checkRecords(ctx, ds.subjects, ds.id, purpose.id, at)
  const current = currentRows(ctx, purpose.id)
  const n = ds.subjects.length

  onProgress?.('collecting records and proofs')
  const hex = (i: number) => ds.commitments.toString('hex', 32 * i, 32 * i + 32)
  const included: IncludedRecord[] = []
  const excluded: ExcludedRecord[] = []
  const hashes = new Set<string>()
  const logIndexOf = new Map<string, number>()
  const keys = new Map<string, Buffer>()
  for (let i = 0; i < n; i++) {
    const s = ds.subjects[i]
    const v = verdict[i]
    if (s === null || s === undefined) {
      excluded.push({ index: i, commitment: hex(i), reason: 'erased' })
      continue
    }
    if (!keys.has(s)) keys.set(s, consentKey(s, purpose.id))
    const c = current.get(s)
    const consent = c?.record.toString('hex')
    if (consent) {
      hashes.add(consent)
      logIndexOf.set(consent, c!.log_index)
    }
    if (v === null) included.push({ index: i, commitment: hex(i), subject: s, consent: consent! })
    else excluded.push({ index: i, commitment: hex(i), reason: v!, subject: s, ...(consent ? { consent } : {}) })
  }
  const { consentShared, consentRecords } = compactConsentRecords([...hashes].sort().map((h) => [h, recordAt(ctx.log, logIndexOf.get(h)!)]))
  const mapProof: MapMultiProof = keys.size ? ctx.map.proveMany([...keys.values()]) : { keys: [], shape: '', hashes: [], leaves: [] }
  const manifest: TrainingManifest = {
    type: MANIFEST_TYPE,
    dataset: { id: ds.id, root: ds.root, records: n },
    purpose,
    at: new Date(at).toISOString(),
    controller: ds.controller,
    chain: { chainId: anchored.chainId, checkpointAnchor: anchored.checkpointAnchor, assetRegistry: anchored.assetRegistry },
    checkpoint: { index: anchored.index, treeSize: anchored.treeSize, rootHash: anchored.rootHash.toString('hex'), mapRoot: anchored.mapRoot.toString('hex') },
    included,
    excluded,
    consentShared,
    consentRecords,
    mapProof,
    createdAt: new Date().toISOString(),
  }
  const bytes = canonicalJsonBytes(manifest)
  return { manifest, bytes, hash: sha256Hex(bytes), checkSeconds }
}

/** States the fields records share once (SHARED_RECORD_FIELDS): `records` as a v2 manifest holds them. */
export function compactConsentRecords(records: [string, ConsentRecord][]): { consentShared: Record<string, unknown>[]; consentRecords: Record<string, CompactConsentRecord> } {
  const consentShared: Record<string, unknown>[] = []
  const index = new Map<string, number>()
  const consentRecords: Record<string, CompactConsentRecord> = {}
  for (const [hash, record] of records) {
    const own: CompactConsentRecord = { ...(record as unknown as Record<string, unknown>) }
    const shared: Record<string, unknown> = {}
    for (const k of SHARED_RECORD_FIELDS) {
      if (k in own) {
        shared[k] = own[k]
        delete own[k]
      }
    }
    if (record.evidence.type === 'controller-attestation') {
      shared.evidence = own.evidence
      delete own.evidence
    }
    // The records came from the log as canonical JSON: equal values stringify equally.
    const key = JSON.stringify(shared)
    let i = index.get(key)
    if (i === undefined) {
      i = consentShared.push(shared) - 1
      index.set(key, i)
    }
    own.shared = i
    consentRecords[hash] = own
  }
  return { consentShared, consentRecords }
}

/**
 * The consent records of a manifest, in full, by their hash: a v1 manifest's as they are,
 * a v2 manifest's rebuilt over `consentShared`. A record naming shared fields that do not
 * exist, or repeating one of them, is reported in `problems` and left out.
 */
export function expandConsentRecords(m: Pick<TrainingManifest, 'type' | 'consentShared' | 'consentRecords'>): { records: Map<string, ConsentRecord>; problems: string[] } {
  const records = new Map<string, ConsentRecord>()
  const problems: string[] = []
  const shared = m.type === MANIFEST_TYPE ? (m.consentShared ?? []) : undefined
  for (const [hash, entry] of Object.entries(m.consentRecords ?? {})) {
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
      problems.push(`consent record ${hash.slice(0, 12)} is not an object`)
      continue
    }
    if (!shared) {
      records.set(hash, entry as ConsentRecord)
      continue
    }
    const { shared: i, ...own } = entry as CompactConsentRecord
    if (i === undefined) {
      records.set(hash, own as unknown as ConsentRecord)
      continue
    }
    const base = Number.isInteger(i) ? shared[i] : undefined
    if (base === null || typeof base !== 'object' || Array.isArray(base)) {
      problems.push(`consent record ${hash.slice(0, 12)} names shared fields ${JSON.stringify(i)}, which the manifest does not have`)
      continue
    }
    const twice = Object.keys(own).find((k) => Object.hasOwn(base, k))
    if (twice !== undefined) {
      problems.push(`consent record ${hash.slice(0, 12)} states "${twice}" both itself and in its shared fields`)
      continue
    }
    records.set(hash, { ...base, ...own } as unknown as ConsentRecord)
  }
  return { records, problems }
}

/** Logs a manifest (its hash and counts) and remembers which records it included. */
export function recordManifest(ctx: ConsentContext, m: TrainingManifest, hash: string, actor: string): number {
  const reasons: Record<string, number> = {}
  for (const e of m.excluded) reasons[e.reason] = (reasons[e.reason] ?? 0) + 1
  const event: ConsentManifestEvent = {
    type: LOG_EVENT.consentManifest,
    actor,
    time: new Date().toISOString(),
    manifest: hash,
    dataset: m.dataset.id,
    purpose: m.purpose.id,
    at: m.at,
    checkpoint: m.checkpoint.index,
    included: m.included.length,
    excluded: reasons,
  }
  return ctx.db.transaction(() => {
    const index = ctx.log.append([canonicalJsonBytes(event)])
    const included = Buffer.from(Uint32Array.from(m.included.map((r) => r.index)).buffer)
    ctx.db
      .prepare('INSERT OR REPLACE INTO consent_manifests (hash, dataset, purpose, at, log_index, included) VALUES (?, ?, ?, ?, ?, ?)')
      .run(hash, m.dataset.id, m.purpose.id, m.at, index, included)
    return index
  })()
}



/** The logged manifests of a dataset that included any of `indexes`. */
export function manifestsIncluding(ctx: Pick<ConsentContext, 'db'>, dataset: string, indexes: readonly number[]): { hash: string; purpose: string; at: string; logIndex: number; records: number[] }[] {
  const want = new Set(indexes)
  const rows = ctx.db.prepare('SELECT hash, purpose, at, log_index, included FROM consent_manifests WHERE dataset = ? ORDER BY log_index').all(dataset) as {
    hash: string
    purpose: string
    at: string
    log_index: number
    included: Buffer
  }[]
  return rows.flatMap((r) => {
    const included = new Uint32Array(r.included.buffer.slice(r.included.byteOffset, r.included.byteOffset + r.included.byteLength))
    const records = [...included].filter((i) => want.has(i))
    return records.length ? [{ hash: r.hash, purpose: r.purpose, at: r.at, logIndex: r.log_index, records }] : []
  })
}
