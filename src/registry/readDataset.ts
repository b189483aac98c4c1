import { createHash } from 'node:crypto'
import { TextDecoder } from 'node:util'
import { createReadStream, readdirSync, statSync } from 'node:fs'
import { extname, join, relative, sep } from 'node:path'
import { canonicalJson } from '../crypto/index.js'
import { registryErrors } from './errors.js'

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

/** Builds a RecordBatch: appends bytes to a growing buffer, one record at a time. */
class BatchWriter {
  out: Buffer
  at = 0
  #ends: number[] = []
  #lines: number[] = []
  #paths: string[] | undefined

  constructor(capacity: number, withPaths = false) {
    this.out = Buffer.allocUnsafe(Math.max(capacity, 1024))
    if (withPaths) this.#paths = []
  }

  /** Makes room for `n` more bytes. */
  reserve(n: number): Buffer {
    if (this.at + n > this.out.length) {
      const bigger = Buffer.allocUnsafe(2 * (this.at + n))
      this.out.copy(bigger, 0, 0, this.at)
      this.out = bigger
    }
    return this.out
  }

  putString(s: string): void {
    this.reserve(3 * s.length)
    this.at += this.out.write(s, this.at, 'utf8')
  }

  endRecord(line: number, path?: string): void {
    this.#ends.push(this.at)
    this.#lines.push(line)
    this.#paths?.push(path!)
  }

  get count(): number {
    return this.#ends.length
  }

