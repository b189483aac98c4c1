import { createHmac, createSecretKey, hkdfSync, randomBytes, type KeyObject } from 'node:crypto'
import { basename } from 'node:path'
import { aeadOpen, aeadSeal, canonicalJson, canonicalJsonBytes, cryptoErrors, ed25519Seed, randomBytesPooled, sha256Hex } from '../crypto/index.js'
import { checkpointWal, insertMany, type Db } from '../db/index.js'
import { LOG_EVENT, type AccessExportEvent, type SubjectErasedEvent } from '../log/index.js'
import { ProvenaError } from '../errors.js'
import {
  commitRecordAt,
  CommitmentBuilder,
  datasetManifest,
  destroySalts,
  findByContent,
  getAsset,
  memberReader,
  openDataset,
  recordLine,
  registryErrors,
  storeDatasetRegistration,
  workerCount,
  type CommittedDataset,
  type DatasetRegistration,
  type RecordBatch,
  type RegistryWriteContext,
} from '../registry/index.js'
import { SegmentWriter, type BlobStore } from '../store/index.js'
import { decryptParallel, PARALLEL_EXPORT_FROM, type ExportRow } from './exportParallel.js'
import { OutputFile, parseFlatRecord, recordAadWriter, RecordWriter } from './exportWriter.js'
import { keyRefsById, SubjectKeyVault, type KeyRef } from './keyVault.js'
import { placeField, placeReader, readPlaces, writePlaces } from './recordPlaces.js'
import type { UnlockedIdentity } from './identities.js'

/** What the data plane needs: the registry's write context and the block store. */
export interface DataPlaneContext extends RegistryWriteContext {
  store: BlobStore
}

/**
 * A controller's two long-term secrets, derived from its identity seed with HKDF-SHA256
 * (RFC 5869) under separate labels: the key-encryption key that wraps subjects' data keys,
 * and the HMAC key that turns subject ids into pseudonyms.
 */
export function controllerSecrets(controller: UnlockedIdentity): { kek: Buffer; pseudonymKey: Buffer } {
  const seed = ed25519Seed(controller.signing.privateKey)
  const derive = (label: string) => Buffer.from(hkdfSync('sha256', seed, Buffer.from('provena'), Buffer.from(label), 32))
  return { kek: derive('provena/kek/v1'), pseudonymKey: derive('provena/pseudonym/v1') }
}

/** The pseudonym of a subject id: HMAC-SHA256 under the controller's key (hex). */
export function pseudonymOf(pseudonymKey: Uint8Array | KeyObject, subjectId: string): string {
  return createHmac('sha256', pseudonymKey).update(subjectId, 'utf8').digest('hex')
}

function requireController(id: UnlockedIdentity): void {
  if (id.role !== 'controller') throw new ProvenaError('ACCESS_NOT_CONTROLLER', `identity ${id.name} is a ${id.role}, not a controller`, { hint: 'import as a controller identity (--as NAME)' })
}

/**
 * Imports a dataset encrypted: each record is committed as `dataset register` does (the
 * same root, so `dataset verify` works on the clear file), then encrypted with AES-256-GCM
 * under its subject's data key (dataset id and record index as additional data) and packed
 * into content-addressed segments. Subject ids are pseudonymised with the controller's
 * HMAC key; data keys are wrapped under its key-encryption key. One transaction records it all.
 */
