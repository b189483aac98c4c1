import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { errorInfo } from '../errorCatalogue.js'
import { runCli, startServe, type CliRun, type ServedNode } from '../testing.js'

const P = 'dpv:ScientificResearch'

describe('provena --node URL <command>, and the CLI through the provena serve of its data dir (issue 13)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'provena-remote-'))
  const work = mkdtempSync(join(tmpdir(), 'provena-remote-files-'))
  const file = (name: string) => join(work, name)
  const cli = (...args: string[]) => runCli([...args, '--dir', dir])
  const ok = (r: CliRun) => assert.equal(r.code, 0, r.stdout + r.stderr)
  let node: ServedNode
  let token = ''
  let dataset = ''
  // What the commands print locally, before the node serves the data dir.
  const local: Record<string, unknown> = {}
  /** The CLI through the node, from no data dir of its own. */
  const remote = (...args: string[]) => runCli(['--node', node.url, '--token', token, ...args], { PROVENA_PASSPHRASE: undefined, PROVENA_DIR: work })
  const err = (r: CliRun) => r.json<{ error: { code: string; message: string; hint?: string } }>().error

  before(async () => {
    ok(await cli('init'))
    ok(await cli('node', 'start'))
    ok(await cli('identity', 'create', 'st-mary', '--role', 'controller'))
    writeFileSync(file('patients.csv'), 'id,age\nP-1,31\nP-2,32\nP-3,33\nP-4,34\n')
    const imported = await cli('dataset', 'import', file('patients.csv'), '--subject-column', 'id', '--as', 'st-mary', '--json')
    ok(imported)
    dataset = imported.json<{ id: string }>().id
    writeFileSync(file('consent.csv'), `subject,purpose,action\nP-1,${P},grant\nP-2,${P},grant\nP-3,${P},refuse\n`)
    ok(await cli('consent', 'import', file('consent.csv'), '--as', 'st-mary'))
    for (const [key, args] of Object.entries({ list: ['dataset', 'list'], show: ['dataset', 'show', dataset.slice(0, 12)], log: ['log', 'show'], verify: ['verify'] })) {
      const r = await cli(...args, '--json')
      ok(r)
      local[key] = r.json()
    }
    local.listText = (await cli('dataset', 'list')).stdout
    const t = await cli('token', 'create', '--as', 'st-mary', '--role', 'controller', '--scope', 'datasets:read', '--scope', 'datasets:write', '--scope', 'datasets:export', '--scope', 'consent:write', '--scope', 'subjects:erase', '--scope', 'log:read', '--json')
    ok(t)
    token = t.json<{ token: string }>().token
    node = await startServe(dir)
  })
  after(async () => {
    await node?.stop()
    await cli('node', 'stop')
  })

  it('dataset list/show, log show and verify through --node print what they print on the data dir', async () => {
    for (const [key, args] of Object.entries({ list: ['dataset', 'list'], show: ['dataset', 'show', dataset.slice(0, 12)], log: ['log', 'show'], verify: ['verify'] })) {
      const r = await remote(...args, '--json')
      ok(r)
      assert.deepEqual(r.json(), local[key], args.join(' '))
    }
    assert.equal((await remote('dataset', 'list')).stdout, local.listText)
  })

  it('register, export, consent withdraw and subject erase through --node: the node does them, the CLI prints their reports', async () => {
    const exportNow = async (out: string) => {
      const r = await remote('dataset', 'export', dataset.slice(0, 12), '--purpose', P, '--as', 'st-mary', '--out', file(out), '--json')
      ok(r)
      const j = r.json<{ records: number; excluded: Record<string, number>; out: string; dataset: string; logIndex: number }>()
      assert.deepEqual(Object.keys(j).sort(), ['dataset', 'erased', 'excluded', 'logIndex', 'out', 'purpose', 'records'])
      assert.equal(j.out, file(out))
      return { ...j, csv: readFileSync(file(out), 'utf8') }
    }
    const e1 = await exportNow('e1.csv')
    assert.deepEqual([e1.records, e1.excluded], [2, { refused: 1, 'no-consent': 1 }])
    assert.equal(e1.csv, 'id,age\nP-1,31\nP-2,32\n')

    ok(await remote('consent', 'withdraw', '--subject', 'P-2', '--purpose', P, '--json'))
    const e2 = await exportNow('e2.csv')
    assert.deepEqual([e2.records, e2.excluded.withdrawn, e2.csv], [1, 1, 'id,age\nP-1,31\n'])

    const erased = await remote('subject', 'erase', 'P-1', '--json')
    ok(erased)
    assert.deepEqual(erased.json<{ records: number; datasets: string[] }>().records, 1)
    const e3 = await exportNow('e3.csv')
    assert.deepEqual([e3.records, e3.excluded.erased, e3.csv], [0, 1, 'id,age\n'])

    writeFileSync(file('new.csv'), 'id,x\n1,2\n3,4\n')
    const reg = await remote('dataset', 'register', file('new.csv'), '--json')
    ok(reg)
    const r = reg.json<{ name: string; records: number; format: string; existing: boolean; checkpoint: { treeSize: number } }>()
    assert.deepEqual([r.name, r.records, r.format, r.existing], ['new.csv', 2, 'csv', false])
    assert.deepEqual(Object.keys(r).sort(), ['blockNumber', 'checkpoint', 'existing', 'format', 'id', 'logIndex', 'name', 'records', 'root', 'transactionHash'])
    assert.equal((await remote('dataset', 'list', '--json')).json<{ datasets: unknown[] }>().datasets.length, 2)
  })

  it('a bad CSV sent to the node is refused naming its line; nothing is registered', async () => {
    writeFileSync(file('bad.csv'), 'id,x\n1,2\n3,4,5\n')
    const r = await remote('dataset', 'register', file('bad.csv'), '--json')
    assert.equal(r.code, errorInfo('REGISTRY_PARSE').exit)
    assert.equal(err(r).code, 'REGISTRY_PARSE')
    assert.match(err(r).message, /body line 3/)
    assert.equal((await remote('dataset', 'list', '--json')).json<{ datasets: unknown[] }>().datasets.length, 2)
  })

  it('a wrong token: the exit code of API_TOKEN_INVALID, nothing changed', async () => {
    const before = (await remote('log', 'show', '--json')).json<{ treeSize: number }>().treeSize
    const forged = `pvn_${token.slice(4, 20)}_${Buffer.alloc(32, 7).toString('base64url')}`
    const r = await runCli(['--node', node.url, '--token', forged, 'consent', 'grant', '--subject', 'P-4', '--purpose', P, '--json'], { PROVENA_PASSPHRASE: undefined })
    assert.equal(r.code, errorInfo('API_TOKEN_INVALID').exit)
    assert.equal(err(r).code, 'API_TOKEN_INVALID')
    // Nothing written: no consent, and a credential that never verified is not logged (it is counted in /metrics).
    assert.equal((await remote('log', 'show', '--json')).json<{ treeSize: number }>().treeSize, before)
  })

  it('an unreachable node is named; a command without a route refuses --node (exit 2), never runs locally', async () => {
    // A port nothing listens on.
    const probe = createServer()
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
    const port = (probe.address() as AddressInfo).port
    await new Promise((resolve) => probe.close(resolve))
    const r = await runCli(['--node', `http://127.0.0.1:${port}`, 'dataset', 'list', '--json'])
    assert.equal(r.code, errorInfo('API_NODE_UNREACHABLE').exit)
    assert.equal(err(r).code, 'API_NODE_UNREACHABLE')
    assert.equal(err(r).message, `cannot reach the node at http://127.0.0.1:${port}: connection refused`)
    const init = await runCli(['--node', node.url, 'init', '--dir', join(work, 'never'), '--json'])
    assert.equal(init.code, 2)
    assert.equal(err(init).code, 'CLI_NOT_REMOTE')
    assert.match(err(init).message, /provena init cannot run on a node/)
    assert.equal((await runCli(['--node', 'not a url', 'dataset', 'list'])).code, 2)
  })

  it('the CLI on the served data dir goes through the node (no passphrase needed); one without a route is refused naming those that go through; the token is revoked at stop', async () => {
    const served = JSON.parse(readFileSync(join(dir, 'serve.json'), 'utf8')) as { token: string; url: string }
    assert.equal(served.url, node.url)
    assert.equal(statSync(join(dir, 'serve.json')).mode & 0o777, 0o600)
    const servedId = served.token.slice(4, 20)
    // Without PROVENA_PASSPHRASE: the controller's key is unlocked by the node, not here.
    const g = await runCli(['consent', 'grant', '--subject', 'P-4', '--purpose', P, '--dir', dir, '--json'], { PROVENA_PASSPHRASE: undefined })
    ok(g)
    const logIndex = g.json<{ logIndex: number }>().logIndex
    const entry = (await cli('log', 'entries', '--from', String(logIndex), '--to', String(logIndex + 1), '--json')).json<{ entries: { leaf: string }[] }>().entries[0]!
    assert.equal(JSON.parse(Buffer.from(entry.leaf, 'base64').toString('utf8')).type, 'provena.consent.record/v2')
    const list = await runCli(['dataset', 'list', '--dir', dir, '--json'], { PROVENA_PASSPHRASE: undefined })
    assert.deepEqual(list.json(), (await remote('dataset', 'list', '--json')).json())

    const refused = await cli('log', 'checkpoint', '--json')
    assert.equal(err(refused).code, 'API_NODE_SERVED')
    assert.match(err(refused).message, /this command has no route, these go through the node: dataset list, .*subject erase, verify, log show/)

    assert.equal(await node.stop(), 0)
    const tokens = (await cli('token', 'list', '--json')).json<{ tokens: { id: string; status: string }[] }>().tokens
    assert.equal(tokens.find((t) => t.id === servedId)?.status, 'revoked')
    // Stopped: the data dir is the CLI's again.
    ok(await cli('log', 'checkpoint'))
  })
})
