// Worker of parallel dataset registration (commitParallel.ts): parses a region of a CSV
// or JSON Lines file into canonical records ("parse"), then, once the main thread knows
// the index of its first record, salts and commits them ("commit").
import { randomFillSync } from 'node:crypto'
import { parentPort } from 'node:worker_threads'
import { isProvenaError } from '../errors.js'
import { perfectRoot, rangeNodes } from '../log/index.js'
import { commitRecordAt } from './commitment.js'
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
}

export type WorkerReply =
  | { type: 'committed'; id: number; lines: Uint32Array; salts: Uint8Array; commitments: Uint8Array; levels: Uint8Array; nodes: Uint8Array }
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
  return [
    { type: 'committed', id: m.id, lines, salts, commitments, levels, nodes },
    [lines.buffer as ArrayBuffer, salts.buffer as ArrayBuffer, commitments.buffer as ArrayBuffer, levels.buffer as ArrayBuffer, nodes.buffer as ArrayBuffer],
  ]
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
