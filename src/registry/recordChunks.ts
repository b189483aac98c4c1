// A registered dataset's per-record data — source line, salt, commitment — kept 1,024
// records to a row: three packed blobs (uint32 little-endian lines, 32-byte salts, 32-byte
// commitments). A row per record cost an import more than encrypting the record did; a
// chunk row is one B-tree insert for a thousand records. Erasure rewrites the salts blob
// of each chunk it touches with those salts zeroed (secure_delete overwrites the old bytes).
import type { Db } from '../db/index.js'

export const CHUNK_RECORDS = 1024

/** Zero salt: the mark of a record whose salt was destroyed (erasure). A random salt is never all zeros. */
export const ERASED_SALT = Buffer.alloc(32)

/** The per-record data of a dataset, in index order. */
export interface StoredRecords {
  count: number
  lines: Uint32Array
  /** 32 bytes per record; all zeros once destroyed. */
  salts: Buffer
  commitments: Buffer
}

function packLines(lines: Uint32Array, from: number, to: number): Buffer {
  const out = Buffer.allocUnsafe(4 * (to - from))
  for (let i = from; i < to; i++) out.writeUInt32LE(lines[i]!, 4 * (i - from))
  return out
}

/** Stores the per-record data of a newly registered dataset. Inside the registration's transaction. */
export function writeRecordChunks(db: Db, dataset: string, records: StoredRecords): void {
  const put = db.prepare('INSERT INTO registry_record_chunks (dataset, chunk, lines, salts, commitments) VALUES (?, ?, ?, ?, ?)')
  for (let chunk = 0, from = 0; from < records.count; chunk++, from += CHUNK_RECORDS) {
    const to = Math.min(records.count, from + CHUNK_RECORDS)
    put.run(dataset, chunk, packLines(records.lines, from, to), records.salts.subarray(32 * from, 32 * to), records.commitments.subarray(32 * from, 32 * to))
  }
}

/** All of a dataset's per-record data (empty when it has none). */
export function readRecordChunks(db: Db, dataset: string): StoredRecords {
  const rows = db.prepare('SELECT lines, salts, commitments FROM registry_record_chunks WHERE dataset = ? ORDER BY chunk').raw().all(dataset) as [Buffer, Buffer, Buffer][]
  const count = rows.reduce((n, [lines]) => n + lines.length / 4, 0)
  const out: StoredRecords = { count, lines: new Uint32Array(count), salts: Buffer.allocUnsafe(32 * count), commitments: Buffer.allocUnsafe(32 * count) }
  let at = 0
  for (const [lines, salts, commitments] of rows) {
    const n = lines.length / 4
    for (let i = 0; i < n; i++) out.lines[at + i] = lines.readUInt32LE(4 * i)
    salts.copy(out.salts, 32 * at)
    commitments.copy(out.commitments, 32 * at)
    at += n
  }
  return out
}

/** The record commitments of a registered dataset, 32 bytes each in index order. */
export function datasetCommitments(db: Db, dataset: string): Buffer {
  return Buffer.concat(db.prepare('SELECT commitments FROM registry_record_chunks WHERE dataset = ? ORDER BY chunk').pluck().all(dataset) as Buffer[])
}

/** The source line of one record, or undefined when the dataset has no such record. */
export function recordLine(db: Db, dataset: string, index: number): number | undefined {
  const lines = db.prepare('SELECT lines FROM registry_record_chunks WHERE dataset = ? AND chunk = ?').pluck().get(dataset, Math.floor(index / CHUNK_RECORDS)) as Buffer | undefined
  const at = 4 * (index % CHUNK_RECORDS)
  return lines && at + 4 <= lines.length ? lines.readUInt32LE(at) : undefined
}

/**
 * Destroys the salts of records (a subject's, at erasure): their commitments stay in the
 * tree, but can no longer be linked to any record. Each chunk touched is rewritten once.
 * Inside the caller's transaction.
 */
export function destroySalts(db: Db, dataset: string, indexes: readonly number[]): void {
  const byChunk = new Map<number, number[]>()
  for (const i of indexes) {
    const c = Math.floor(i / CHUNK_RECORDS)
    const list = byChunk.get(c)
    if (list) list.push(i % CHUNK_RECORDS)
    else byChunk.set(c, [i % CHUNK_RECORDS])
  }
  const get = db.prepare('SELECT salts FROM registry_record_chunks WHERE dataset = ? AND chunk = ?').pluck()
  const put = db.prepare('UPDATE registry_record_chunks SET salts = ? WHERE dataset = ? AND chunk = ?')
  for (const [chunk, slots] of byChunk) {
    const salts = get.get(dataset, chunk) as Buffer | undefined
    if (!salts) continue
    for (const s of slots) if (32 * s + 32 <= salts.length) salts.fill(0, 32 * s, 32 * s + 32)
    put.run(salts, dataset, chunk)
  }
}
