// Worker of parallel dataset registration (commitParallel.ts): parses a region of a CSV
// or JSON Lines file into canonical records ("parse"), then, once the main thread knows
// the index of its first record, salts and commits them ("commit").
import { createHmac, createSecretKey, randomFillSync } from 'node:crypto'
import { parentPort } from 'node:worker_threads'
import { isProvenaError } from '../errors.js'
import { perfectRoot, rangeNodes } from '../log/index.js'
import { commitRecordAt } from './commitment.js'
import { registryErrors } from './errors.js'
import { memberReader } from './recordMember.js'
import { BatchWriter, CsvParser, JsonlParser } from './recordParsers.js'

/** A region of the file: whole records, the first on line `firstLine`, numbered from `startIndex`. */
export interface WorkerRequest {
  id: number
  format: 'csv' | 'jsonl'
  path: string
  columns?: string[]
  bytes: Uint8Array
  firstLine: number
  startIndex: number
  /** Records the main thread counted in the region (a cross-check). */
  records: number
  /** An encrypted import: return the canonical records, and each one's subject pseudonym. */
  keep?: { subjectColumn: string; pseudonymKey: Uint8Array }
}

/** What a region returns to an encrypted import besides its commitments. */
export interface KeptRecords {
  bytes: Uint8Array
  ends: Uint32Array
  /** HMAC-SHA256 of each record's subject id under the controller's pseudonym key (hex). */
  pseudonyms: string[]
}

export type WorkerReply =
  | { type: 'committed'; id: number; lines: Uint32Array; salts: Uint8Array; commitments: Uint8Array; levels: Uint8Array; nodes: Uint8Array; kept?: KeptRecords }
  | { type: 'error'; id: number; code: string; message: string; details?: Record<string, unknown> }

/** Parses, salts and commits one region; returns the reply and the buffers to transfer. */
function commitRegion(m: WorkerRequest): [WorkerReply, ArrayBuffer[]] {
  const data = Buffer.from(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength)
  const writer = new BatchWriter(data.length * 5)
  const parser = m.format === 'csv' ? new CsvParser(m.path, writer, m.columns) : new JsonlParser(m.path, writer)
  let lineNo = m.firstLine - 1
  let pos = 0
  for (let nl = data.indexOf(10, pos); nl >= 0; nl = data.indexOf(10, pos)) {
    parser.line(data, pos, nl > pos && data[nl - 1] === 13 ? nl - 1 : nl, ++lineNo)
    pos = nl + 1
  }
  if (pos < data.length) parser.line(data, pos, data[data.length - 1] === 13 ? data.length - 1 : data.length, ++lineNo)
  // A region ends at a record boundary, so a quoted field open at its end is broken quoting.
  parser.end()
  const b = writer.finish()
  if (b.count !== m.records) throw new Error(`region ${m.id}: ${b.count} records parsed, ${m.records} counted`)
  const salts = Buffer.alloc(32 * b.count)
  randomFillSync(salts)
  const commitments = Buffer.alloc(32 * b.count)
  for (let i = 0; i < b.count; i++) {
    commitRecordAt(m.startIndex + i, salts, 32 * i, b.bytes, i === 0 ? 0 : b.ends[i - 1]!, b.ends[i]!).copy(commitments, 32 * i)
  }
  // The roots of the perfect subtrees covering this region's leaves, so that the main
  // thread extends the dataset tree with a few hashes instead of one per record.
  const pieces = rangeNodes(m.startIndex, m.startIndex + b.count)
  const levels = Uint8Array.from(pieces.map((p) => p.level))
  const nodes = Buffer.alloc(32 * pieces.length)
  let at = 0
  pieces.forEach((p, k) => {
    const width = 2 ** p.level
    const leaves: Buffer[] = new Array(width)
    for (let i = 0; i < width; i++) leaves[i] = commitments.subarray(32 * (at + i), 32 * (at + i + 1))
    perfectRoot(leaves).copy(nodes, 32 * k)
    at += width
  })
  const lines = b.lines
  const transfer = [lines.buffer as ArrayBuffer, salts.buffer as ArrayBuffer, commitments.buffer as ArrayBuffer, levels.buffer as ArrayBuffer, nodes.buffer as ArrayBuffer]
  const reply: WorkerReply = { type: 'committed', id: m.id, lines, salts, commitments, levels, nodes }
  if (m.keep) {
    const subjectOf = memberReader(m.keep.subjectColumn, m.format === 'csv')
    const key = createSecretKey(m.keep.pseudonymKey)
    const pseudonyms = new Array<string>(b.count)
    for (let i = 0, start = 0; i < b.count; i++) {
      const end = b.ends[i]!
      const subject = subjectOf(b.bytes, start, end)
      if (subject === undefined) throw registryErrors.parse(m.path, b.lines[i]!, `the record has no subject id in "${m.keep.subjectColumn}"`, m.keep.subjectColumn)
      pseudonyms[i] = createHmac('sha256', key).update(subject, 'utf8').digest('hex')
      start = end
    }
    // The batch's own copy of the bytes (its buffer may be larger), transferred.
    const bytes = new Uint8Array(b.bytes.length)
    bytes.set(b.bytes)
    reply.kept = { bytes, ends: b.ends, pseudonyms }
    transfer.push(bytes.buffer, b.ends.buffer as ArrayBuffer)
  }
  return [reply, transfer]
}

parentPort!.on('message', (m: WorkerRequest) => {
  try {
    const [reply, transfer] = commitRegion(m)
    parentPort!.postMessage(reply, transfer)
  } catch (e) {
    parentPort!.postMessage({
      type: 'error',
      id: m.id,
      code: isProvenaError(e) ? e.code : 'INTERNAL',
      message: (e as Error).message,
      details: isProvenaError(e) ? e.details : undefined,
    } satisfies WorkerReply)
  }
})
