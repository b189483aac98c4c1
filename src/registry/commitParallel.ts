import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import { ProvenaError } from '../errors.js'
import { CompactRange } from '../log/index.js'
import type { WorkerReply, WorkerRequest } from './commitWorker.js'
import { registryErrors } from './errors.js'
import { BatchWriter, CsvParser } from './recordParsers.js'

/** Record lines, salts and commitments, growing as batches arrive, and the tree over them. */
export class CommitmentBuilder {
  count = 0
  lines = new Uint32Array(1024)
  salts = Buffer.alloc(32 * 1024)
  commitments = Buffer.alloc(32 * 1024)
  readonly tree = new CompactRange()

  /** Room for `n` more records. */
  reserve(n: number): void {
    let capacity = this.lines.length
    if (this.count + n <= capacity) return
    while (this.count + n > capacity) capacity *= 2
    const l = new Uint32Array(capacity)
    l.set(this.lines.subarray(0, this.count))
    this.lines = l
    const s = Buffer.alloc(32 * capacity)
    this.salts.copy(s, 0, 0, 32 * this.count)
    this.salts = s
    const c = Buffer.alloc(32 * capacity)
    this.commitments.copy(c, 0, 0, 32 * this.count)
    this.commitments = c
  }

  /**
   * Appends committed records, lines shifted by `lineOffset`. With `pieces` (the roots of
   * the perfect subtrees covering them, from rangeNodes) the tree grows by those;
   * otherwise leaf by leaf.
   */
  add(lines: Uint32Array, salts: Uint8Array, commitments: Uint8Array, lineOffset: number, pieces?: { levels: Uint8Array; nodes: Uint8Array }): void {
    const n = lines.length
    this.reserve(n)
    for (let i = 0; i < n; i++) this.lines[this.count + i] = lines[i]! + lineOffset
    this.salts.set(salts, 32 * this.count)
    this.commitments.set(commitments, 32 * this.count)
    if (pieces) {
      const nodes = Buffer.from(pieces.nodes.buffer, pieces.nodes.byteOffset, pieces.nodes.byteLength)
      pieces.levels.forEach((level, k) => this.tree.appendSubtree(nodes.subarray(32 * k, 32 * k + 32), level))
    } else {
      // The commitments are the RFC 9162 leaf hashes of the salted records.
      for (let i = 0; i < n; i++) this.tree.appendLeafHash(this.commitments.subarray(32 * (this.count + i), 32 * (this.count + i + 1)))
    }
    this.count += n
  }
}

/** How many worker threads registration uses: PROVENA_WORKERS, else one per core (at most 4). */
export function workerCount(): number {
  const env = process.env.PROVENA_WORKERS
  if (env !== undefined && /^\d+$/.test(env)) return Number(env)
  return Math.min(4, availableParallelism())
}

interface Job {
  worker: Worker
  count?: number
  lineCount?: number
  error?: Extract<WorkerReply, { type: 'error' }>
  result?: Extract<WorkerReply, { type: 'committed' }>
  lineOffset?: number
}

/**
 * Reads a CSV or JSON Lines file and salts and commits its records on worker threads, in
 * regions cut at record boundaries (a CSV newline outside quotes); the main thread hashes
 * the content and builds the tree in order. Same result as the sequential reader.
 */
