// The operator key is sealed under the passphrase: commands that only read run without
// it; a command that signs or sends without one fails with ACCESS_NO_PASSPHRASE and says
// how to give it.
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { assertOneLine, runCli } from '../testing.js'

describe('the sealed operator key on the command line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'provena-opkey-cli-'))
  const work = mkdtempSync(join(tmpdir(), 'provena-opkey-cli-files-'))
  const cli = (...args: string[]) => runCli([...args, '--dir', dir])
  const noPass = (...args: string[]) => runCli([...args, '--dir', dir], { PROVENA_PASSPHRASE: undefined })
  let dataset = ''
  before(async () => {
    assert.equal((await cli('init')).code, 0)
    assert.equal((await cli('node', 'start')).code, 0)
    writeFileSync(join(work, 'a.csv'), 'id,x\n1,2\n3,4\n')
    const r = await cli('dataset', 'register', join(work, 'a.csv'), '--json')
    assert.equal(r.code, 0, r.stderr)
    dataset = r.json<{ id: string }>().id
    assert.equal((await cli('log', 'checkpoint')).code, 0)
  })
  after(async () => void (await cli('node', 'stop')))

  it('init of a new data dir needs a passphrase', async () => {
    const r = await runCli(['init', '--dir', join(work, 'new'), '--json'], { PROVENA_PASSPHRASE: undefined })
    assert.equal(r.code, 1)
    assert.equal(r.json<{ error: { code: string } }>().error.code, 'ACCESS_NO_PASSPHRASE')
  })

  it('reading commands run with no passphrase', async () => {
    for (const args of [
      ['log', 'entries', '--json'],
      ['log', 'prove', '0', '--json'],
      ['verify'],
      ['dataset', 'list'],
      ['dataset', 'verify', join(work, 'a.csv'), '--id', dataset],
      ['identity', 'list'],
      ['chain', 'info', '--json'],
      ['store', 'info'],
      ['lineage', dataset],
      ['init'],
    ]) {
      const r = await noPass(...args)
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stdout}${r.stderr}`)
    }
    const info = (await noPass('chain', 'info', '--json')).json<{ operator: string; logSize: number }>()
    assert.match(info.operator, /^0x[0-9a-fA-F]{40}$/)
  })

  it('a command that signs or sends fails with ACCESS_NO_PASSPHRASE and the hint to set PROVENA_PASSPHRASE', async () => {
    writeFileSync(join(work, 'b.csv'), 'id,x\n5,6\n')
    for (const args of [['log', 'checkpoint'], ['dataset', 'register', join(work, 'b.csv')], ['chain', 'deploy']]) {
      const r = await noPass(...args)
      assertOneLine(r, 1, /operator key|passphrase/)
      assert.match(r.stderr, /^hint: set PROVENA_PASSPHRASE/m)
      const j = await noPass(...args, '--json')
      assert.equal(j.json<{ error: { code: string } }>().error.code, 'ACCESS_NO_PASSPHRASE')
    }
    const wrong = await runCli(['log', 'checkpoint', '--json', '--dir', dir], { PROVENA_PASSPHRASE: 'not it' })
    assert.equal(wrong.code, 1)
    assert.equal(wrong.json<{ error: { code: string } }>().error.code, 'ACCESS_WRONG_PASSPHRASE')
    assert.equal((await cli('dataset', 'register', join(work, 'b.csv'))).code, 0, 'with it, the same command runs')
  })
})
