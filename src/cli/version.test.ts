import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { pathToFileURL } from 'node:url'
import { repoRoot } from '../testing.js'
import { buildProgram } from './main.js'

const pkgVersion = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version

/** Runs bin/provena.js with `args` in a new process that lists every module it loads. */
function runListingModules(args: string[]): { stdout: string; loaded: string[] } {
  const script = `
    import { registerHooks } from 'node:module'
    const loaded = []
    registerHooks({ load(url, ctx, next) { loaded.push(url); return next(url, ctx) } })
    process.argv = [process.argv[0], ${JSON.stringify(join(repoRoot, 'bin', 'provena.js'))}, ...${JSON.stringify(args)}]
    process.on('exit', () => process.stderr.write('LOADED ' + JSON.stringify(loaded) + '\\n'))
    await import(${JSON.stringify(pathToFileURL(join(repoRoot, 'bin', 'provena.js')).href)})
  `
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })
  assert.equal(r.status, 0, r.stderr)
  const line = r.stderr.split('\n').find((l) => l.startsWith('LOADED '))!
  return { stdout: r.stdout, loaded: JSON.parse(line.slice(7)) as string[] }
}

describe('provena --version', () => {
  it('prints the package version without loading the program', () => {
    for (const flag of ['--version', '-V']) {
      const r = runListingModules([flag])
      assert.equal(r.stdout, `${pkgVersion}\n`)
      assert.deepEqual(r.loaded.filter((u) => u.includes('/dist/') || u.includes('/node_modules/')), [])
    }
  })

  it('is the version the program itself reports (the two paths agree)', () => {
    assert.equal(buildProgram().version(), pkgVersion)
  })
})
