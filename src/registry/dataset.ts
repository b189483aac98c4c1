import { randomBytes } from 'node:crypto'
import { basename } from 'node:path'
import type { Hex } from 'viem'
import { enqueueOutbox, findOutbox, flushOutbox, simulateWrite } from '../chain/index.js'
import { canonicalJson, canonicalJsonBytes, sha256Hex } from '../crypto/index.js'
import { CompactRange } from '../log/index.js'
import { CommitmentBuilder, commitFileParallel, workerCount } from './commitParallel.js'
import { assetWrite, findByContent, getAsset, insertAsset, type Asset } from './assets.js'
import { commitRecord, commitRecordAt, RECORD_DOMAIN } from './commitment.js'
import { ASSET_REGISTERED, type AssetRegisteredEvent, type RegistryContext, type RegistryWriteContext } from './context.js'
import { registryErrors } from './errors.js'
import { openDataset, recordBytes, type DatasetFormat } from './readDataset.js'
import { ERASED_SALT, readRecordChunks, writeRecordChunks } from './recordChunks.js'

/** The manifest whose digest is a dataset's id. */
export interface DatasetManifest {
  _type: 'provena.dataset.manifest/v1'
  format: DatasetFormat
  schema: { columns: string[] } | null
  records: number
  root: string
  commitment: string
}

/** A dataset read, salted and committed, not yet stored. */
export interface CommittedDataset {
  id: string
  manifest: DatasetManifest
  root: Buffer
  contentDigest: string
  /** 1-based starting line of each record. */
  lines: Uint32Array
  /** Record i's salt is bytes [32i, 32i+32). */
  salts: Buffer
  /** Record i's commitment is bytes [32i, 32i+32). */
  commitments: Buffer
}

/** Progress callback: bytes read so far of `total`. */
export type OnProgress = (done: number, total: number) => void

const COMMITMENT_RULE = `sha256(0x00 || "${RECORD_DOMAIN}\\0" || uint64be(index) || salt32 || jcs(record)), the RFC 9162 leaf hash`

/**
 * Reads a dataset, canonicalises each record (RFC 8785), salts it with 32 random bytes,
 * commits it, and computes the RFC 9162 root over the commitments and the id (digest of
 * the manifest). Throws REGISTRY_PARSE naming file and line on bad input.
 */
export async function commitDataset(path: string, onProgress?: OnProgress, opts: { workers?: number; regionBytes?: number } = {}): Promise<CommittedDataset> {
  const source = openDataset(path)
  const workers = opts.workers ?? workerCount()
  let builder: CommitmentBuilder
  let columns: string[] | undefined
  let contentDigest: Buffer
  if (source.format !== 'dir' && workers > 0 && (source.size >= PARALLEL_FROM_BYTES || opts.regionBytes !== undefined)) {
    ;({ builder, columns, contentDigest } = await commitFileParallel(path, source.format, {
      workers,
      regionBytes: opts.regionBytes,
      onBytes: (bytes) => onProgress?.(bytes, source.size),
    }))
  } else {
    builder = new CommitmentBuilder()
    for await (const batch of source.batches((bytes) => onProgress?.(bytes, source.size))) {
      const salts = randomBytes(32 * batch.count)
      const commitments = Buffer.allocUnsafe(32 * batch.count)
      for (let i = 0; i < batch.count; i++) {
        commitRecordAt(builder.count + i, salts, 32 * i, batch.bytes, i === 0 ? 0 : batch.ends[i - 1]!, batch.ends[i]!).copy(commitments, 32 * i)
      }
      builder.add(batch.lines, salts, commitments, 0)
    }
    columns = source.columns
    contentDigest = source.contentDigest()
  }
  const n = builder.count
  if (n === 0) throw registryErrors.empty(path, source.format === 'csv' ? 'a header but no rows' : 'no records')
  const root = builder.tree.root()
  const manifest = datasetManifest(source.format, columns, n, root)
  return {
    id: sha256Hex(canonicalJsonBytes(manifest)),
    manifest,
    root,
    contentDigest: contentDigest.toString('hex'),
    lines: builder.lines.subarray(0, n),
    salts: builder.salts.subarray(0, 32 * n),
    commitments: builder.commitments.subarray(0, 32 * n),
  }
}

// Below this size a file is committed on the calling thread: workers cost more than they save.
const PARALLEL_FROM_BYTES = 16 << 20