export async function importDataset(
  ctx: DataPlaneContext,
  path: string,
  opts: {
    subjectColumn: string
    controller: UnlockedIdentity
    name?: string | undefined
    /** Bytes read of the file, then records encrypted. */
    onProgress?: (phase: 'reading' | 'encrypting', done: number, total: number) => void
  },
): Promise<DatasetRegistration & { subjects: number; segments: number }> {
  requireController(opts.controller)
  const source = openDataset(path)
  if (source.format === 'dir') throw registryErrors.notAFile(path)
  const { kek, pseudonymKey } = controllerSecrets(opts.controller)

  // Pass 1: read, canonicalise, salt, commit; keep the canonical bytes for pass 2.
  const builder = new CommitmentBuilder()
  const batches: RecordBatch[] = []
  const pseudonyms: string[] = []
  const subjectOf = memberReader(opts.subjectColumn, source.format === 'csv')
  const hmacKey = createSecretKey(pseudonymKey) // imported once, not per record
  for await (const batch of source.batches((bytes) => opts.onProgress?.('reading', bytes, source.size))) {
    if (source.columns && !source.columns.includes(opts.subjectColumn)) {
      throw registryErrors.parse(path, 1, `no column "${opts.subjectColumn}" (columns: ${source.columns.join(', ')})`, opts.subjectColumn)
    }
    const salts = randomBytes(32 * batch.count)
    const commitments = Buffer.allocUnsafe(32 * batch.count)
    for (let i = 0, start = 0; i < batch.count; i++) {
      const end = batch.ends[i]!
      const subject = subjectOf(batch.bytes, start, end)
      if (subject === undefined) {
        throw registryErrors.parse(path, batch.lines[i]!, `the record has no subject id in "${opts.subjectColumn}"`, opts.subjectColumn)
      }
      if (subject.trim() === '') throw registryErrors.parse(path, batch.lines[i]!, `the subject id in "${opts.subjectColumn}" is blank`, opts.subjectColumn)
      commitRecordAt(builder.count + i, salts, 32 * i, batch.bytes, start, end).copy(commitments, 32 * i)
      pseudonyms.push(pseudonymOf(hmacKey, subject))
      start = end
    }
    builder.add(batch.lines, salts, commitments, 0)
    batches.push(batch)
  }
  const n = builder.count
  if (n === 0) throw registryErrors.empty(path)
  const root = builder.tree.root()
  const manifest = datasetManifest(source.format, source.columns, n, root)
  const committed: CommittedDataset = {
    id: sha256Hex(canonicalJsonBytes(manifest)),
    manifest,
    root,
    contentDigest: source.contentDigest().toString('hex'),
    lines: builder.lines.subarray(0, n),
    salts: builder.salts.subarray(0, 32 * n),
    commitments: builder.commitments.subarray(0, 32 * n),
  }

  const before = findByContent(ctx.db, 'dataset', committed.contentDigest)
  if (before) {
    const imported = ctx.db.prepare('SELECT id FROM access_datasets WHERE dataset = ?').pluck().get(before.id) as number | undefined
    if (imported === undefined) throw registryErrors.conflict(before.id, 'in clear (dataset register): its records were never encrypted; import another copy name or a new data dir')
    // The same file again: its registration as it stands, nothing encrypted twice.
    const registration = await storeDatasetRegistration(ctx, committed, opts.name ?? basename(path))
    const places = readPlaces(ctx.db, imported)
    return { ...registration, subjects: new Set(placeField(places, 0)).size, segments: new Set(placeField(places, 1)).size }
  }

  // Pass 2: one data key per subject (an existing one is reused), encrypt, pack.
  const controller = opts.controller.did
  const vault = new SubjectKeyVault(ctx.db, controller, kek)
  const keys = new Map<string, Buffer>()
  const subjectIds = new Map<string, number>()
  const fresh = new Map<string, Buffer>()
  const known = vault.refsOf(pseudonyms)
  for (const pseudonym of pseudonyms) {
    if (keys.has(pseudonym)) continue
    const ref = known.get(pseudonym)
    if (ref?.erased) throw new ProvenaError('ACCESS_SUBJECT_ERASED', `a record of ${path} belongs to a subject who was erased`, { hint: 'remove their records before importing' })
    if (ref) {
      keys.set(pseudonym, vault.key(ref))
      subjectIds.set(pseudonym, ref.id)
    } else {
      const key = randomBytesPooled(32)
      keys.set(pseudonym, key)
      fresh.set(pseudonym, key)
    }
  }
  const segments = new SegmentWriter(ctx.store)
  const aadOf = recordAadWriter(committed.id)
  let index = 0
  for (const batch of batches) {
    for (let i = 0, start = 0; i < batch.count; i++, index++) {
      const end = batch.ends[i]!
      const full = segments.add(aeadSeal(keys.get(pseudonyms[index]!)!, batch.bytes.subarray(start, end), aadOf(index)))
      if (full) await full
      start = end
    }
    opts.onProgress?.('encrypting', index, n)
  }
  const refs = await segments.finish()

  const registration = await storeDatasetRegistration(ctx, committed, opts.name ?? basename(path), () => {
    for (const [pseudonym, id] of vault.insert(fresh, Date.now())) subjectIds.set(pseudonym, id)
    const datasetNo = Number(
      ctx.db
        .prepare('INSERT INTO access_datasets (dataset, controller, subject_column, format, columns) VALUES (?, ?, ?, ?, ?)')
        .run(committed.id, controller, opts.subjectColumn, source.format, source.columns ? JSON.stringify(source.columns) : null).lastInsertRowid,
    )
    const segmentNo = segmentNumbers(ctx.db, refs)
    const places = new Uint32Array(4 * n)
    for (let i = 0; i < n; i++) {
      places[4 * i] = subjectIds.get(pseudonyms[i]!)!
      places[4 * i + 1] = segmentNo.get(refs[i]!.cid)!
      places[4 * i + 2] = refs[i]!.offset
      places[4 * i + 3] = refs[i]!.length
    }
    writePlaces(ctx.db, datasetNo, places)
    // Whose records, written in subject order: new subjects' numbers are the highest, so
    // this appends to the table's B-tree instead of inserting at random.
    const subjectOf = (i: number) => places[4 * i]!
    const order = new Uint32Array(n).map((_, i) => i).sort((a, b) => subjectOf(a) - subjectOf(b) || a - b)
    const bySubject: number[] = []
    for (const i of order) bySubject.push(subjectOf(i), datasetNo, i)
    insertMany(ctx.db, 'access_subject_records (subject, dataset, idx)', 3, bySubject)
  })
  return { ...registration, subjects: keys.size, segments: new Set(refs.map((r) => r.cid)).size }
}

