// Worker of parallel dataset registration (commitParallel.ts): parses a region of a CSV
// or JSON Lines file into canonical records ("parse"), then, once the main thread knows
// the index of its first record, salts and commits them ("commit").
import { randomFillSync } from 'node:crypto'
import { parentPort } from 'node:worker_threads'
import { isProvenaError } from '../errors.js'
import { perfectRoot, rangeNodes } from '../log/index.js'
import { commitRecordAt } from './commitment.js'
import type { RecordBatch } from './readDataset.js'
import { BatchWriter, CsvParser, JsonlParser } from './recordParsers.js'

export type WorkerRequest =
  | { type: 'parse'; id: number; format: 'csv' | 'jsonl'; path: string; columns?: string[]; bytes: Uint8Array; last: boolean }
  | { type: 'commit'; id: number; startIndex: number }

export type WorkerReply =
  | { type: 'parsed'; id: number; count: number; lineCount: number }
  | { type: 'committed'; id: number; lines: Uint32Array; salts: Uint8Array; commitments: Uint8Array; levels: Uint8Array; nodes: Uint8Array }
  | { type: 'error'; id: number; code: string; message: string; line?: number; what?: string; field?: string }

const held = new Map<number, RecordBatch>()

function parse(m: Extract<WorkerRequest, { type: 'parse' }>): WorkerReply {
  const data = Buffer.from(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength)
  const writer = new BatchWriter(data.length * 5)
  const parser = m.format === 'csv' ? new CsvParser(m.path, writer, m.columns) : new JsonlParser(m.path, writer)
  let lineNo = 0
  let pos = 0
  for (let nl = data.indexOf(10, pos); nl >= 0; nl = data.indexOf(10, pos)) {
    parser.line(data, pos, nl > pos && data[nl - 1] === 13 ? nl - 1 : nl, ++lineNo)
    pos = nl + 1
  }
  if (pos < data.length) parser.line(data, pos, data[data.length - 1] === 13 ? data.length - 1 : data.length, ++lineNo)
  if (m.last) parser.end()
  const batch = writer.finish()
  held.set(m.id, batch)
  return { type: 'parsed', id: m.id, count: batch.count, lineCount: lineNo }
}

function commit(m: Extract<WorkerRequest, { type: 'commit' }>): [WorkerReply, ArrayBuffer[]] {
  const b = held.get(m.id)!
  held.delete(m.id)
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
    if (m.type === 'parse') parentPort!.postMessage(parse(m))
    else {
      const [reply, transfer] = commit(m)
      parentPort!.postMessage(reply, transfer)
    }
  } catch (e) {
    const details = isProvenaError(e) ? e.details : undefined
    parentPort!.postMessage({
      type: 'error',
      id: m.id,
      code: isProvenaError(e) ? e.code : 'INTERNAL',
      message: (e as Error).message,
      line: details?.line as number | undefined,
      what: details?.what as string | undefined,
      field: details?.field as string | undefined,
    } satisfies WorkerReply)
  }
})
