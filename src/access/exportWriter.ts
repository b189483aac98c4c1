// Writing an export: decrypted records (RFC 8785 JSON) back into the format they were
// imported in, into a temporary file renamed into place only when every record decrypted.
// A CSV record's JSON is a flat object of strings in sorted member order, so its row is
// assembled from byte ranges of the plaintext, with no string or object made per record.
import { closeSync, existsSync, openSync, readdirSync, renameSync, rmSync, statSync, writeSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { canonicalJson } from '../crypto/index.js'
import { accessErrors } from './errors.js'

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
    // "__proto__" as a column name: an assignment would set the prototype (and drop the
    // column); JSON.parse makes it an own member.
    if (sep < 0 || member.startsWith('__proto__"')) return JSON.parse(json) as Record<string, unknown>
    out[member.slice(0, sep)] = member.slice(sep + 3)
  }
  return out
}

const QUOTE = 34
const COMMA = 44
const COLON = 58
const BACKSLASH = 92
const LF = 10

/** Where rows go: a buffer with room reserved before each write. */
export interface ByteSink {
  buf: Buffer
  at: number
  /** Room for `n` more bytes at `buf[at]`. */
  reserve(n: number): Buffer
  text(s: string): void
}

/** Rows kept in memory (a worker's share of an export), in a buffer it owns (transferable). */
export class MemorySink implements ByteSink {
  buf: Buffer
  at = 0

  constructor(capacity: number) {
    this.buf = Buffer.from(new ArrayBuffer(Math.max(capacity, 1024)))
  }

  reserve(n: number): Buffer {
    if (this.at + n > this.buf.length) {
      const bigger = Buffer.from(new ArrayBuffer(2 * (this.at + n)))
      this.buf.copy(bigger, 0, 0, this.at)
      this.buf = bigger
    }
    return this.buf
  }

  text(s: string): void {
    this.reserve(Buffer.byteLength(s, 'utf8'))
    this.at += this.buf.write(s, this.at, 'utf8')
  }
}

/** Whether process `pid` runs on this machine (EPERM: it does, under another user). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Removes the temporary files of earlier writes to `path` whose process is dead (killed
 * mid-export: `<path>.<pid>-<random>.partial`), so that decrypted records are never left
 * behind; a write in progress in a live process is left alone.
 */
export function removeStalePartials(path: string): string[] {
  const dir = dirname(path)
  const prefix = `${basename(path)}.`
  const removed: string[] = []
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return removed
  }
  for (const name of names) {
    const m = name.startsWith(prefix) ? /^(\d+)-[0-9a-f]{12}\.partial$/.exec(name.slice(prefix.length)) : null
    if (!m || isProcessAlive(Number(m[1]))) continue
    rmSync(join(dir, name), { force: true })
    removed.push(join(dir, name))
  }
  return removed
}

/**
 * A file written through a buffer, under a temporary name (with the writer's pid) until
 * `commit` renames it into place; `abort` removes it. Nothing half-written is ever left at
 * the final path, and a temporary file a killed process left is removed by the next write.
 */
export class OutputFile implements ByteSink {
  readonly #path: string
  readonly #tmp: string
  readonly #fd: number
  buf = Buffer.allocUnsafe(4 << 20)
  at = 0