/** The number of each segment (by CID) in access_segments, adding the new ones. In a transaction. */
function segmentNumbers(db: DataPlaneContext['db'], refs: readonly { cid: string }[]): Map<string, number> {
  const add = db.prepare('INSERT OR IGNORE INTO access_segments (cid) VALUES (?)')
  const get = db.prepare('SELECT id FROM access_segments WHERE cid = ?').pluck()
  const out = new Map<string, number>()
  for (const { cid } of refs) {
    if (out.has(cid)) continue
    add.run(cid)
    out.set(cid, get.get(cid) as number)
  }
  return out
}

/** The CID of a segment by its number, remembered. */
function segmentCids(db: DataPlaneContext['db']): (segment: number) => string {
  const get = db.prepare('SELECT cid FROM access_segments WHERE id = ?').pluck()
  const cache = new Map<number, string>()
  return (segment) => {
    let cid = cache.get(segment)
    if (cid === undefined) cache.set(segment, (cid = get.get(segment) as string))
    return cid
  }
}

/** What an export reports. */
export interface ExportReport {
  dataset: string
  out: string
  /** The purpose the records were exported for; null for the controller's own copy (a backup). */
  purpose: string | null
  records: number
  /** Records left out because their subject was erased. */
  erased: number
  /** Records left out, by reason (`erased`, and the consent decision's reasons: `refused`, `withdrawn`, `no-consent`, …). */
  excluded: Record<string, number>
  logIndex: number
}

/**
 * The consent decision an export applies, from the caller (the service layer asks the
 * consent gate): for each pseudonym, in order, null when the subject's consent for the
 * export's purpose holds now, else why not (`refused`, `withdrawn`, `expired`, `no-consent`, …).
 */
export type ConsentDecision = (pseudonyms: readonly string[]) => readonly (string | null)[]

/** An imported dataset as the data plane keeps it. */
export interface ImportedDataset {
  /** Its number in access_datasets. */
  no: number
  /** Its registry id and Merkle root (hex). */
  id: string
  root: string
  /** DID of the controller that imported it (holds its keys). */
  controller: string
  subjectColumn: string
  format: string
  /** The CSV columns; undefined for JSON Lines. */
  columns: string[] | undefined
}

