// Runs every *.test.js under dist/ with node:test (two files at a time: the machines have
// two cores) and ends with one summary line "N passed, N failed, N skipped".
// Usage: npm test [-- name-filter...]   e.g. npm test -- merkle, npm test -- consent dataPlane (files matching any)
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const filters = process.argv.slice(2)
const walk = (d) => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : e.name.endsWith('.test.js') ? [join(d, e.name)] : []))
// The slowest files first (each runs one to two minutes), so that two at a time end together.
const SLOW_FIRST = ['cli/readme', 'service/outboxCrash', 'cli/dataPlane', 'cli/flNodes', 'cli/fl.', 'cli/contract', 'cli/multiParty', 'node/consortiumCli', 'cli/cli.', 'cli/consent', 'chain/crash']
const rank = (f) => {
  const i = SLOW_FIRST.findIndex((s) => f.includes(s))
  return i === -1 ? SLOW_FIRST.length : i
}
const files = walk(join(root, 'dist'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort()
  .sort((a, b) => rank(a) - rank(b))
if (files.length === 0) {
  console.error(`run-tests: no test files under dist/${filters.length ? ` matching "${filters.join('" or "')}"` : ''}; run npm run build`)
  process.exit(1)
}
const result = spawnSync(
  process.execPath,
  [
    '--test',
    '--test-concurrency=2',
    '--test-timeout=600000',
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    `--test-reporter=${join(root, 'scripts', 'summary-reporter.mjs')}`,
    '--test-reporter-destination=stdout',
    ...files.map((f) => relative(root, f)),
  ],
  { cwd: root, stdio: 'inherit' },
)
process.exit(result.status ?? 1)
