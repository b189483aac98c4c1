import { createHash } from 'node:crypto'
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

/** A dataset opened for reading; `batches()` (or `records()`) streams it once. */
export interface DatasetSource {
  path: string
  format: DatasetFormat
  /** CSV header; undefined for JSON Lines and directories (set once reading starts). */
  columns: string[] | undefined
  /** The records in file order, a chunk of the file at a time. */
  batches(onBytes?: (bytes: number) => void): AsyncGenerator<SourceRecord[]>
  /** The records one by one. */
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

function withRecords(source: Omit<DatasetSource, 'records'>): DatasetSource {
  return {
    ...source,
    get columns() {
      return source.columns
    },
    async *records(onBytes) {
      for await (const batch of source.batches(onBytes)) yield* batch
    },
  }
}

/**
 * Lines of a text file, a chunk at a time (4 MiB), with the number of the first;
 * `\r\n` is accepted. Hashes the bytes as it reads them.
 */
async function* lineBatches(path: string, hash: ReturnType<typeof createHash>, onBytes?: (n: number) => void): AsyncGenerator<{ first: number; lines: string[] }> {
  const decoder = new TextDecoder('utf-8', { fatal: true })
  let carry = ''
  let next = 1
  let read = 0
  const crlf = (l: string) => (l.charCodeAt(l.length - 1) === 13 ? l.slice(0, -1) : l)
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 4 << 20 })) {
      const buf = chunk as Buffer
      hash.update(buf)
      read += buf.length
      onBytes?.(read)
      let text: string
      try {
        text = carry + decoder.decode(buf, { stream: true })
      } catch {
        throw registryErrors.parse(path, next, 'not valid UTF-8')
      }
      const lines = text.split('\n')
      carry = lines.pop()!
      if (lines.length === 0) continue
      for (let i = 0; i < lines.length; i++) if (lines[i]!.charCodeAt(lines[i]!.length - 1) === 13) lines[i] = crlf(lines[i]!)
      yield { first: next, lines }
      next += lines.length
    }
  } catch (error) {
    if ((error as { code?: string }).code?.startsWith('REGISTRY_')) throw error
    throw registryErrors.unreadable(path, error)
  }
  carry += decoder.decode()
  if (carry.length > 0) yield { first: next, lines: [crlf(carry)] }
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

// Characters that JSON.stringify would escape, or that need a UTF-8 encoder: their
// absence lets a field be quoted as it is.
const NEEDS_ESCAPE = /["\\\u0000-\u001f\u007f-\uffff]/

function openCsv(path: string, size: number): DatasetSource {
  const hash = createHash('sha256')
  const source: Omit<DatasetSource, 'records'> = {
    path,
    format: 'csv',
    columns: undefined,
    size,
    contentDigest: () => hash.copy().digest(),
    async *batches(onBytes) {
      let header: string[] | undefined
      let parts: string[] = []
      let order: number[] = []
      let pending = ''
      let pendingLine = 0
      for await (const { first, lines } of lineBatches(path, hash, onBytes)) {
        const out: SourceRecord[] = []
        for (let k = 0; k < lines.length; k++) {
          const lineNo = first + k
          const text = lines[k]!
          const recordText = pending ? `${pending}\n${text}` : text
          const startLine = pending ? pendingLine : lineNo
          const fields = splitCsv(recordText, path, startLine)
          if (fields === undefined) {
            pending = recordText
            pendingLine = startLine
            continue
          }
          pending = ''
          if (!header) {
            if (recordText.trim() === '') throw registryErrors.parse(path, startLine, 'the header line is empty')
            header = fields
            const seen = new Set<string>()
            for (const [i, c] of header.entries()) {
              if (c === '') throw registryErrors.parse(path, startLine, `header column ${i + 1} has no name`)
              if (seen.has(c)) throw registryErrors.parse(path, startLine, `duplicate column name "${c}"`, c)
              seen.add(c)
            }
            source.columns = header
            // RFC 8785 member order: sort names by UTF-16 code units once, not per record.
            order = header.map((_, i) => i).sort((a, b) => (header![a]! < header![b]! ? -1 : header![a]! > header![b]! ? 1 : 0))
            // parts = [prefix0, value0, prefix1, value1, …, '}'], prefixes fixed once.
            parts = order.flatMap((i, j) => [`${j === 0 ? '{' : ','}${canonicalJson(header![i])}:`, ''])
            parts.push('}')
            continue
          }
          if (fields.length !== header.length) {
            if (recordText === '') throw registryErrors.parse(path, startLine, 'empty line inside the data')
            throw registryErrors.parse(path, startLine, `ragged row: ${fields.length} fields, the header has ${header.length}`)
          }
          // One join, not a chain of +=: a rope of 2n+1 pieces per record costs the GC dearly.
          const escape = NEEDS_ESCAPE.test(recordText)
          for (let j = 0; j < order.length; j++) {
            const v = fields[order[j]!]!
            parts[2 * j + 1] = escape ? JSON.stringify(v) : `"${v}"`
          }
          out.push({ line: startLine, canonical: parts.join('') })
        }
        if (out.length > 0) yield out
      }
      if (pending) throw registryErrors.parse(path, pendingLine, 'a quoted field is not closed before the end of the file')
      if (!header) throw registryErrors.empty(path, 'the file is empty')
    },
  }
  return withRecords(source)
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
      for await (const { first, lines } of lineBatches(path, hash, onBytes)) {
        const out: SourceRecord[] = []
        for (let k = 0; k < lines.length; k++) {
          const text = lines[k]!
          if (text.trim() === '') continue
          let value: unknown
          try {
            value = JSON.parse(text)
          } catch (e) {
            throw registryErrors.parse(path, first + k, `invalid JSON: ${(e as Error).message}`)
          }
          try {
            out.push({ line: first + k, canonical: canonicalJson(value) })
          } catch (e) {
            throw registryErrors.parse(path, first + k, (e as Error).message)
          }
        }
        if (out.length > 0) yield out
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
        yield [{ line: i + 1, canonical, path: rel }]
      }
    },
  })
}