/** The imported dataset `idOrPrefix` names; ACCESS_NOT_IMPORTED for one registered in clear. */
export function importedDataset(db: Db, idOrPrefix: string): ImportedDataset {
  const asset = getAsset(db, idOrPrefix)
  const meta = db.prepare('SELECT * FROM access_datasets WHERE dataset = ?').get(asset.id) as
    | { id: number; controller: string; subject_column: string; format: string; columns: string | null }
    | undefined
  if (!meta) throw new ProvenaError('ACCESS_NOT_IMPORTED', `dataset ${asset.id} was registered, not imported: there is nothing encrypted to export`, { hint: 'use provena dataset import' })
  return {
    no: meta.id,
    id: asset.id,
    root: asset.root,
    controller: meta.controller,
    subjectColumn: meta.subject_column,
    format: meta.format,
    columns: meta.columns ? (JSON.parse(meta.columns) as string[]) : undefined,
  }
}

/** The records an export or a key release lets go, with their subjects' data keys. */
export interface RecordSelection {
  /** The records, in index order (`subject` is the subject's number in this data dir). */
  rows: ExportRow[]
  /** Data key and pseudonym per subject number, in order of first record. */
  keys: Map<number, Buffer>
  pseudonyms: Map<number, string>
  /** Records left out, by reason (`erased`, and the consent decision's reasons). */
  excluded: Record<string, number>
}

/**
 * The controller's side of every export and key release: the records whose subject is not
 * erased and, with `consent`, whose consent holds; their subjects' data keys unwrapped
 * with the controller's key-encryption key. A subject left out keeps its key sealed in
 * the vault: it is never unwrapped.
 */
export function selectRecords(db: Db, dataset: ImportedDataset, controller: UnlockedIdentity, consent?: ConsentDecision): RecordSelection {
  requireController(controller)
  if (controller.did !== dataset.controller) throw new ProvenaError('ACCESS_NOT_CONTROLLER', `${controller.name} is not the controller of dataset ${dataset.id.slice(0, 12)}: only its controller holds its keys`)
  const vault = new SubjectKeyVault(db, dataset.controller, controllerSecrets(controller).kek)
  // The records' places, and their subjects' key references (a statement per 500 subjects).
  const places = readPlaces(db, dataset.no)
  const refs = [...keyRefsById(db, placeField(places, 0))].filter(([, ref]) => !ref.erased)
  // The consent decision, per subject, taken now, before any key is unwrapped.
  const verdicts = consent?.(refs.map(([, ref]) => ref.pseudonym))
  const leftOut = new Map<number, string>()
  const keys = new Map<number, Buffer>()
  const pseudonyms = new Map<number, string>()
  refs.forEach(([id, ref], k) => {
    const why = verdicts?.[k]
    if (why) return void leftOut.set(id, why)
    keys.set(id, vault.key(ref))
    pseudonyms.set(id, ref.pseudonym)
  })
  const rows: ExportRow[] = []
  const excluded: Record<string, number> = {}
  for (let idx = 0, i = 0; i < places.length; idx++, i += 4) {
    const subject = places[i]!
    if (keys.has(subject)) rows.push({ idx, subject, segment: places[i + 1]!, offset: places[i + 2]!, length: places[i + 3]! })
    else {
      const why = leftOut.get(subject) ?? 'erased'
      excluded[why] = (excluded[why] ?? 0) + 1
    }
  }
  return { rows, keys, pseudonyms, excluded }
}

/**
 * Decrypts a dataset for its controller and writes it in the format it was imported in
 * (CSV with the same columns, or JSON Lines). Records of erased subjects are left out,
 * and, with `consent`, records whose subject's consent for the purpose does not hold:
 * their keys are not even unwrapped. Each reason is counted in the report and in the
 * export's log entry. A record whose ciphertext fails its GCM tag is named.
 *
 * Only the controller exports here: anyone else, even an identity of the same node,
 * receives the keys through a key release (src/access/release.ts), sealed to its own
 * X25519 key, and decrypts with `exportReleased`.
 */