  constructor(path: string) {
    this.#path = path
    this.#tmp = `${path}.${process.pid}-${randomBytes(6).toString('hex')}.partial`
    if (existsSync(path) && statSync(path).isDirectory()) throw accessErrors.cannotWrite(path, { code: 'EISDIR' })
    removeStalePartials(path)
    try {
      this.#fd = openSync(this.#tmp, 'w', 0o600)
    } catch (cause) {
      throw accessErrors.cannotWrite(path, cause)
    }
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
    try {
      renameSync(this.#tmp, this.#path)
    } catch (cause) {
      rmSync(this.#tmp, { force: true })
      throw accessErrors.cannotWrite(this.#path, cause)
    }
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
  readonly #commas: Uint8Array

  constructor(
    readonly columns: readonly string[],
    readonly subjectColumn: string,
    private readonly out: ByteSink,
  ) {
    const sorted = [...columns].sort()
    // Member j of the record: `{"name":"` (or `,"name":"`), its value, a closing quote.
    this.#prefixes = sorted.map((c, j) => Buffer.from(`${j === 0 ? '{' : ','}${canonicalJson(c)}:"`, 'utf8'))
    this.#perm = Int32Array.from(columns.map((c) => sorted.indexOf(c)))
    this.#subjectAt = columns.indexOf(subjectColumn)
    this.#starts = new Int32Array(columns.length)
    this.#ends = new Int32Array(columns.length)
    this.#commas = new Uint8Array(columns.length)
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
    const commas = this.#commas
    let at = 0
    for (let j = 0; j < n; j++) {
      // The member name: checked at its ends and by length (the plaintext was authenticated
      // by AES-GCM as the canonical JSON this import wrote; this guards the shape cheaply).
      const p = this.#prefixes[j]!
      const e = at + p.length
      if (e > len || plain[at] !== p[0] || plain[at + 1] !== QUOTE || plain[e - 2] !== COLON || plain[e - 1] !== QUOTE) return false
      at = e
      starts[j] = at
      // The value runs to the next quote (no escapes); note whether it holds a comma.
      let comma = 0
      for (let c = plain[at]; c !== QUOTE; c = plain[++at]) {
        if (at >= len) return false
        if (c === COMMA) comma = 1
      }
      ends[j] = at++
      commas[j] = comma
    }
    if (at !== len - 1) return false
    // At most: every byte, two quotes and a comma per field, the subject, a newline.
    const buf = this.out.reserve(len + 3 * n + (subject ? subject.length : 0) + 1)
    let w = this.out.at
    const perm = this.#perm
    for (let k = 0; k < n; k++) {
      if (k > 0) buf[w++] = COMMA
      if (k === this.#subjectAt && subject) {
        for (let i = 0; i < subject.length; i++) buf[w++] = subject[i]!
        continue
      }
      const j = perm[k]!
      const e = ends[j]!
      // Without escapes, a comma is the only byte that needs quoting (a quote, CR or LF
      // would have been escaped in the JSON).
      if (commas[j]) buf[w++] = QUOTE
      for (let i = starts[j]!; i < e; i++) buf[w++] = plain[i]!
      if (commas[j]) buf[w++] = QUOTE
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

/**
 * Writes decrypted records (RFC 8785 JSON) in the format they were imported in: CSV rows
 * (columns given) or JSON Lines. With `pseudonym`, the subject column holds it instead of
 * the controller's own id (exports to anyone but the controller).
 */
export class RecordWriter {
  readonly #csv: CsvRows | undefined

  constructor(
    private readonly sink: ByteSink,
    private readonly columns: readonly string[] | undefined,
    private readonly subjectColumn: string,
  ) {
    this.#csv = columns ? new CsvRows(columns, subjectColumn, sink) : undefined
  }

  header(): void {
    this.#csv?.header()
  }

  write(plain: Buffer, pseudonym?: { text: string; bytes: Buffer }): void {
    const csv = this.#csv
    if (csv) {
      if (csv.row(plain, pseudonym?.bytes)) return
    } else if (!pseudonym) {
      const buf = this.sink.reserve(plain.length + 1)
      buf.set(plain, this.sink.at)
      buf[this.sink.at + plain.length] = LF
      this.sink.at += plain.length + 1
      return
    }
    const json = plain.toString('utf8')
    const rec = csv ? parseFlatRecord(json) : (JSON.parse(json) as Record<string, unknown>)
    if (pseudonym) rec[this.subjectColumn] = pseudonym.text
    if (csv) csv.rowOf(rec)
    else this.sink.text(`${canonicalJson(rec)}\n`)
  }
}

/**
 * The additional data of record `index` of a dataset, `provena.record/v1:<dataset>:<index>`,
 * written into one scratch buffer (AES-GCM absorbs it at once, so the view is reused).
 */
export function recordAadWriter(dataset: string): (index: number) => Buffer {
  const prefix = `provena.record/v1:${dataset}:`
  const scratch = Buffer.alloc(prefix.length + 20)
  scratch.write(prefix, 0, 'latin1')
  return (index) => scratch.subarray(0, prefix.length + scratch.write(String(index), prefix.length, 'latin1'))
}
