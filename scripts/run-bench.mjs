// Runs every dist/**/*.bench.js (one process each, one at a time) and prints their results
// as a markdown table; writes bench-out/results.json. Usage: npm run bench [-- name-filter]
import { spawnSync } from 'node:child_process'
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const filter = process.argv[2]
const walk = (d) => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : e.name.endsWith('.bench.js') ? [join(d, e.name)] : []))
const files = walk(join(root, 'dist')).filter((f) => !filter || f.includes(filter)).sort()
const results = []
const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, Node ${process.versions.node}`
console.log(`Machine: ${machine}\n`)
for (const f of files) {
  console.log(`# ${relative(root, f)}`)
  const r = spawnSync(process.execPath, ['--expose-gc', '--max-old-space-size=8192', f], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 26 })
  for (const line of r.stdout.split('\n')) {
    if (line.startsWith('BENCH ')) results.push({ file: relative(root, f), ...JSON.parse(line.slice(6)) })
    else if (line.trim()) console.log(line)
  }
  if (r.status !== 0) {
    console.error(`${relative(root, f)} failed with exit ${r.status}`)
    process.exitCode = 1
  }
}
const fmt = (v) => (v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toPrecision(3))
// The CLI column: the same operation through `npx provena …` in a new process, process start included.
console.log('\n| measure | value (library, in-process) | CLI (npx provena, process start included) | baseline (same run) | ratio | target |\n|---|---|---|---|---|---|')
for (const r of results) {
  const cli = r.cli ? `${fmt(r.cli.value)} ${r.cli.unit} (\`${r.cli.command}\`)` : ''
  console.log(`| ${r.name} | ${fmt(r.value)} ${r.unit} | ${cli} | ${r.baseline ? `${r.baseline.name}: ${fmt(r.baseline.value)} ${r.baseline.unit}` : ''} | ${r.ratio !== undefined ? `${r.ratio.toFixed(2)}×` : ''} | ${r.target ?? ''} |`)
}
for (const r of results.filter((r) => r.note)) console.log(`- ${r.name}: ${r.note}`)
mkdirSync(join(root, 'bench-out'), { recursive: true })
writeFileSync(join(root, 'bench-out', 'results.json'), JSON.stringify({ machine, date: new Date().toISOString(), results }, null, 2))