export async function exportDataset(
  ctx: DataPlaneContext,
  idOrPrefix: string,
  opts: {
    as: UnlockedIdentity
    /** Why; null for the controller's own copy (a backup: no consent filter). */
    purpose: string | null
    out: string
    /** Whether AccessPolicy allows `address` to use the dataset for the purpose, now. */
    isAllowed: (dataset: string, address: string, purpose: string) => Promise<boolean>
    /** Which subjects' records may go, for the purpose, now (none left out when absent). */
    consent?: ConsentDecision | undefined
    /** Records from which decryption runs on worker threads (default PARALLEL_EXPORT_FROM). */
    parallelFrom?: number | undefined
    /** Records written so far, of all. */
    onProgress?: ((done: number, total: number) => void) | undefined
  },
): Promise<ExportReport> {
  const dataset = importedDataset(ctx.db, idOrPrefix)
  const logExport = (outcome: string, records: number, excluded: Record<string, number>) =>
    logExportEvent(ctx, { actor: opts.as.did, dataset: dataset.id, purpose: opts.purpose, records, excluded, outcome })
  if (dataset.controller !== opts.as.did) {
    logExport('refused: not the controller', 0, {})
    throw new ProvenaError('ACCESS_NOT_CONTROLLER', `${opts.as.name} is not the controller of dataset ${dataset.id.slice(0, 12)}: a member receives its keys in a key release`, {
      hint: 'provena access request DATASET --purpose P --out req.json, then the controller runs provena access release',
    })
  }
  // AccessPolicy.isAllowed lets the dataset's owner through whatever the purpose; no grant
  // is ever made for the empty purpose (grant purposes are checked), so '' asks "owner?".
  if (!(await opts.isAllowed(dataset.id, opts.as.address, opts.purpose ?? ''))) {
    logExport('refused: no active grant on-chain', 0, {})
    throw new ProvenaError('ACCESS_DENIED', `AccessPolicy does not allow ${opts.as.name} to use dataset ${dataset.id.slice(0, 12)} for ${opts.purpose ?? 'its own export'} now`, {
      hint: 'the dataset is not claimed on-chain yet: grant access once, or re-import',
    })
  }
  const { rows, keys, excluded } = selectRecords(ctx.db, dataset, opts.as, opts.consent)
  const cidOf = segmentCids(ctx.db)
  try {
    await writeRecords({
      dataset: dataset.id,
      columns: dataset.columns,
      subjectColumn: dataset.subjectColumn,
      rows,
      keyOf: (s) => keys.get(s)!,
      segmentBytes: (segment) => ctx.store.get(cidOf(segment)),
      out: opts.out,
      failed: (idx) => {
        throw cryptoErrors.decryptFailed(`record ${idx} (line ${recordLine(ctx.db, dataset.id, idx)} as imported) does not decrypt: its ciphertext or key was altered (GCM tag mismatch)`)
      },
      parallelFrom: opts.parallelFrom,
      onProgress: opts.onProgress,
    })
  } catch (error) {
    // Allowed, but nothing written: the attempt is on the record with why it failed.
    logExport(`failed: ${(error as { code?: string }).code ?? 'error'}`, 0, excluded)
    throw error
  }
  const logIndex = logExport('granted', rows.length, excluded)
  return { dataset: dataset.id, out: opts.out, purpose: opts.purpose, records: rows.length, erased: excluded.erased ?? 0, excluded, logIndex }
}

/** Appends an export's log entry (provena.access.export/v1); returns its index. */
export function logExportEvent(
  ctx: Pick<DataPlaneContext, 'log'>,
  e: { actor: string; dataset: string; purpose: string | null; records: number; excluded: Record<string, number>; outcome: string; release?: string | undefined },
): number {
  const event: AccessExportEvent = {
    type: LOG_EVENT.accessExport,
    actor: e.actor,
    time: new Date().toISOString(),
    dataset: e.dataset,
    purpose: e.purpose,
    records: e.records,
    erased: e.excluded.erased ?? 0,
    excluded: e.excluded,
    outcome: e.outcome,
    ...(e.release ? { release: e.release } : {}),
  }
  return ctx.log.append([canonicalJsonBytes(event)])
}

/** The CIDs of segments by number (access_segments), for a key release's list of segments. */
export function segmentCidsOf(db: Db): (segment: number) => string {
  return segmentCids(db)
}

/**
 * Decrypts `rows` (in index order) and writes them into `out` in the dataset's format: CSV
 * with `columns`, else JSON Lines; with `pseudonymOf`, the subject column holds the
 * subject's pseudonym. From `parallelFrom` rows on, decryption runs on worker threads.
 * The file appears only when every record decrypted (`failed` names one that does not).
 */
