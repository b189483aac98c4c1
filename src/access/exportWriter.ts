// Writing an export: decrypted records (RFC 8785 JSON) back into the format they were
// imported in, into a temporary file renamed into place only when every record decrypted.
// A CSV record's JSON is a flat object of strings in sorted member order, so its row is
// assembled from byte ranges of the plaintext, with no string or object made per record.
import { closeSync, openSync, renameSync, rmSync, writeSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { canonicalJson } from '../crypto/index.js'

/** RFC 4180 quoting of one CSV field. */
export function csvField(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v
}

/**
 * Parses the RFC 8785 JSON of a CSV record — a flat object of strings — without JSON.parse:
 * in it a raw `","` or `":"` can only stand between members (a quote inside a string is
 * escaped). Values with escapes, or anything unexpected, go through JSON.parse.
 */
export function parseFlatRecord(json: string): Record<string, unknown> {
  if (!json.startsWith('{"') || !json.endsWith('"}') || json.includes('\\')) return JSON.parse(json) as Record<string, unknown>
  const out: Record<string, string> = {}
  for (const member of json.slice(2, -2).split('","')) {
    const sep = member.indexOf('":"')
    if (sep < 0) return JSON.parse(json) as Record<string, unknown>
    out[member.slice(0, sep)] = member.slice(sep + 3)
  }
  return out
}

const QUOTE = 34
const COMMA = 44
const BACKSLASH = 92
const LF = 10

/**
 * A file written through a buffer, under a temporary name until `commit` renames it into
 * place; `abort` removes it. Nothing half-written is ever left at the final path.
 */
export class OutputFile {
  readonly #path: string
  readonly #tmp: string
  readonly #fd: number
  buf = Buffer.allocUnsafe(4 << 20)
  at = 0

  constructor(path: string) {
    this.#path = path
    this.#tmp = `${path}.${randomBytes(6).toString('hex')}.partial`
    this.#fd = openSync(this.#tmp, 'w', 0o600)
  }

  /** Room for `n` more bytes at `buf[at]` (flushes, or grows for one very large record). */
  reserve(n: number): Buffer {
    if (this.at + n > this.buf.length) {
      this.flush()
      if (n > this.buf.length) this.buf = Buffer.allocUnsafe(n)
    }
    return this.buf
  }

  text(s: string): void {
    const n = Buffer.byteLength(s, 'utf8')
    this.reserve(n)
    this.at += this.buf.write(s, this.at, 'utf8')
  }

  flush(): void {
    for (let off = 0; off < this.at; ) off += writeSync(this.#fd, this.buf, off, this.at - off)
    this.at = 0
  }

  commit(): void {
    this.flush()
    closeSync(this.#fd)
    renameSync(this.#tmp, this.#path)
  }

  abort(): void {
    try {
      closeSync(this.#fd)
    } catch {
      // already closed
    }
    rmSync(this.#tmp, { force: true })
  }
}

/**
 * CSV rows from the RFC 8785 JSON bytes of CSV records. `row` appends the record's row (the
 * subject column replaced when `subject` is given) and returns true; it returns false, having
 * written nothing, when the record is not in the simple shape (an escape in a value, a
 * non-string or unexpected member), and `rowOf` then writes it through JSON.parse.
 */
export class CsvRows {
  readonly #prefixes: Uint8Array[]
  readonly #perm: Int32Array
  readonly #subjectAt: number
  readonly #starts: Int32Array
  readonly #ends: Int32Array

  constructor(
    readonly columns: readonly string[],
    readonly subjectColumn: string,
    private readonly out: OutputFile,
  ) {
    const sorted = [...columns].sort()
    // Member j of the record: `{"name":"` (or `,"name":"`), its value, a closing quote.
    this.#prefixes = sorted.map((c, j) => Buffer.from(`${j === 0 ? '{' : ','}${canonicalJson(c)}:"`, 'utf8'))
    this.#perm = Int32Array.from(columns.map((c) => sorted.indexOf(c)))
    this.#subjectAt = columns.indexOf(subjectColumn)
    this.#starts = new Int32Array(columns.length)
    this.#ends = new Int32Array(columns.length)
  }

  header(): void {
    this.out.text(`${this.columns.map(csvField).join(',')}\n`)
  }

  row(plain: Uint8Array, subject?: Uint8Array): boolean {
    const n = this.#prefixes.length
    const len = plain.length
    if (len < 2 || plain[len - 1] !== 125 || plain.indexOf(BACKSLASH) !== -1) return false
    const starts = this.#starts
    const ends = this.#ends
    let at = 0
    for (let j = 0; j < n; j++) {
      const p = this.#prefixes[j]!
      if (at + p.length > len) return false
      for (let k = 0; k < p.length; k++) if (plain[at + k] !== p[k]) return false
      at += p.length
      starts[j] = at
      while (at < len && plain[at] !== QUOTE) at++
      if (at >= len) return false
      ends[j] = at++
    }
    if (at !== len - 1) return false
    // At most: every byte, two quotes and a comma per field, the subject, a newline.
    const buf = this.out.reserve(len + 3 * n + (subject ? subject.length : 0) + 1)
    let w = this.out.at
    for (let k = 0; k < n; k++) {
      if (k > 0) buf[w++] = COMMA
      let src: Uint8Array = plain
      let s: number
      let e: number
      if (k === this.#subjectAt && subject) {
        src = subject
        s = 0
        e = subject.length
      } else {
        const j = this.#perm[k]!
        s = starts[j]!
        e = ends[j]!
      }
      // Without escapes, a comma is the only byte that needs quoting (a quote, CR or LF
      // would have been escaped in the JSON).
      let quote = false
      for (let i = s; i < e; i++) {
        if (src[i] === COMMA) {
          quote = true
          break
        }
      }
      if (quote) buf[w++] = QUOTE
      for (let i = s; i < e; i++) buf[w++] = src[i]!
      if (quote) buf[w++] = QUOTE
    }
    buf[w++] = LF
    this.out.at = w
    return true
  }

  /** The row of any record (parsed), for records `row` declines. */
  rowOf(record: Record<string, unknown>): void {
    this.out.text(`${this.columns.map((c) => csvField(String(record[c] ?? ''))).join(',')}\n`)
  }
}
