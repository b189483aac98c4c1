// Where each record of an imported dataset is, and whose it is: four uint32 per record —
// subject number, segment number, offset and length of its ciphertext in the segment —
// packed 1,024 records to a row (little-endian). One B-tree insert per thousand records,
// where a row each cost an import more than the rest of its bookkeeping.
import type { Db } from '../db/index.js'

export const PLACES_PER_CHUNK = 1024

/** One record's place. */
export interface RecordPlace {
  subject: number
  segment: number
  offset: number
  length: number
}

/** Stores the places of a newly imported dataset (4 numbers a record, in index order). In a transaction. */
export function writePlaces(db: Db, dataset: number, places: Uint32Array): void {
  const put = db.prepare('INSERT INTO access_record_chunks (dataset, chunk, places) VALUES (?, ?, ?)')
  const n = places.length / 4
  for (let chunk = 0, from = 0; from < n; chunk++, from += PLACES_PER_CHUNK) {
    const to = Math.min(n, from + PLACES_PER_CHUNK)
    const bytes = Buffer.allocUnsafe(16 * (to - from))
    for (let i = 4 * from, at = 0; i < 4 * to; i++, at += 4) bytes.writeUInt32LE(places[i]!, at)
    put.run(dataset, chunk, bytes)
  }
}

/** Every record's place, 4 numbers a record in index order. */
export function readPlaces(db: Db, dataset: number): Uint32Array {
  const chunks = db.prepare('SELECT places FROM access_record_chunks WHERE dataset = ? ORDER BY chunk').pluck().all(dataset) as Buffer[]
  const out = new Uint32Array(chunks.reduce((n, c) => n + c.length / 4, 0))
  let at = 0
  for (const c of chunks) for (let i = 0; i < c.length; i += 4) out[at++] = c.readUInt32LE(i)
  return out
}

/** One field of every record's place (0 subject, 1 segment, 2 offset, 3 length), in index order. */
export function placeField(places: Uint32Array, field: 0 | 1 | 2 | 3): number[] {
  const out = new Array<number>(places.length / 4)
  for (let i = 0; i < out.length; i++) out[i] = places[4 * i + field]!
  return out
}

/** Reads records' places one by one, each chunk read once. Undefined when the dataset has no such record. */
export function placeReader(db: Db, dataset: number): (index: number) => RecordPlace | undefined {
  const get = db.prepare('SELECT places FROM access_record_chunks WHERE dataset = ? AND chunk = ?').pluck()
  const chunks = new Map<number, Buffer | undefined>()
  return (index) => {
    if (!Number.isInteger(index) || index < 0) return undefined
    const c = Math.floor(index / PLACES_PER_CHUNK)
    let chunk = chunks.get(c)
    if (!chunks.has(c)) chunks.set(c, (chunk = get.get(dataset, c) as Buffer | undefined))
    const at = 16 * (index % PLACES_PER_CHUNK)
    if (!chunk || at + 16 > chunk.length) return undefined
    return { subject: chunk.readUInt32LE(at), segment: chunk.readUInt32LE(at + 4), offset: chunk.readUInt32LE(at + 8), length: chunk.readUInt32LE(at + 12) }
  }
}

/** One record's place, or undefined when the dataset has no such record. */
export function placeOf(db: Db, dataset: number, index: number): RecordPlace | undefined {
  return placeReader(db, dataset)(index)
}