export async function writeRecords(opts: {
  dataset: string
  columns: string[] | undefined
  subjectColumn: string
  rows: readonly ExportRow[]
  keyOf: (subject: number) => Buffer
  pseudonymOf?: ((subject: number) => string) | undefined
  segmentBytes: (segment: number) => Promise<Buffer>
  out: string
  failed: (idx: number) => never
  parallelFrom?: number | undefined
  onProgress?: ((done: number, total: number) => void) | undefined
}): Promise<void> {
  const { rows: live, keyOf, pseudonymOf, segmentBytes, failed } = opts
  let file: OutputFile | undefined
  try {
    file = new OutputFile(opts.out)
    const writer = new RecordWriter(file, opts.columns, opts.subjectColumn)
    writer.header()
    const workers = live.length >= (opts.parallelFrom ?? PARALLEL_EXPORT_FROM) ? workerCount() : 0
    if (workers > 0) {
      await decryptParallel({
        workers,
        data: { dataset: opts.dataset, columns: opts.columns ?? null, subjectColumn: opts.subjectColumn },
        rows: live,
        keyOf,
        pseudonymOf,
        segmentBytes,
        sink: file,
        failed,
        onProgress: (done) => opts.onProgress?.(done, live.length),
      })
    } else {
      const aadOf = recordAadWriter(opts.dataset)
      const segments = new Map<number, Buffer>()
      const named = new Map<number, { text: string; bytes: Buffer }>()
      for (const { idx, segment: segmentNo, offset, length, subject } of live) {
        let segment = segments.get(segmentNo)
        if (!segment) {
          opts.onProgress?.(idx, live.length)
          segments.set(segmentNo, (segment = await segmentBytes(segmentNo)))
        }
        let plain: Buffer
        try {
          plain = aeadOpen(keyOf(subject), segment.subarray(offset, offset + length), aadOf(idx))
        } catch {
          return failed(idx)
        }
        let pseudonym: { text: string; bytes: Buffer } | undefined
        if (pseudonymOf) {
          pseudonym = named.get(subject)
          if (!pseudonym) named.set(subject, (pseudonym = { text: pseudonymOf(subject), bytes: Buffer.from(pseudonymOf(subject), 'utf8') }))
        }
        writer.write(plain, pseudonym)
      }
    }
    file.commit()
  } catch (error) {
    file?.abort()
    throw error
  }
}

/** What an erasure reports. */
export interface ErasureReport {
  pseudonym: string
  records: number
  datasets: string[]
  logIndex: number
}

/**
 * Erases a subject: destroys their data key (no record of theirs can be decrypted again)
 * and the salts of their records (their commitments become unlinkable), and logs it.
 */
export function eraseSubject(ctx: DataPlaneContext, subjectId: string, controller: UnlockedIdentity, opts: EraseOptions = {}): ErasureReport {
  return eraseSubjects(ctx, [subjectId], controller, opts)[0]!
}

export interface EraseOptions {
  /** Runs inside the erasure's transaction, after its log entries (e.g. the outbox row of its on-chain announcement). */
  inTransaction?: ((reports: ErasureReport[]) => void) | undefined
}

/**
 * Erases many subjects in one transaction (one log entry each), then checkpoints the
 * write-ahead log so that no copy of a destroyed key stays on disk.
 */
