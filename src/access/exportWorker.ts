// Worker of a parallel export (exportParallel.ts): decrypts the records of one segment with
// the keys it is handed and writes their rows into a buffer it returns. The main thread
// writes the buffers to the file in order; a record that fails its GCM tag is reported by
// index, and the main thread names it.
import { parentPort, workerData } from 'node:worker_threads'
import { aeadOpen } from '../crypto/index.js'
import { MemorySink, recordAadWriter, RecordWriter } from './exportWriter.js'

/** Fixed for the whole export. */
export interface ExportWorkerData {
  dataset: string
  columns: string[] | null
  subjectColumn: string
}

/** One segment's worth of records. */
export interface ExportJob {
  seq: number
  segment: Uint8Array
  /** Per record: index, offset, length, key slot. */
  records: Int32Array
  /** 32 bytes per key slot. */
  keys: Uint8Array
  /** Per key slot, the pseudonym to write in the subject column (exports to a grantee). */
  pseudonyms: string[] | null
}

export type ExportReply = { seq: number; bytes: Uint8Array } | { seq: number; failed: number }

const init = workerData as ExportWorkerData
const aadOf = recordAadWriter(init.dataset)

parentPort!.on('message', (job: ExportJob) => {
  const segment = Buffer.from(job.segment.buffer, job.segment.byteOffset, job.segment.byteLength)
  const keys = Buffer.from(job.keys.buffer, job.keys.byteOffset, job.keys.byteLength)
  const sink = new MemorySink(segment.length + (segment.length >> 2))
  const writer = new RecordWriter(sink, init.columns ?? undefined, init.subjectColumn)
  const pseudonyms = job.pseudonyms?.map((text) => ({ text, bytes: Buffer.from(text, 'utf8') }))
  const r = job.records
  for (let k = 0; k < r.length; k += 4) {
    const idx = r[k]!
    const slot = r[k + 3]!
    let plain: Buffer
    try {
      plain = aeadOpen(keys.subarray(32 * slot, 32 * slot + 32), segment.subarray(r[k + 1]!, r[k + 1]! + r[k + 2]!), aadOf(idx))
    } catch {
      parentPort!.postMessage({ seq: job.seq, failed: idx } satisfies ExportReply)
      return
    }
    writer.write(plain, pseudonyms?.[slot])
  }
  const bytes = new Uint8Array(sink.buf.buffer, 0, sink.at)
  parentPort!.postMessage({ seq: job.seq, bytes } satisfies ExportReply, [sink.buf.buffer as ArrayBuffer])
})
