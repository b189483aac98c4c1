import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { describe, it } from 'node:test'
import { runCli } from '../testing.js'

/** Every file under `dir` with its size, modification time and SHA-256: what "nothing changed" means. */
function snapshot(dir: string): Record<string, string> {
  const all: Record<string, string> = {}
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, e.name)
      const st = statSync(path)
      all[relative(dir, path)] = e.isDirectory() ? `dir ${st.mtimeMs}` : `${st.size} ${st.mtimeMs} ${createHash('sha256').update(readFileSync(path)).digest('hex')}`
      if (e.isDirectory()) walk(path)
    }
  }
  walk(dir)
  return all
}

describe('provena demo --dir', () => {
  it('refuses a directory holding a file, before writing anything', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'provena-demo-busy-'))
    writeFileSync(join(dir, 'notes.txt'), 'mine\n')
    const before = snapshot(dir)
    const r = await runCli(['demo', '--dir', dir, '--json'])
    assert.notEqual(r.code, 0)
    const error = r.json<{ ok: boolean; error: { code: string; message: string } }>().error
    assert.equal(error.code, 'CLI_BAD_ARGUMENT')
    assert.match(error.message, /not empty \(notes\.txt\)/)
    assert.deepEqual(snapshot(dir), before)
  })

  it('refuses an existing data dir: no entry anchored, no node started, no file added or changed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'provena-demo-datadir-'))
    assert.equal((await runCli(['init', '--dir', dir])).code, 0)
    const before = snapshot(dir)
    const r = await runCli(['demo', '--dir', dir])
    assert.notEqual(r.code, 0)
    assert.match(r.stderr, /not empty/)
    assert.equal(r.stdout, '', 'the demo did not start')
    assert.deepEqual(snapshot(dir), before)
  })

  it('refuses a path that is a file', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'provena-demo-file-')), 'data')
    writeFileSync(file, 'x')
    const r = await runCli(['demo', '--dir', file])
    assert.notEqual(r.code, 0)
    assert.match(r.stderr, /not a directory/)
    assert.equal(readFileSync(file, 'utf8'), 'x')
  })
})