export function eraseSubjects(ctx: DataPlaneContext, subjectIds: readonly string[], controller: UnlockedIdentity, opts: EraseOptions = {}): ErasureReport[] {
  requireController(controller)
  const { pseudonymKey } = controllerSecrets(controller)
  const recsOf = ctx.db.prepare('SELECT d.dataset, r.idx FROM access_subject_records r JOIN access_datasets d ON d.id = r.dataset WHERE r.subject = ? ORDER BY r.dataset, r.idx')
  const vault = new SubjectKeyVault(ctx.db, controller.did, controllerSecrets(controller).kek)
  const now = Date.now()
  const reports = ctx.db.transaction(() => {
    const leaves: Buffer[] = []
    const refs: KeyRef[] = []
    const salts = new Map<string, number[]>()
    const out = subjectIds.map((subjectId) => {
      const pseudonym = pseudonymOf(pseudonymKey, subjectId)
      const ref = vault.ref(pseudonym)
      if (!ref) throw new ProvenaError('ACCESS_UNKNOWN_SUBJECT', `no data of subject "${subjectId}" under controller ${controller.name}`)
      if (ref.erased) throw new ProvenaError('ACCESS_ALREADY_ERASED', `subject "${subjectId}" was erased already`)
      const recs = recsOf.all(ref.id) as { dataset: string; idx: number }[]
      const byDataset = new Map<string, number[]>()
      for (const r of recs) byDataset.set(r.dataset, [...(byDataset.get(r.dataset) ?? []), r.idx])
      for (const [dataset, indexes] of byDataset) {
        const list = salts.get(dataset)
        if (list) list.push(...indexes)
        else salts.set(dataset, [...indexes])
      }
      const event: SubjectErasedEvent = { type: LOG_EVENT.subjectErased, actor: controller.did, time: new Date().toISOString(), pseudonym, records: recs.length, datasets: [...byDataset.keys()] }
      leaves.push(Buffer.from(canonicalJson(event), 'utf8'))
      refs.push(ref)
      return { pseudonym, records: recs.length, datasets: [...byDataset.keys()], logIndex: -1 }
    })
    // The salts: each chunk of records touched rewritten once. The keys: each block
    // holding one re-sealed once, with those slots zeroed.
    for (const [dataset, indexes] of salts) destroySalts(ctx.db, dataset, indexes)
    vault.erase(refs, now)
    // One append for all the events: the log's batch path.
    const first = ctx.log.append(leaves)
    out.forEach((r, k) => (r.logIndex = first + k))
    opts.inTransaction?.(out)
    return out
  })()
  clearErasedFromWal(ctx.db, reports)
  return reports
}

/**
 * secure_delete overwrote the keys in the database pages; the write-ahead log still holds
 * the pages as they were, and the database file its old pages, until a checkpoint copies
 * the WAL in and truncates it. A reader of an older snapshot (another process) blocks
 * that: retried a few times, then ACCESS_ERASURE_IN_WAL (the erasure itself is committed
 * and logged; `details.reports` says what was erased). Call again to retry.
 */
export function clearErasedFromWal(db: Db, reports: ErasureReport[] = []): void {
  const r = checkpointWal(db)
  if (r.done) return
  throw new ProvenaError(
    'ACCESS_ERASURE_IN_WAL',
    `the erasure is committed and logged, but another process is reading this database: the destroyed keys and salts may remain in ${db.name}-wal and ${db.name} (${r.checkpointed < 0 ? 'checkpoint busy' : `${r.checkpointed} of ${r.log} WAL frames copied`} after ${r.attempts} attempts)`,
    {
      hint: 'stop the other processes using this data dir (another provena command, a sqlite3 shell), then run any provena command on it: opening the database clears the write-ahead log',
      details: { reports, wal: r },
    },
  )
}

/** The DID of the controller that imported the dataset, or undefined for a dataset registered in clear. */
export function datasetController(db: DataPlaneContext['db'], dataset: string): string | undefined {
  return db.prepare('SELECT controller FROM access_datasets WHERE dataset = ?').pluck().get(dataset) as string | undefined
}

/**
 * Whose each record of an imported dataset is: the controller, and per record the
 * subject's pseudonym, or null when the subject was erased. Undefined when the dataset
 * was registered in clear (not imported).
 */
export function datasetSubjects(db: DataPlaneContext['db'], dataset: string): { controller: string; subjects: (string | null)[] } | undefined {
  const meta = db.prepare('SELECT id, controller FROM access_datasets WHERE dataset = ?').get(dataset) as { id: number; controller: string } | undefined
  if (!meta) return undefined
  const subjects = placeField(readPlaces(db, meta.id), 0)
  const refs = keyRefsById(db, subjects)
  return {
    controller: meta.controller,
    subjects: subjects.map((s) => {
      const ref = refs.get(s)
      return ref && !ref.erased ? ref.pseudonym : null
    }),
  }
}

/** Which of `pseudonyms` belong to subjects the controller `controllerDid` erased (one indexed lookup each). */
export function erasedAmong(db: DataPlaneContext['db'], controllerDid: string, pseudonyms: Iterable<string>): Set<string> {
  const out = new Set<string>()
  const controller = db.prepare('SELECT id FROM access_controllers WHERE did = ?').pluck().get(controllerDid) as number | undefined
  if (controller === undefined) return out
  const erased = db.prepare('SELECT erased_at IS NOT NULL FROM access_subject_keys WHERE controller = ? AND pseudonym = ?').pluck()
  for (const p of pseudonyms) if (erased.get(controller, p) === 1) out.add(p)
  return out
}

