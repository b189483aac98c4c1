// Dataset hashing on a generated 1 GiB breast-cancer-shaped CSV: whole-file digest against
// sha256sum on the same file, and per-record registration (canonicalise, salt, commit,
// tree) against reading and splitting the same records without committing them.
import { spawnSync } from 'node:child_process'
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { progress, report, time } from '../bench/harness.js'
import { sha256File } from '../crypto/index.js'
import { repoRoot } from '../testing.js'
import { commitDataset, openDataset } from './index.js'
import { workerCount } from './commitParallel.js'

const GiB = 2 ** 30
const dir = join(repoRoot, 'bench-out')
mkdirSync(dir, { recursive: true })
const file = join(dir, 'breast_cancer_1gib.csv')
if (!existsSync(file) || statSync(file).size < GiB) {
  progress('generating a 1 GiB CSV from data/breast_cancer.csv (rows repeated with fresh subject ids)')
  const [header, ...rows] = readFileSync(join(repoRoot, 'data', 'breast_cancer.csv'), 'utf8').trimEnd().split('\n')
  const fd = openSync(file, 'w')
  writeSync(fd, `${header}\n`)
  let written = 0
  let id = 0
  while (written < GiB) {
    let chunk = ''
    for (let k = 0; k < 20_000; k++) chunk += `P-${(id++).toString().padStart(8, '0')}${rows[id % rows.length]!.slice(rows[id % rows.length]!.indexOf(','))}\n`
    written += writeSync(fd, chunk)
  }
  closeSync(fd)
}
const size = statSync(file).size
readFileSync(file) // warm the page cache: both sides then read from memory

progress('whole-file digest: sha256sum vs Provena (node:crypto, streamed)')
let sum = ''
const tSum = await time(() => {
  sum = spawnSync('sha256sum', [file], { encoding: 'utf8' }).stdout.split(' ')[0]!
}, 2)
let ours = ''
const tOurs = await time(async () => {
  ours = (await sha256File(file)).toString('hex')
}, 2)
if (ours !== sum) throw new Error(`digest mismatch: sha256sum ${sum}, provena ${ours}`)
report({
  name: 'whole-file SHA-256 of a 1 GiB CSV',
  value: size / 2 ** 20 / tOurs,
  unit: 'MiB/s',
  baseline: { name: 'sha256sum on the same file', value: size / 2 ** 20 / tSum, unit: 'MiB/s' },
  ratio: tSum / tOurs,
  target: '>= 0.8 × sha256sum',
})

progress('per-record registration of the same file')
let n = 0
const tRead = await time(async () => {
  n = 0
  for await (const batch of openDataset(file).batches()) n += batch.count
})
let committed = 0
const tSeq = await time(async () => {
  committed = (await commitDataset(file, undefined, { workers: 0 })).manifest.records
})
if (committed !== n) throw new Error(`record counts differ: ${committed} vs ${n}`)
const workers = workerCount()
const tPar = await time(async () => {
  committed = (await commitDataset(file, undefined, { workers })).manifest.records
})
report({
  name: `per-record registration: canonicalise + salt + commit + tree, one core (${(n / 1e6).toFixed(2)} M records)`,
  value: n / tSeq,
  unit: 'records/s',
  baseline: { name: 'read + split + canonicalise only', value: n / tRead, unit: 'records/s' },
  ratio: tRead / tSeq,
  target: '>= 300,000 records/s',
  note: `${(size / n).toFixed(0)} bytes a CSV row, ~${(4 * (size / n)).toFixed(0)} bytes of canonical JSON; storing salts and commitments in SQLite is not included`,
})
report({
  name: `per-record registration with ${workers} worker threads (what dataset register does on files >= 16 MiB)`,
  value: n / tPar,
  unit: 'records/s',
  baseline: { name: 'one core (above)', value: n / tSeq, unit: 'records/s' },
  ratio: tSeq / tPar,
  target: '>= 300,000 records/s',
})
