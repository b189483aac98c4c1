import { createHash } from 'node:crypto'
import { constants, createReadStream, lstatSync, openSync, readdirSync, readlinkSync, statSync } from 'node:fs'
import { extname, join, relative, sep } from 'node:path'
import { canonicalJson } from '../crypto/index.js'
import { registryErrors } from './errors.js'
import { BatchWriter, CsvParser, JsonlParser } from './recordParsers.js'

export type DatasetFormat = 'csv' | 'jsonl' | 'dir'

/** One record as read: where it starts in the file and its canonical (RFC 8785) JSON text. */
export interface SourceRecord {
  /** 1-based line where the record starts (CSV, JSON Lines); for a directory, its 1-based position. */
  line: number
  /** RFC 8785 canonical JSON of the record; its UTF-8 bytes are what is committed. */
  canonical: string
  /** For a directory, the file's path relative to it. */
  path?: string
}

/**
 * Records read from one chunk of a file, as arrays rather than objects (a dataset may hold
 * millions): record i's canonical JSON is bytes[ends[i-1] ?? 0 .. ends[i]).
 */
export interface RecordBatch {
  count: number
  /** 1-based line where each record starts. */
  lines: Uint32Array
  /** The records' RFC 8785 canonical JSON, UTF-8, back to back. */
  bytes: Buffer
  ends: Uint32Array
  /** For a directory, each record's file path. */
  paths?: string[]
}

/** Record i of a batch: its canonical bytes (a view, not a copy). */
export function recordBytes(b: RecordBatch, i: number): Buffer {
  return b.bytes.subarray(i === 0 ? 0 : b.ends[i - 1]!, b.ends[i]!)
}

/** A dataset opened for reading; `batches()` (or `records()`) streams it once. */
export interface DatasetSource {
  path: string
  format: DatasetFormat
  /** CSV header; undefined for JSON Lines and directories (set once reading starts). */
  readonly columns: string[] | undefined
  /** The records in file order, a chunk of the file at a time. */
  batches(onBytes?: (bytes: number) => void): AsyncGenerator<RecordBatch>
  /** The records one by one (convenient, slower). */
  records(onBytes?: (bytes: number) => void): AsyncGenerator<SourceRecord>
  /** SHA-256 of the bytes read (CSV, JSON Lines) or of the directory listing; after reading. */
  contentDigest(): Buffer
  /** Total size in bytes, for progress. */
  size: number
}

/** Detects the format of `path` (by extension or directory) and opens it. */
export function openDataset(path: string): DatasetSource {
  let st
  try {
    st = statSync(path)
  } catch (cause) {
    throw registryErrors.unreadable(path, cause)
  }
  if (st.isDirectory()) return openDirectory(path)
  const ext = extname(path).toLowerCase()
  if (ext === '.csv') return openCsv(path, st.size)
  if (ext === '.jsonl' || ext === '.ndjson') return openJsonl(path, st.size)
  throw registryErrors.unsupported(path)
}

const LF = 10
const CR = 13

export { splitCsv } from './recordParsers.js'

/** Runs a parser over a file's lines, one RecordBatch per chunk read, then its end checks. */
async function* parseLines(
  path: string,
  hash: ReturnType<typeof createHash>,
  onBytes: ((n: number) => void) | undefined,
  parser: CsvParser | JsonlParser,
): AsyncGenerator<RecordBatch> {
  parser.writer = new BatchWriter(8 << 20)
  const flush = () => {
    if (parser.writer.count === 0) return undefined
    const batch = parser.writer.finish()
    parser.writer = new BatchWriter(batch.bytes.length + 1024)
    return batch
  }
  yield* scanLines(path, hash, onBytes, (d, s, e, n) => parser.line(d, s, e, n), flush)
  parser.end()
}

/**
 * The lines of a file as byte ranges, a 4 MiB chunk at a time: `onLine(data, start, end,
 * lineNo)` for each (without the line break; `\r\n` accepted). Hashes the bytes as it reads.
 * Yields after each chunk whatever `flush()` returns.
 */
