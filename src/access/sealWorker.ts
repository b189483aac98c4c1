// Worker of a parallel import (importParallel.ts): encrypts one batch of canonical records,
// each under its subject's data key with its dataset id and index as additional data, and
// packs the ciphertexts into segments of about `target` bytes. The main thread stores the
// segments and records where each record went.
import { parentPort, workerData } from 'node:worker_threads'
import { aeadSeal } from '../crypto/index.js'
import { recordAadWriter } from './exportWriter.js'

export interface SealWorkerData {
  dataset: string
  /** Segment size in bytes. */
  target: number
}

export interface SealJob {
  seq: number
  /** Canonical records back to back; record i is bytes[ends[i-1] ?? 0 .. ends[i]). */
  bytes: Uint8Array
  ends: Uint32Array
  /** Index of the batch's first record in the dataset. */
  first: number
  /** Per record, its subject's key slot in `keys` (32 bytes each). */
  slots: Int32Array
  keys: Uint8Array
}

/** Per record: its segment (0-based within this reply), offset and length. */
export type SealReply = { seq: number; segments: Uint8Array[]; places: Int32Array }

const init = workerData as SealWorkerData
const aadOf = recordAadWriter(init.dataset)

parentPort!.on('message', (job: SealJob) => {
  const bytes = Buffer.from(job.bytes.buffer, job.bytes.byteOffset, job.bytes.byteLength)
  const keys = Buffer.from(job.keys.buffer, job.keys.byteOffset, job.keys.byteLength)
  const n = job.ends.length
  const places = new Int32Array(3 * n)
  const segments: Uint8Array[] = []
  let parts: Buffer[] = []
  let size = 0
  const seal = () => {
    const segment = new Uint8Array(size)
    let at = 0
    for (const p of parts) {
      segment.set(p, at)
      at += p.length
    }
    segments.push(segment)
    parts = []
    size = 0
  }
  for (let i = 0, start = 0; i < n; i++) {
    const end = job.ends[i]!
    const slot = job.slots[i]!
    const sealed = aeadSeal(keys.subarray(32 * slot, 32 * slot + 32), bytes.subarray(start, end), aadOf(job.first + i))
    places[3 * i] = segments.length
    places[3 * i + 1] = size
    places[3 * i + 2] = sealed.length
    parts.push(sealed)
    size += sealed.length
    if (size >= init.target) seal()
    start = end
  }
  if (size > 0) seal()
  keys.fill(0)
  parentPort!.postMessage({ seq: job.seq, segments, places } satisfies SealReply, segments.map((s) => s.buffer as ArrayBuffer))
})
