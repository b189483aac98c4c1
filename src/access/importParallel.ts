// Encryption of a large import on worker threads: one job per batch of canonical records
// (the keys of its subjects travel with it), round-robin over the workers; the segments
// they pack are stored in order, a few writes in flight, and each record's place noted.
import { Worker } from 'node:worker_threads'
import type { BlobStore, BlockRef } from '../store/index.js'
import type { SealJob, SealReply, SealWorkerData } from './sealWorker.js'

export async function sealParallel(opts: {
  workers: number
  dataset: string
  batches: readonly { bytes: Uint8Array; ends: Uint32Array }[]
  /** Subject pseudonym of each record, in dataset order. */
  pseudonyms: readonly string[]
  keyOf: (pseudonym: string) => Buffer
  store: BlobStore
  target?: number
}): Promise<BlockRef[]> {
  const data: SealWorkerData = { dataset: opts.dataset, target: opts.target ?? 2 << 20 }
  const pool = Array.from({ length: opts.workers }, () => new Worker(new URL('./sealWorker.js', import.meta.url), { workerData: data }))
  const waiting = new Map<number, { resolve: (r: SealReply) => void; reject: (e: unknown) => void }>()
  const fail = (error: unknown) => {
    for (const w of waiting.values()) w.reject(error)
    waiting.clear()
  }
  for (const w of pool) {
    w.on('message', (m: SealReply) => {
      waiting.get(m.seq)?.resolve(m)
      waiting.delete(m.seq)
    })
    w.on('error', fail)
    w.on('exit', (code) => code !== 0 && fail(new Error(`an import worker stopped (exit code ${code})`)))
  }
  const refs = new Array<BlockRef>(opts.pseudonyms.length)
  const inFlight: { first: number; reply: Promise<SealReply> }[] = []
  // Segment writes run in the background (a few at a time) while workers seal the next batches.
  const writes: Promise<void>[] = []
  const store = async (first: number, reply: SealReply) => {
    while (writes.length >= 4) await writes.shift()
    const write = Promise.all(reply.segments.map((s) => opts.store.put(s))).then((cids) => {
      const p = reply.places
      for (let i = 0, k = first; i < p.length; i += 3, k++) refs[k] = { cid: cids[p[i]!]!, offset: p[i + 1]!, length: p[i + 2]! }
    })
    write.catch(() => {}) // observed when awaited below
    writes.push(write)
  }
  const next = async () => {
    const { first, reply } = inFlight.shift()!
    await store(first, await reply)
  }
  try {
    let first = 0
    for (const [seq, batch] of opts.batches.entries()) {
      const n = batch.ends.length
      const slotOf = new Map<string, number>()
      const slots = new Int32Array(n)
      for (let i = 0; i < n; i++) {
        const p = opts.pseudonyms[first + i]!
        let slot = slotOf.get(p)
        if (slot === undefined) slotOf.set(p, (slot = slotOf.size))
        slots[i] = slot
      }
      const keys = new Uint8Array(32 * slotOf.size)
      for (const [p, slot] of slotOf) keys.set(opts.keyOf(p), 32 * slot)
      const job: SealJob = { seq, bytes: batch.bytes, ends: batch.ends, first, slots, keys }
      inFlight.push({ first, reply: new Promise<SealReply>((resolve, reject) => waiting.set(seq, { resolve, reject })) })
      // A batch that owns its buffer moves to the worker instead of being copied.
      const owned = batch.bytes.byteOffset === 0 && batch.bytes.byteLength === batch.bytes.buffer.byteLength
      pool[seq % pool.length]!.postMessage(job, owned ? [slots.buffer, keys.buffer, batch.bytes.buffer as ArrayBuffer] : [slots.buffer, keys.buffer])
      first += n
      while (inFlight.length >= 2 * pool.length) await next()
    }
    while (inFlight.length > 0) await next()
    for (const w of writes) await w
    return refs
  } catch (error) {
    for (const f of inFlight) f.reply.catch(() => {})
    throw error
  } finally {
    await Promise.all(pool.map((w) => w.terminate()))
  }
}