async function* scanLines<T>(
  path: string,
  hash: ReturnType<typeof createHash>,
  onBytes: ((n: number) => void) | undefined,
  onLine: (data: Buffer, start: number, end: number, lineNo: number) => void,
  flush: () => T | undefined,
): AsyncGenerator<T> {
  let carry: Buffer | undefined
  let lineNo = 0
  let read = 0
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 4 << 20 })) {
      const buf = chunk as Buffer
      hash.update(buf)
      read += buf.length
      onBytes?.(read)
      const data = carry ? Buffer.concat([carry, buf]) : buf
      let pos = 0
      for (let nl = data.indexOf(LF, pos); nl >= 0; nl = data.indexOf(LF, pos)) {
        onLine(data, pos, nl > pos && data[nl - 1] === CR ? nl - 1 : nl, ++lineNo)
        pos = nl + 1
      }
      carry = pos < data.length ? Buffer.from(data.subarray(pos)) : undefined
      const out = flush()
      if (out !== undefined) yield out
    }
  } catch (error) {
    if ((error as { code?: string }).code?.startsWith('REGISTRY_')) throw error
    throw registryErrors.unreadable(path, error)
  }
  if (carry) {
    onLine(carry, 0, carry[carry.length - 1] === CR ? carry.length - 1 : carry.length, ++lineNo)
    const out = flush()
    if (out !== undefined) yield out
  }
}

function openCsv(path: string, size: number): DatasetSource {
  const hash = createHash('sha256')
  let parser: CsvParser | undefined
  return withRecords({
    path,
    format: 'csv',
    get columns() {
      return parser?.columns
    },
    size,
    contentDigest: () => hash.copy().digest(),
    async *batches(onBytes) {
      parser = new CsvParser(path, new BatchWriter(0))
      yield* parseLines(path, hash, onBytes, parser)
    },
  })
}

function openJsonl(path: string, size: number): DatasetSource {
  const hash = createHash('sha256')
  return withRecords({
    path,
    format: 'jsonl',
    columns: undefined,
    size,
    contentDigest: () => hash.copy().digest(),
    async *batches(onBytes) {
      yield* parseLines(path, hash, onBytes, new JsonlParser(path, new BatchWriter(0)))
    },
  })
}

function withRecords(source: Omit<DatasetSource, 'records'>): DatasetSource {
  return Object.assign(source, {
    async *records(onBytes?: (bytes: number) => void): AsyncGenerator<SourceRecord> {
      for await (const b of source.batches(onBytes)) {
        for (let i = 0; i < b.count; i++) {
          const r: SourceRecord = { line: b.lines[i]!, canonical: recordBytes(b, i).toString('utf8') }
          if (b.paths) r.path = b.paths[i]!
          yield r
        }
      }
    },
  })
}

function listFiles(root: string, dir = root): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = join(dir, e.name)
    if (e.isDirectory()) return listFiles(root, full)
    if (e.isFile()) return [relative(root, full).split(sep).join('/')]
    // WARNING: a link would commit bytes from outside the directory (a key, /etc/shadow) and
    // register something that changes under it; anything else is not data. Refused, named.
    throw registryErrors.notRegular(full, e.isSymbolicLink() ? `a symbolic link (to ${readlinkSync(full)})` : 'not a regular file (a device, FIFO or socket)')
  })
}

function openDirectory(path: string): DatasetSource {
  const files = listFiles(path).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  const listing = createHash('sha256')
  const size = files.reduce((s, f) => s + lstatSync(join(path, f)).size, 0)
  return withRecords({
    path,
    format: 'dir',
    columns: undefined,
    size,
    contentDigest: () => listing.copy().digest(),
    async *batches(onBytes) {
      let read = 0
      for (const [i, rel] of files.entries()) {
        const h = createHash('sha256')
        let bytes = 0
        try {
          // O_NOFOLLOW: a file swapped for a link after the listing is refused, not followed.
          for await (const chunk of createReadStream('', { fd: openSync(join(path, rel), constants.O_RDONLY | constants.O_NOFOLLOW), highWaterMark: 1 << 20 })) {
            h.update(chunk as Buffer)
            bytes += (chunk as Buffer).length
            read += (chunk as Buffer).length
            onBytes?.(read)
          }
        } catch (cause) {
          throw registryErrors.unreadable(join(path, rel), cause)
        }
        const canonical = canonicalJson({ path: rel, sha256: h.digest('hex'), size: bytes })
        listing.update(canonical).update('\n')
        const writer = new BatchWriter(canonical.length * 3, true)
        writer.putString(canonical)
        writer.endRecord(i + 1, rel)
        yield writer.finish()
      }
    },
  })
}