  finish(): RecordBatch {
    const batch: RecordBatch = { count: this.#ends.length, lines: Uint32Array.from(this.#lines), bytes: this.out.subarray(0, this.at), ends: Uint32Array.from(this.#ends) }
    if (this.#paths) batch.paths = this.#paths
    return batch
  }
}

const LF = 10
const CR = 13

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

function decodeLine(decoder: TextDecoder, data: Buffer, start: number, end: number, path: string, line: number): string {
  try {
    return decoder.decode(data.subarray(start, end))
  } catch {
    throw registryErrors.parse(path, line, 'not valid UTF-8')
  }
}

/**
 * Splits CSV fields of RFC 4180: comma-separated, double quotes around fields that hold
 * commas, quotes ("" inside) or line breaks. Returns undefined when `text` ends inside a
 * quoted field (the record continues on the next line).
 */
export function splitCsv(text: string, path: string, line: number): string[] | undefined {
  if (!text.includes('"')) return text.split(',')
  const fields: string[] = []
  let i = 0
  for (;;) {
    if (text[i] === '"') {
      let value = ''
      let j = i + 1
      for (;;) {
        const q = text.indexOf('"', j)
        if (q < 0) return undefined
        value += text.slice(j, q)
        if (text[q + 1] === '"') {
          value += '"'
          j = q + 2
          continue
        }
        i = q + 1
        break
      }
      fields.push(value)
      if (i === text.length) return fields
      if (text[i] !== ',') throw registryErrors.parse(path, line, `unexpected character ${JSON.stringify(text[i])} after the closing quote of field ${fields.length}`)
      i++
    } else {
      const comma = text.indexOf(',', i)
      const value = text.slice(i, comma < 0 ? text.length : comma)
      if (value.includes('"')) throw registryErrors.parse(path, line, `stray double quote in unquoted field ${fields.length + 1}`)
      fields.push(value)
      if (comma < 0) return fields
      i = comma + 1
    }
  }
}

function openCsv(path: string, size: number): DatasetSource {
  const hash = createHash('sha256')
  let columns: string[] | undefined
  return withRecords({
    path,
    format: 'csv',
    get columns() {
      return columns
    },
    size,
    contentDigest: () => hash.copy().digest(),
    async *batches(onBytes) {
      const decoder = new TextDecoder('utf-8', { fatal: true })
      let writer = new BatchWriter(8 << 20)
      let width = 0
      let order: number[] = []
      // Canonical JSON of a record = prefix[0] value0 prefix[1] value1 … '}', the prefixes
      // (`{"name":`, `,"name":`) in RFC 8785 member order, fixed once from the header.
      let prefixes: Buffer[] = []
      let parts: string[] = []
      const starts = new Int32Array(4096)
      let pending = ''
      let pendingLine = 0

      // A line that may hold quotes, escapes or non-ASCII text, or continues a quoted field.
      const slowLine = (text: string, lineNo: number) => {
        const recordText = pending ? `${pending}\n${text}` : text
        const startLine = pending ? pendingLine : lineNo
        const fields = splitCsv(recordText, path, startLine)
        if (fields === undefined) {
          pending = recordText
          pendingLine = startLine
          return
        }
        pending = ''
        if (!columns) {
          if (recordText.trim() === '') throw registryErrors.parse(path, startLine, 'the header line is empty')
          const seen = new Set<string>()
          for (const [i, c] of fields.entries()) {
            if (c === '') throw registryErrors.parse(path, startLine, `header column ${i + 1} has no name`)
            if (seen.has(c)) throw registryErrors.parse(path, startLine, `duplicate column name "${c}"`, c)
            seen.add(c)
          }
          columns = fields
          width = fields.length
          // RFC 8785 member order: names sorted by UTF-16 code units.
          order = fields.map((_, i) => i).sort((a, b) => (fields[a]! < fields[b]! ? -1 : fields[a]! > fields[b]! ? 1 : 0))
          prefixes = order.map((i, j) => Buffer.from(`${j === 0 ? '{' : ','}${canonicalJson(fields[i])}:`, 'utf8'))
          parts = order.flatMap((_, j) => [prefixes[j]!.toString('utf8'), ''])
          parts.push('}')
          return
        }
        if (fields.length !== width) {
          if (recordText === '') throw registryErrors.parse(path, startLine, 'empty line inside the data')
          throw registryErrors.parse(path, startLine, `ragged row: ${fields.length} fields, the header has ${width}`)
        }
        for (let j = 0; j < width; j++) parts[2 * j + 1] = JSON.stringify(fields[order[j]!])
        writer.putString(parts.join(''))
        writer.endRecord(startLine)
      }

      const onLine = (data: Buffer, s: number, e: number, lineNo: number) => {
        if (pending || !columns) return slowLine(decodeLine(decoder, data, s, e, path, lineNo), lineNo)
        // Fast path for plain ASCII lines (no quote, backslash or control character): find
        // the commas and copy the fields between quotes, with no strings made at all.
        let count = 0
        starts[0] = s
        for (let i = s; i < e; i++) {
          const c = data[i]!
          if (c === 44) {
            if (++count >= starts.length - 1) return slowLine(decodeLine(decoder, data, s, e, path, lineNo), lineNo)
            starts[count] = i + 1
          } else if (c === 34 || c === 92 || c < 32 || c > 126) {
            return slowLine(decodeLine(decoder, data, s, e, path, lineNo), lineNo)
          }
        }
        if (count + 1 !== width) {
          if (s === e) throw registryErrors.parse(path, lineNo, 'empty line inside the data')
          throw registryErrors.parse(path, lineNo, `ragged row: ${count + 1} fields, the header has ${width}`)
        }
        starts[count + 1] = e + 1
        const out = writer.reserve(e - s + 64 * width + 2)
        let at = writer.at
        for (let j = 0; j < width; j++) {
          const p = prefixes[j]!
          out.set(p, at)
          at += p.length
          const f = order[j]!
          out[at++] = 34
          for (let k = starts[f]!, end = starts[f + 1]! - 1; k < end; k++) out[at++] = data[k]!
          out[at++] = 34
        }
        out[at++] = 125
        writer.at = at
        writer.endRecord(lineNo)
      }

      const flush = () => {
        if (writer.count === 0) return undefined
        const batch = writer.finish()
        writer = new BatchWriter(batch.bytes.length + 1024)
        return batch
      }
      yield* scanLines(path, hash, onBytes, onLine, flush)
      if (pending) throw registryErrors.parse(path, pendingLine, 'a quoted field is not closed before the end of the file')
      if (!columns) throw registryErrors.empty(path, 'the file is empty')
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
      const decoder = new TextDecoder('utf-8', { fatal: true })
      let writer = new BatchWriter(8 << 20)
      const onLine = (data: Buffer, s: number, e: number, lineNo: number) => {
        const text = decodeLine(decoder, data, s, e, path, lineNo)
        if (text.trim() === '') return
        let value: unknown
        try {
          value = JSON.parse(text)
        } catch (err) {
          throw registryErrors.parse(path, lineNo, `invalid JSON: ${(err as Error).message}`)
        }
        try {
          writer.putString(canonicalJson(value))
        } catch (err) {
          throw registryErrors.parse(path, lineNo, (err as Error).message)
        }
        writer.endRecord(lineNo)
      }
      const flush = () => {
        if (writer.count === 0) return undefined
        const batch = writer.finish()
        writer = new BatchWriter(batch.bytes.length + 1024)
        return batch
      }
      yield* scanLines(path, hash, onBytes, onLine, flush)
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
    return e.isFile() ? [relative(root, full).split(sep).join('/')] : []
  })
}

function openDirectory(path: string): DatasetSource {
  const files = listFiles(path).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  const listing = createHash('sha256')
  const size = files.reduce((s, f) => s + statSync(join(path, f)).size, 0)
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
          for await (const chunk of createReadStream(join(path, rel), { highWaterMark: 1 << 20 })) {
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