/** The manifest of a committed dataset; its RFC 8785 digest is the dataset id. */
export function datasetManifest(format: DatasetFormat, columns: string[] | undefined, records: number, root: Buffer): DatasetManifest {
  return {
    _type: 'provena.dataset.manifest/v1',
    format,
    schema: columns ? { columns } : null,
    records,
    root: root.toString('hex'),
    commitment: COMMITMENT_RULE,
  }
}

/** What `dataset register` reports. */
export interface DatasetRegistration {
  id: string
  name: string
  root: string
  records: number
  format: DatasetFormat
  logIndex: number
  /** True when this content was registered before: nothing new was written. */
  existing: boolean
  transactionHash: Hex | null
  blockNumber: number | null
}

/**
 * Registers a dataset: commitments and salts in the data dir, a log entry, and the
 * AssetRegistry registration through the outbox, all decided in one transaction after
 * the chain accepted a simulation of the write. Registering the same content again
 * returns the first registration.
 */
export async function registerDataset(
  ctx: RegistryWriteContext,
  path: string,
  opts: { name?: string | undefined; onProgress?: OnProgress | undefined } = {},
): Promise<DatasetRegistration> {
  const committed = await commitDataset(path, opts.onProgress)
  return storeDatasetRegistration(ctx, committed, opts.name ?? basename(path))
}

/**
 * Records a committed dataset: asset, salts and commitments, log entry and the chain write,
 * decided in one transaction after the chain accepted a simulation; `alsoInTransaction`
 * adds the caller's own rows to that transaction (an encrypted import's storage map).
 * The same content registered before returns the first registration.
 */
export async function storeDatasetRegistration(
  ctx: RegistryWriteContext,
  committed: CommittedDataset,
  name: string,
  alsoInTransaction?: () => void,
): Promise<DatasetRegistration> {
  const existing = findByContent(ctx.db, 'dataset', committed.contentDigest)
  if (existing) {
    await flushOutbox(ctx.outbox)
    return report(ctx, existing, true)
  }
  const metadata = { name, manifest: committed.manifest }
  const metadataDigest = sha256Hex(canonicalJsonBytes(metadata))
  const write = assetWrite({ id: committed.id, kind: 'dataset', root: committed.manifest.root, metadataDigest, parents: [] })
  await simulateWrite(ctx.outbox, write)
  const event: AssetRegisteredEvent = {
    type: ASSET_REGISTERED,
    actor: ctx.operatorDid,
    time: new Date().toISOString(),
    asset: { id: committed.id, kind: 'dataset', name, root: committed.manifest.root, metadataDigest, parents: [], records: committed.manifest.records },
  }
  ctx.db.transaction(() => {
    const logIndex = ctx.log.append([Buffer.from(canonicalJson(event), 'utf8')])
    insertAsset(ctx.db, {
      id: committed.id,
      kind: 'dataset',
      name,
      root: committed.manifest.root,
      metadataDigest,
      contentDigest: committed.contentDigest,
      records: committed.manifest.records,
      metadata,
      statement: null,
      parents: [],
      logIndex,
    })
    writeRecordChunks(ctx.db, committed.id, { count: committed.manifest.records, lines: committed.lines, salts: committed.salts, commitments: committed.commitments })
    alsoInTransaction?.()
    enqueueOutbox(ctx.db, ctx.outbox.client.chainKey, write)
  })()
  await flushOutbox(ctx.outbox)
  return report(ctx, getAsset(ctx.db, committed.id), false)
}

function report(ctx: RegistryWriteContext, a: Asset, existing: boolean): DatasetRegistration {
  const row = findOutbox(ctx.db, ctx.outbox.client.chainKey, assetWrite(a))
  return {
    id: a.id,
    name: a.name,
    root: a.root,
    records: a.records ?? 0,
    format: (a.metadata.manifest as DatasetManifest).format,
    logIndex: a.logIndex,
    existing,
    transactionHash: row?.txHash ?? null,
    blockNumber: row?.blockNumber ?? null,
  }
}

/** What `dataset verify` reports: 1-based line numbers. */
export interface DatasetVerification {
  id: string
  ok: boolean
  records: number
  /** Lines of the file whose record differs from the registered one. */
  changed: number[]
  /** Lines of the file with records that were not registered. */
  added: number[]
  /** Lines (as registered) of records no longer in the file. */
  missing: number[]
  /** Lines (as registered) of records whose subject was erased: not checked, not tampering. */
  erased: number[]
  /** The CSV header differs from the registered schema. */
  schemaChanged: boolean
  /**
   * A directory's records are its files, and their "lines" positions in the sorted
   * listing: the files changed and added, by path. (A missing file's path is not stored.)
   */
  files?: { changed: string[]; added: string[] }
}

