import { isAscii } from 'node:buffer'
import { TextDecoder } from 'node:util'
import { canonicalJson, canonicalJsonOfUnescaped } from '../crypto/index.js'
import { registryErrors } from './errors.js'
import type { RecordBatch } from './readDataset.js'

/** Builds a RecordBatch: appends bytes to a growing buffer, one record at a time. */
export class BatchWriter {
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

  /** A string known to be ASCII: one byte a character, copied without UTF-8 encoding. */
  putAscii(s: string): void {
    this.reserve(s.length)
    this.at += this.out.write(s, this.at, 'latin1')
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

export function decodeLine(decoder: TextDecoder, data: Buffer, start: number, end: number, path: string, line: number): string {
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


/**
 * Turns CSV lines (byte ranges) into canonical JSON records, {column: value} with string
 * values, in RFC 8785 member order. Takes the header from the first record unless given.
 */
export class CsvParser {
  columns: string[] | undefined
  writer: BatchWriter
  readonly #path: string
  readonly #decoder = new TextDecoder('utf-8', { fatal: true })
  #width = 0
  #order: number[] = []
  // Canonical JSON of a record = prefix[0] value0 prefix[1] value1 … '}', the prefixes
  // (`{"name":`, `,"name":`) in RFC 8785 member order, fixed once from the header.
  #prefixes: Buffer[] = []
  #parts: string[] = []
  readonly #starts = new Int32Array(4096)
  #pending = ''
  #pendingLine = 0

  constructor(path: string, writer: BatchWriter, columns?: string[]) {
    this.#path = path
    this.writer = writer
    if (columns) this.#setHeader(columns, 1)
  }

  /** One line, bytes data[s, e), 1-based number lineNo. */
  line(data: Buffer, s: number, e: number, lineNo: number): void {
    if (this.#pending || !this.columns) return this.#slowLine(decodeLine(this.#decoder, data, s, e, this.#path, lineNo), lineNo)
    // Fast path for plain ASCII lines (no quote, backslash or control character): find
    // the commas and copy the fields between quotes, with no strings made at all.
    const starts = this.#starts
    let count = 0
    starts[0] = s
    for (let i = s; i < e; i++) {
      const c = data[i]!
      if (c === 44) {
        if (++count >= starts.length - 1) return this.#slowLine(decodeLine(this.#decoder, data, s, e, this.#path, lineNo), lineNo)
        starts[count] = i + 1
      } else if (c === 34 || c === 92 || c < 32 || c > 126) {
        return this.#slowLine(decodeLine(this.#decoder, data, s, e, this.#path, lineNo), lineNo)
      }
    }
    const width = this.#width
    if (count + 1 !== width) {
      if (s === e) throw registryErrors.parse(this.#path, lineNo, 'empty line inside the data')
      throw registryErrors.parse(this.#path, lineNo, `ragged row: ${count + 1} fields, the header has ${width}`)
    }
    starts[count + 1] = e + 1
    const out = this.writer.reserve(e - s + 64 * width + 2)
    let at = this.writer.at
    for (let j = 0; j < width; j++) {
      const p = this.#prefixes[j]!
      out.set(p, at)
      at += p.length
      const f = this.#order[j]!
      out[at++] = 34
      for (let k = starts[f]!, end = starts[f + 1]! - 1; k < end; k++) out[at++] = data[k]!
      out[at++] = 34
    }
    out[at++] = 125
    this.writer.at = at
    this.writer.endRecord(lineNo)
  }

  /** At the end of the input: a quoted field left open, or no header, is an error. */
  end(): void {
    if (this.#pending) throw registryErrors.parse(this.#path, this.#pendingLine, 'a quoted field is not closed before the end of the file')
    if (!this.columns) throw registryErrors.empty(this.#path, 'the file is empty')
  }

  #setHeader(fields: string[], line: number): void {
    const seen = new Set<string>()
    for (const [i, c] of fields.entries()) {
      if (c === '') throw registryErrors.parse(this.#path, line, `header column ${i + 1} has no name`)
      if (seen.has(c)) throw registryErrors.parse(this.#path, line, `duplicate column name "${c}"`, c)
      seen.add(c)
    }
    this.columns = fields
    this.#width = fields.length
    // RFC 8785 member order: names sorted by UTF-16 code units.
    this.#order = fields.map((_, i) => i).sort((a, b) => (fields[a]! < fields[b]! ? -1 : fields[a]! > fields[b]! ? 1 : 0))
    this.#prefixes = this.#order.map((i, j) => Buffer.from(`${j === 0 ? '{' : ','}${canonicalJson(fields[i])}:`, 'utf8'))
    this.#parts = this.#order.flatMap((_, j) => [this.#prefixes[j]!.toString('utf8'), ''])
    this.#parts.push('}')
  }

  // A line that may hold quotes, escapes or non-ASCII text, or continues a quoted field.
  #slowLine(text: string, lineNo: number): void {
    const recordText = this.#pending ? `${this.#pending}\n${text}` : text
    const startLine = this.#pending ? this.#pendingLine : lineNo
    const fields = splitCsv(recordText, this.#path, startLine)
    if (fields === undefined) {
      this.#pending = recordText
      this.#pendingLine = startLine
      return
    }
    this.#pending = ''
    if (!this.columns) {
      if (recordText.trim() === '') throw registryErrors.parse(this.#path, startLine, 'the header line is empty')
      return this.#setHeader(fields, startLine)
    }
    if (fields.length !== this.#width) {
      if (recordText === '') throw registryErrors.parse(this.#path, startLine, 'empty line inside the data')
      throw registryErrors.parse(this.#path, startLine, `ragged row: ${fields.length} fields, the header has ${this.#width}`)
    }
    // One join, not a chain of +=: a rope of 2n+1 pieces per record costs the GC dearly.
    for (let j = 0; j < this.#width; j++) this.#parts[2 * j + 1] = JSON.stringify(fields[this.#order[j]!])
    this.writer.putString(this.#parts.join(''))
    this.writer.endRecord(startLine)
  }
}

// A blank line (skipped): spaces and tabs only. Anything else must parse as JSON.
const BLANK = /^[ \t\r]*$/

/** Turns JSON Lines into canonical JSON records; blank lines are skipped. */
export class JsonlParser {
  writer: BatchWriter
  readonly #path: string
  readonly #decoder = new TextDecoder('utf-8', { fatal: true })

  constructor(path: string, writer: BatchWriter) {
    this.#path = path
    this.writer = writer
  }

  line(data: Buffer, s: number, e: number, lineNo: number): void {
    const bytes = data.subarray(s, e)
    // ASCII needs no UTF-8 validation; ASCII without a backslash has no escapes, so its
    // canonical form is ASCII too, and its strings are copied unscanned.
    const ascii = isAscii(bytes)
    const plain = bytes.indexOf(92) === -1
    const text = ascii ? bytes.toString('latin1') : decodeLine(this.#decoder, data, s, e, this.#path, lineNo)
    if (BLANK.test(text)) return
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch (err) {
      throw registryErrors.parse(this.#path, lineNo, `invalid JSON: ${(err as Error).message}`)
    }
    try {
      if (!plain) this.writer.putString(canonicalJson(value))
      else if (ascii) this.writer.putAscii(canonicalJsonOfUnescaped(value))
      else this.writer.putString(canonicalJsonOfUnescaped(value))
    } catch (err) {
      throw registryErrors.parse(this.#path, lineNo, (err as Error).message)
    }
    this.writer.endRecord(lineNo)
  }

  end(): void {}
}