export async function commitFileParallel(
  path: string,
  format: 'csv' | 'jsonl',
  opts: { workers: number; regionBytes?: number; onBytes?: (bytes: number) => void },
): Promise<{ builder: CommitmentBuilder; columns: string[] | undefined; contentDigest: Buffer }> {
  const hash = createHash('sha256')
  const builder = new CommitmentBuilder()
  const workers = Array.from({ length: opts.workers }, () => new Worker(new URL('./commitWorker.js', import.meta.url)))
  const jobs: Job[] = []
  let nextStart = 0 // first job whose start index is not known yet
  let startIndex = 0
  let lineOffset = 0
  let nextMerge = 0
  let failure: Error | undefined
  let wake: (() => void) | undefined
  const notify = () => {
    const w = wake
    wake = undefined
    w?.()
  }

  const advance = () => {
    while (!failure && jobs[nextStart] && (jobs[nextStart]!.count !== undefined || jobs[nextStart]!.error)) {
      const job = jobs[nextStart]!
      if (job.error) {
        const e = job.error
        failure =
          e.code === 'REGISTRY_PARSE' && e.line !== undefined
            ? registryErrors.parse(path, lineOffset + e.line, e.what ?? e.message, e.field)
            : new ProvenaError(e.code, e.message)
        break
      }
      job.lineOffset = lineOffset
      job.worker.postMessage({ type: 'commit', id: nextStart, startIndex } satisfies WorkerRequest)
      startIndex += job.count!
      lineOffset += job.lineCount!
      nextStart++
    }
    while (!failure && jobs[nextMerge]?.result) {
      const job = jobs[nextMerge]!
      const r = job.result!
      builder.add(r.lines, r.salts, r.commitments, job.lineOffset!, { levels: r.levels, nodes: r.nodes })
      jobs[nextMerge] = { worker: job.worker } // release the arrays
      nextMerge++
    }
    notify()
  }
  for (const w of workers) {
    w.on('message', (m: WorkerReply) => {
      const job = jobs[m.id]!
      if (m.type === 'parsed') {
        job.count = m.count
        job.lineCount = m.lineCount
      } else if (m.type === 'committed') job.result = m
      else job.error = m
      advance()
    })
    w.on('error', (e) => {
      failure ??= e
      notify()
    })
  }

  const dispatch = (region: Buffer, last: boolean, columns?: string[]) => {
    const bytes = new Uint8Array(region.length)
    bytes.set(region)
    const id = jobs.length
    const worker = workers[id % workers.length]!
    jobs.push({ worker })
    const request: WorkerRequest = { type: 'parse', id, format, path, bytes, last }
    if (columns) request.columns = columns
    worker.postMessage(request, [bytes.buffer])
  }
  const waitFor = async (ready: () => boolean) => {
    while (!ready() && !failure) await new Promise<void>((r) => (wake = r))
    if (failure) throw failure
  }

  try {
    let columns: string[] | undefined
    let carry: Buffer = Buffer.alloc(0)
    let read = 0
    let header = format === 'csv' ? new CsvParser(path, new BatchWriter(1024)) : undefined
    for await (const chunk of createReadStream(path, { highWaterMark: opts.regionBytes ?? 4 << 20 })) {
      const buf = chunk as Buffer
      hash.update(buf)
      read += buf.length
      opts.onBytes?.(read)
      let data = carry.length ? Buffer.concat([carry, buf]) : buf
      if (header && !columns) {
        // The header, on the main thread: every worker needs its columns.
        let pos = 0
        for (let nl = data.indexOf(10, pos); nl >= 0 && !header.columns; nl = data.indexOf(10, pos)) {
          header.line(data, pos, nl > pos && data[nl - 1] === 13 ? nl - 1 : nl, ++lineOffset)
          pos = nl + 1
        }
        if (!header.columns) {
          // The header runs on into the next chunk: parse it again from its start.
          carry = Buffer.from(data)
          lineOffset = 0
          header = new CsvParser(path, new BatchWriter(1024))
          continue
        }
        columns = header.columns
        data = data.subarray(pos)
      }
      const cut = format === 'csv' ? recordBoundary(data) : data.lastIndexOf(10)
      if (cut < 0) {
        carry = Buffer.from(data)
        continue
      }
      dispatch(data.subarray(0, cut + 1), false, columns)
      carry = Buffer.from(data.subarray(cut + 1))
      await waitFor(() => jobs.length - nextMerge <= 4 * workers.length)
    }
    if (header && !columns) {
      // No newline after the header (or an empty file): let the sequential parser decide.
      if (carry.length > 0) header.line(carry, 0, carry.length, ++lineOffset)
      header.end()
      columns = header.columns
    } else if (carry.length > 0) {
      dispatch(carry, true, columns)
    }
    await waitFor(() => nextMerge === jobs.length)
    return { builder, columns, contentDigest: hash.digest() }
  } catch (error) {
    if ((error as { code?: string }).code?.startsWith('REGISTRY_')) throw error
    throw registryErrors.unreadable(path, error)
  } finally {
    await Promise.all(workers.map((w) => w.terminate()))
  }
}

/**
 * The offset of the last newline of `data` that ends a CSV record: outside double quotes,
 * given that `data` starts at a record boundary. -1 when there is none.
 */
export function recordBoundary(data: Buffer): number {
  const last = data.lastIndexOf(10)
  if (last < 0 || data.indexOf(34) < 0) return last
  let inQuotes = false
  let boundary = -1
  for (let i = 0; i < data.length; i++) {
    const c = data[i]
    if (c === 34) inQuotes = !inQuotes
    else if (c === 10 && !inQuotes) boundary = i
  }
  return boundary
}
