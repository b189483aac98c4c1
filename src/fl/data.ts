// Tabular data for training: CSV (optionally gzip-compressed) with a header, the subject
// id column never a feature, the label column (default `target`) an integer class.
import { readFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'
import { ProvenaError } from '../errors.js'
import { SeededRandom } from './random.js'

export interface Dataset {
  features: string[]
  /** Row-major, rows × features. */
  X: Float32Array[]
  y: Int32Array
  subjects: string[]
  classes: number
}

/** Parses CSV text with numeric features into a Dataset; errors name the line and column. */
export function parseTabular(text: string, source: string, opts: { label?: string; subjectColumn?: string } = {}): Dataset {
  const lines = text.split(/\r?\n/).filter((l) => l.length > 0)
  const header = lines[0]?.split(',')
  if (!header) throw new ProvenaError('FL_BAD_DATA', `${source}: empty file`)
  const label = opts.label ?? 'target'
  const subject = opts.subjectColumn ?? header[0]!
  const li = header.indexOf(label)
  const si = header.indexOf(subject)
  if (li < 0) throw new ProvenaError('FL_BAD_DATA', `${source}:1: no label column "${label}" (columns: ${header.slice(0, 6).join(', ')}…)`, { hint: 'name it with --label COL' })
  if (si < 0) throw new ProvenaError('FL_BAD_DATA', `${source}:1: no subject column "${subject}"`, { hint: 'name it with --subject-column COL' })
  if (si === li) throw new ProvenaError('FL_BAD_DATA', `${source}:1: the label and subject columns are the same column "${label}"`)
  const fi = header.map((_, i) => i).filter((i) => i !== li && i !== si)
  const X: Float32Array[] = []
  const y: number[] = []
  const subjects: string[] = []
  for (let n = 1; n < lines.length; n++) {
    const cells = lines[n]!.split(',')
    if (cells.length !== header.length) throw new ProvenaError('FL_BAD_DATA', `${source}:${n + 1}: ${cells.length} fields, the header has ${header.length}`)
    const x = new Float32Array(fi.length)
    for (let k = 0; k < fi.length; k++) {
      const v = Number(cells[fi[k]!])
      if (!Number.isFinite(v) || cells[fi[k]!]!.trim() === '') throw new ProvenaError('FL_BAD_DATA', `${source}:${n + 1}: column ${header[fi[k]!]}: "${cells[fi[k]!]}" is not a number`)
      x[k] = v
    }
    const c = Number(cells[li])
    if (!Number.isInteger(c) || c < 0) throw new ProvenaError('FL_BAD_DATA', `${source}:${n + 1}: label "${cells[li]}" is not a class number (0, 1, …)`)
    X.push(x)
    y.push(c)
    subjects.push(cells[si]!)
  }
  return { features: fi.map((i) => header[i]!), X, y: Int32Array.from(y), subjects, classes: Math.max(...y) + 1 }
}

/** Reads a CSV or .csv.gz file. */
export function readTabular(path: string, opts: { label?: string; subjectColumn?: string } = {}): Dataset {
  let raw: Buffer
  try {
    raw = readFileSync(path)
  } catch (e) {
    throw new ProvenaError('FL_BAD_DATA', `cannot read ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`)
  }
  const text = path.endsWith('.gz') ? gunzipSync(raw).toString('utf8') : raw.toString('utf8')
  return parseTabular(text, path, opts)
}

/** A subset of rows. */
export function subset(d: Dataset, rows: readonly number[]): Dataset {
  return { features: d.features, X: rows.map((i) => d.X[i]!), y: Int32Array.from(rows, (i) => d.y[i]!), subjects: rows.map((i) => d.subjects[i]!), classes: d.classes }
}

/** A stratified split: `testFraction` of each class to the hold-out (seeded). */
export function stratifiedSplit(d: Dataset, testFraction: number, seed: number): { train: number[]; test: number[] } {
  const rng = new SeededRandom(seed)
  const train: number[] = []
  const test: number[] = []
  for (let c = 0; c < d.classes; c++) {
    const rows = rng.shuffle(Array.from(d.y.keys()).filter((i) => d.y[i] === c))
    const k = Math.round(rows.length * testFraction)
    test.push(...rows.slice(0, k))
    train.push(...rows.slice(k))
  }
  return { train: train.sort((a, b) => a - b), test: test.sort((a, b) => a - b) }
}

/**
 * Splits rows among clients: `iid` deals shuffled rows round-robin; `non-iid` sorts them by
 * label and gives each client contiguous shards (each sees few classes).
 */
export function splitClients(d: Dataset, rows: readonly number[], clients: number, how: 'iid' | 'non-iid', seed: number): number[][] {
  const rng = new SeededRandom(seed)
  const order = rng.shuffle([...rows])
  const out: number[][] = Array.from({ length: clients }, () => [])
  if (how === 'iid') order.forEach((r, i) => out[i % clients]!.push(r))
  else {
    order.sort((a, b) => d.y[a]! - d.y[b]!)
    const shards = 2 * clients
    const size = Math.ceil(order.length / shards)
    const ids = rng.shuffle(Array.from({ length: shards }, (_, i) => i))
    ids.forEach((s, i) => out[i % clients]!.push(...order.slice(s * size, (s + 1) * size)))
  }
  return out.map((r) => r.sort((a, b) => a - b))
}

/** Per-feature sums for a federated standardisation: each client sends n, Σx, Σx². */
export function featureSums(X: readonly Float32Array[], d: number): { n: number; sum: Float64Array; sumSq: Float64Array } {
  const sum = new Float64Array(d)
  const sumSq = new Float64Array(d)
  for (const x of X) for (let j = 0; j < d; j++) {
    sum[j]! += x[j]!
    sumSq[j]! += x[j]! * x[j]!
  }
  return { n: X.length, sum, sumSq }
}

/** Mean and standard deviation from clients' sums (std 1 where a feature is constant). */
export function standardisation(parts: readonly { n: number; sum: Float64Array; sumSq: Float64Array }[]): { mean: Float32Array; std: Float32Array } {
  const d = parts[0]!.sum.length
  const n = parts.reduce((a, p) => a + p.n, 0)
  const mean = new Float32Array(d)
  const std = new Float32Array(d)
  for (let j = 0; j < d; j++) {
    const s = parts.reduce((a, p) => a + p.sum[j]!, 0)
    const q = parts.reduce((a, p) => a + p.sumSq[j]!, 0)
    const m = s / n
    mean[j] = m
    std[j] = Math.sqrt(Math.max(0, q / n - m * m)) || 1
  }
  return { mean, std }
}
