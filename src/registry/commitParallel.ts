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

/** How many worker threads registration and export use: PROVENA_WORKERS, else one per core (at most 4). */
export function workerCount(): number {
  const env = process.env.PROVENA_WORKERS
  if (env !== undefined && /^\d+$/.test(env)) return Number(env)
  return Math.min(4, availableParallelism())
}

/**
 * Reads a CSV or JSON Lines file and salts and commits its records on worker threads, in
 * regions cut at record boundaries (a CSV newline outside quotes). The main thread hashes
 * the content, counts each region's lines and records (so every region is committed in
 * one pass, its first index known) and extends the tree in order. Same result as the
 * sequential reader.
 */
export async function commitFileParallel(
  path: string,
  format: 'csv' | 'jsonl',
  opts: { workers: number; regionBytes?: number; onBytes?: (bytes: number) => void },
): Promise<{ builder: CommitmentBuilder; columns: string[] | undefined; contentDigest: Buffer }> {
  const hash = createHash('sha256')
  const builder = new CommitmentBuilder()
  const workers = Array.from({ length: opts.workers }, () => new Worker(new URL('./commitWorker.js', import.meta.url)))
  const results: (Extract<WorkerReply, { type: 'committed' }> | undefined)[] = []
  let dispatched = 0
  let merged = 0
  let failure: Error | undefined
  let wake: (() => void) | undefined
  const notify = () => {
    const w = wake
    wake = undefined
    w?.()
  }
  for (const w of workers) {
    w.on('message', (m: WorkerReply) => {
      if (m.type === 'error') {
        failure ??= new ProvenaError(m.code, m.message, m.details ? { details: m.details } : {})
      } else {
        results[m.id] = m
        for (let r = results[merged]; r; r = results[merged]) {
          builder.add(r.lines, r.salts, r.commitments, 0, { levels: r.levels, nodes: r.nodes })
          results[merged++] = undefined
        }
      }
      notify()
    })
    w.on('error', (e) => {
      failure ??= e
      notify()
    })
  }
  const waitFor = async (ready: () => boolean) => {
    while (!ready() && !failure) await new Promise<void>((r) => (wake = r))
    if (failure) throw failure
  }

  let nextLine = 1
  let nextIndex = 0
  let columns: string[] | undefined
  const dispatch = (region: Buffer) => {
    const { lines, records } = format === 'csv' ? countCsv(region) : countJsonl(region)
    const bytes = new Uint8Array(region.length)
    bytes.set(region)
    const id = dispatched++
    const request: WorkerRequest = { id, format, path, bytes, firstLine: nextLine, startIndex: nextIndex, records }
    if (columns) request.columns = columns
    workers[id % workers.length]!.postMessage(request, [bytes.buffer])
    nextLine += lines
    nextIndex += records
  }

  try {
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
        let line = 0
        for (let nl = data.indexOf(10, pos); nl >= 0 && !header.columns; nl = data.indexOf(10, pos)) {
          header.line(data, pos, nl > pos && data[nl - 1] === 13 ? nl - 1 : nl, ++line)
          pos = nl + 1
        }
        if (!header.columns) {
          // The header runs on into the next chunk: parse it again from its start.
          carry = Buffer.from(data)
          header = new CsvParser(path, new BatchWriter(1024))
          continue
        }
        columns = header.columns
        nextLine = line + 1
        data = data.subarray(pos)
      }
      const cut = format === 'csv' ? recordBoundary(data) : data.lastIndexOf(10)
      if (cut < 0) {
        carry = Buffer.from(data)
        continue
      }
      dispatch(data.subarray(0, cut + 1))
      carry = Buffer.from(data.subarray(cut + 1))
      await waitFor(() => dispatched - merged <= 3 * workers.length)
    }
    if (header && !columns) {
      // No newline after the header (or an empty file): the sequential parser's errors apply.
      if (carry.length > 0) header.line(carry, 0, carry.length, 1)
      header.end()
      columns = header.columns
    } else if (carry.length > 0) {
      dispatch(carry)
    }
    await waitFor(() => merged === dispatched)
    return { builder, columns, contentDigest: hash.digest() }
  } catch (error) {
    if ((error as { code?: string }).code?.startsWith('REGISTRY_')) throw error
    throw registryErrors.unreadable(path, error)
  } finally {
    await Promise.all(workers.map((w) => w.terminate()))
  }
}

/**
 * Lines and records of a CSV region that starts at a record boundary: a record ends at
 * each newline outside double quotes (blank lines are errors the parser reports).
 */
function countCsv(region: Buffer): { lines: number; records: number } {
  let lines = 0
  for (let nl = region.indexOf(10); nl >= 0; nl = region.indexOf(10, nl + 1)) lines++
  const open = region.length > 0 && region[region.length - 1] !== 10 ? 1 : 0
  if (region.indexOf(34) < 0) return { lines: lines + open, records: lines + open }
  let records = 0
  let inQuotes = false
  for (let i = 0; i < region.length; i++) {
    const c = region[i]
    if (c === 34) inQuotes = !inQuotes
    else if (c === 10 && !inQuotes) records++
  }
  return { lines: lines + open, records: records + open }
}

/** Lines and records (non-blank lines) of a JSON Lines region. */
function countJsonl(region: Buffer): { lines: number; records: number } {
  let lines = 0
  let records = 0
  let pos = 0
  const isBlank = (s: number, e: number) => {
    for (let i = s; i < e; i++) {
      const c = region[i]
      if (c !== 32 && c !== 9 && c !== 13) return false
    }
    return true
  }
  for (let nl = region.indexOf(10); nl >= 0; nl = region.indexOf(10, pos)) {
    lines++
    if (!isBlank(pos, nl)) records++
    pos = nl + 1
  }
  if (pos < region.length) {
    lines++
    if (!isBlank(pos, region.length)) records++
  }
  return { lines, records }
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