/** The records of a subject (by pseudonym) in every imported dataset, and whether erased. */
export function subjectRecords(db: DataPlaneContext['db'], pseudonym: string): { datasets: { dataset: string; indexes: number[] }[]; erased: boolean; known: boolean } {
  const key = db.prepare('SELECT erased_at IS NOT NULL AS erased FROM access_subject_keys WHERE pseudonym = ?').get(pseudonym) as { erased: number } | undefined
  const byDataset = new Map<string, number[]>()
  const records = db.prepare(
    `SELECT d.dataset, r.idx FROM access_subject_records r JOIN access_subject_keys k ON k.id = r.subject JOIN access_datasets d ON d.id = r.dataset
     WHERE k.pseudonym = ? ORDER BY r.dataset, r.idx`,
  )
  for (const [d, i] of records.raw().all(pseudonym) as [string, number][]) {
    byDataset.set(d, [...(byDataset.get(d) ?? []), i])
  }
  return { datasets: [...byDataset].map(([dataset, indexes]) => ({ dataset, indexes })), erased: key?.erased === 1, known: key !== undefined }
}

/**
 * Decrypts records of an imported dataset in memory for its controller (to train on its
 * own data): the records at `indexes`, as flat objects (CSV) or JSON values, in that order.
 * A record whose subject was erased cannot be decrypted and throws.
 */
export async function decryptRecords(ctx: DataPlaneContext, dataset: string, controller: UnlockedIdentity, indexes: readonly number[]): Promise<{ columns: string[] | undefined; subjectColumn: string; records: Record<string, unknown>[] }> {
  const meta = ctx.db.prepare('SELECT * FROM access_datasets WHERE dataset = ?').get(dataset) as { id: number; controller: string; subject_column: string; columns: string | null } | undefined
  if (!meta) throw new ProvenaError('ACCESS_NOT_IMPORTED', `dataset ${dataset.slice(0, 12)} was registered, not imported: there is nothing encrypted to read`)
  if (meta.controller !== controller.did) throw new ProvenaError('ACCESS_NOT_CONTROLLER', `${controller.name} is not the controller of dataset ${dataset.slice(0, 12)}`)
  const vault = new SubjectKeyVault(ctx.db, controller.did, controllerSecrets(controller).kek)
  const placeAt = placeReader(ctx.db, meta.id)
  const places = indexes.map(placeAt)
  const refs = keyRefsById(ctx.db, places.flatMap((p) => (p ? [p.subject] : [])))
  const cidOf = segmentCids(ctx.db)
  const aadOf = recordAadWriter(dataset)
  const segments = new Map<number, Buffer>()
  const keys = new Map<string, Buffer>()
  const records: Record<string, unknown>[] = []
  for (const [k, idx] of indexes.entries()) {
    const place = places[k]
    const ref = place && refs.get(place.subject)
    if (!place || !ref) throw new ProvenaError('ACCESS_NO_RECORD', `dataset ${dataset.slice(0, 12)} has no record ${idx}`)
    if (ref.erased) throw new ProvenaError('ACCESS_SUBJECT_ERASED', `record ${idx} of dataset ${dataset.slice(0, 12)} belongs to an erased subject`)
    const r = { ...place, pseudonym: ref.pseudonym }
    let key = keys.get(r.pseudonym)
    if (!key) keys.set(r.pseudonym, (key = vault.key(ref)))
    let segment = segments.get(r.segment)
    if (!segment) segments.set(r.segment, (segment = await ctx.store.get(cidOf(r.segment))))
    const plain = aeadOpen(key, segment.subarray(r.offset, r.offset + r.length), aadOf(idx), `record ${idx}`)
    records.push(meta.columns ? parseFlatRecord(plain.toString('utf8')) : (JSON.parse(plain.toString('utf8')) as Record<string, unknown>))
  }
  return { columns: meta.columns ? (JSON.parse(meta.columns) as string[]) : undefined, subjectColumn: meta.subject_column, records }
}
