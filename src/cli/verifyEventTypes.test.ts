import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { runCli } from '../testing.js'

describe('provena verify matches log entries by type (issue 12, point 9)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'provena-verify-types-'))
  const work = mkdtempSync(join(tmpdir(), 'provena-verify-types-files-'))
  const cli = (...args: string[]) => runCli([...args, '--dir', dir])
  before(async () => {
    assert.equal((await cli('init')).code, 0)
    assert.equal((await cli('node', 'start')).code, 0)
  })
  after(async () => void (await cli('node', 'stop')))

  it('a dataset named provena.consent.record/notes.csv is found in the log: verify passes', async () => {
    const file = join(work, 'notes.csv')
    writeFileSync(file, 'id,note\n1,a\n2,b\n')
    const r = await cli('dataset', 'register', file, '--name', 'provena.consent.record/notes.csv', '--json')
    assert.equal(r.code, 0, r.stderr)
    const v = await cli('verify', '--json')
    assert.equal(v.code, 0, v.stdout + v.stderr)
    const j = v.json<{ ok: boolean; assetsOnChain: number; failures: unknown[] }>()
    assert.deepEqual([j.ok, j.assetsOnChain, j.failures], [true, 1, []])
  })
})