// How far apart a record may have moved (by insertions or deletions) and still be matched.
const RESYNC_WINDOW = 64

/**
 * Re-reads a dataset and compares it with a registered one, record by record, using the
 * stored salts: reports which records changed, appeared or disappeared. First checks
 * that the stored commitments still give the registered root.
 */
export async function verifyDataset(ctx: RegistryContext, path: string, idOrPrefix: string, onProgress?: OnProgress): Promise<DatasetVerification> {
  const asset = getAsset(ctx.db, idOrPrefix)
  if (asset.kind !== 'dataset') throw registryErrors.wrongKind(asset.id, asset.kind, 'dataset')
  const stored = readRecordChunks(ctx.db, asset.id)
  const range = new CompactRange()
  for (let i = 0; i < stored.count; i++) range.appendLeafHash(stored.commitments.subarray(32 * i, 32 * i + 32))
  if (stored.count !== asset.records || range.root().toString('hex') !== asset.root) {
    throw registryErrors.corrupt(asset.id, `${stored.count} stored commitments give root ${range.root().toString('hex')}, registered ${asset.root}`)
  }
  const manifest = asset.metadata.manifest as DatasetManifest
  const source = openDataset(path)
  const fresh: { line: number; canonical: Buffer; path?: string }[] = []
  for await (const b of source.batches((n) => onProgress?.(n, source.size))) {
    for (let i = 0; i < b.count; i++) fresh.push({ line: b.lines[i]!, canonical: recordBytes(b, i), ...(b.paths ? { path: b.paths[i]! } : {}) })
  }
  const schemaChanged = manifest.format !== source.format || canonicalJson(manifest.schema?.columns ?? null) !== canonicalJson(source.columns ?? null)

  const saltOf = (i: number) => stored.salts.subarray(32 * i, 32 * i + 32)
  const isErased = (i: number) => saltOf(i).equals(ERASED_SALT)
  const erased: number[] = []
  for (let k = 0; k < stored.count; k++) if (isErased(k)) erased.push(k)
  const matches = (i: number, j: number) => !isErased(i) && commitRecord(i, saltOf(i), fresh[j]!.canonical).equals(stored.commitments.subarray(32 * i, 32 * i + 32))
  const changed: number[] = []
  const added: number[] = []
  const missing: number[] = []
  let i = 0
  let j = 0
  while (i < stored.count && j < fresh.length) {
    if (matches(i, j)) {
      i++
      j++
      continue
    }
    let resynced = false
    for (let d = 1; d <= RESYNC_WINDOW && !resynced; d++) {
      if (i + d < stored.count && matches(i + d, j)) {
        for (let k = i; k < i + d; k++) missing.push(stored.lines[k]!)
        i += d
        resynced = true
      } else if (j + d < fresh.length && matches(i, j + d)) {
        for (let k = j; k < j + d; k++) added.push(fresh[k]!.line)
        j += d
        resynced = true
      }
    }
    if (!resynced) {
      changed.push(fresh[j]!.line)
      i++
      j++
    }
  }
  for (; i < stored.count; i++) missing.push(stored.lines[i]!)
  for (; j < fresh.length; j++) added.push(fresh[j]!.line)
  // An erased record cannot be compared (its salt is gone): whatever stands on its line is
  // reported as erased, not as changed, and one left out of the file is not missing.
  const erasedLines = new Set(erased.map((k) => stored.lines[k]!))
  const notErased = (l: number) => !erasedLines.has(l)
  const c = changed.filter(notErased)
  const m = missing.filter(notErased)
  const pathAt = (line: number) => fresh[line - 1]?.path ?? `#${line}` // a directory's "line" is the file's 1-based position
  return {
    id: asset.id,
    ok: c.length === 0 && added.length === 0 && m.length === 0 && !schemaChanged,
    records: stored.count,
    changed: c,
    added,
    missing: m,
    erased: [...erasedLines].sort((x, y) => x - y),
    schemaChanged,
    ...(source.format === 'dir' ? { files: { changed: c.map(pathAt), added: added.map(pathAt) } } : {}),
  }
}
