// Decryption of a large export on worker threads: one job per segment (its records, the
// keys of their subjects), round-robin over the workers, results written in order. The
// per-record AES-GCM call dominates an export and shares out well; on two cores the main
// thread's reading, ordering and writing share them too (1.1–1.3× here, BENCHMARKS.md).
import { Worker } from 'node:worker_threads'
import type { ByteSink } from './exportWriter.js'
import type { ExportJob, ExportReply, ExportWorkerData } from './exportWorker.js'

/** From this many records an export decrypts on worker threads (below, threads cost more than they save). */
export const PARALLEL_EXPORT_FROM = 20_000

/** One record to export: its index, place, and subject number. */
export interface ExportRow {
  idx: number
  segment: number
  offset: number
  length: number
  subject: number
}

/**
 * Decrypts `rows` on `workers` threads into `sink`, in order. Keys travel to the worker
 * that needs them, a segment's worth at a time; a failed GCM tag stops the export at once.
 */
export async function decryptParallel(opts: {
  workers: number
  data: ExportWorkerData
  rows: readonly ExportRow[]
  keyOf: (subject: number) => Buffer
  /** For exports to anyone but the controller: the pseudonym of a subject. */
  pseudonymOf?: ((subject: number) => string) | undefined
  segmentBytes: (segment: number) => Promise<Buffer>
  sink: ByteSink
  /** Called with the index of a record whose GCM tag fails; throws. */
  failed: (idx: number) => never
  /** Records written so far. */
  onProgress?: (done: number) => void
}): Promise<void> {
  const pool = Array.from({ length: opts.workers }, () => new Worker(new URL('./exportWorker.js', import.meta.url), { workerData: opts.data }))
  const waiting = new Map<number, { resolve: (b: Uint8Array) => void; reject: (e: unknown) => void }>()
  const fail = (error: unknown) => {
    for (const w of waiting.values()) w.reject(error)
    waiting.clear()
  }
  for (const w of pool) {
    w.on('message', (m: ExportReply) => {
      const p = waiting.get(m.seq)
      waiting.delete(m.seq)
      if ('failed' in m) p?.reject(new FailedRecord(m.failed))
      else p?.resolve(m.bytes)
    })
    w.on('error', fail)
    w.on('exit', (code) => code !== 0 && fail(new Error(`an export worker stopped (exit code ${code})`)))
  }
  const inFlight: Promise<Uint8Array>[] = []
  const jobSizes: number[] = []
  let written = 0
  const write = (bytes: Uint8Array) => {
    written += jobSizes.shift()!
    opts.onProgress?.(written)
    const buf = opts.sink.reserve(bytes.length)
    buf.set(bytes, opts.sink.at)
    opts.sink.at += bytes.length
  }
  try {
    let seq = 0
    for (let from = 0; from < opts.rows.length; ) {
      // A job: the consecutive rows in one segment.
      const segment = opts.rows[from]!.segment
      let to = from
      while (to < opts.rows.length && opts.rows[to]!.segment === segment) to++
      const slots = new Map<number, number>()
      const records = new Int32Array(4 * (to - from))
      for (let i = from; i < to; i++) {
        const r = opts.rows[i]!
        let slot = slots.get(r.subject)
        if (slot === undefined) slots.set(r.subject, (slot = slots.size))
        const at = 4 * (i - from)
        records[at] = r.idx
        records[at + 1] = r.offset
        records[at + 2] = r.length
        records[at + 3] = slot
      }
      const keys = new Uint8Array(32 * slots.size)
      for (const [subject, slot] of slots) keys.set(opts.keyOf(subject), 32 * slot)
      const job: ExportJob = {
        seq,
        segment: await opts.segmentBytes(segment),
        records,
        keys,
        pseudonyms: opts.pseudonymOf ? [...slots.keys()].map(opts.pseudonymOf) : null,
      }
      inFlight.push(new Promise<Uint8Array>((resolve, reject) => waiting.set(job.seq, { resolve, reject })))
      jobSizes.push(to - from)
      pool[seq % pool.length]!.postMessage(job, [records.buffer, keys.buffer])
      seq++
      from = to
      while (inFlight.length >= 2 * pool.length) write(await inFlight.shift()!)
    }
    while (inFlight.length > 0) write(await inFlight.shift()!)
  } catch (error) {
    for (const p of inFlight) p.catch(() => {})
    if (error instanceof FailedRecord) opts.failed(error.idx)
    throw error
  } finally {
    await Promise.all(pool.map((w) => w.terminate()))
  }
}

class FailedRecord extends Error {
  constructor(readonly idx: number) {
    super(`record ${idx} failed its GCM tag`)
  }
}
