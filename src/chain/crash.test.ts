import assert from 'node:assert/strict'
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, before, describe, it } from 'node:test'
import { createPublicClient, http, type Address, type PublicClient } from 'viem'
import { runCli } from '../testing.js'
import { readAnchoredCheckpoints } from './index.js'

/**
 * Crash recovery of the outbox: the process is killed with SIGKILL between the outbox
 * write and the receipt, and the embedded node loses its last blocks; on restart the state
 * converges and every checkpoint is anchored exactly once.
 */
describe('crash recovery (SIGKILL between outbox write and receipt)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'provena-crash-'))
  const files = mkdtempSync(join(tmpdir(), 'provena-crash-files-'))
  const cli = (args: string[], fault?: string) => runCli([...args, '--dir', dir], { PROVENA_FAULT: fault })
  const file = (name: string, text: string) => {
    writeFileSync(join(files, name), text)
    return join(files, name)
  }
  const anchoredSizes = async () => {
    const info = (await cli(['chain', 'info', '--json'])).json<{ rpcUrl: string; contracts: { CheckpointAnchor: Address } }>()
    const client = createPublicClient({ transport: http(info.rpcUrl) }) as PublicClient
    return (await readAnchoredCheckpoints(client, info.contracts.CheckpointAnchor)).map((c) => c.treeSize)
  }
  const nodePid = () => (JSON.parse(readFileSync(join(dir, 'node', 'node.json'), 'utf8')) as { pid: number }).pid

  before(async () => {
    assert.equal((await cli(['init'])).code, 0)
    assert.equal((await cli(['node', 'start'])).code, 0)
    assert.equal((await cli(['dataset', 'register', file('a.csv', 'id,x\n1,2\n3,4\n')])).code, 0)
  })
  after(async () => void (await cli(['node', 'stop'])))

  it('killed after broadcasting, before the receipt: the rerun finds the effect on-chain and sends nothing twice', async () => {
    const killed = await cli(['model', 'register', file('m1.bin', 'model one'), '--trained-on', (await cli(['log', 'entries', '--json'])).json<{ entries: { leaf: string }[] }>().entries.map((e) => JSON.parse(Buffer.from(e.leaf, 'base64').toString()).asset.id)[0]], 'outbox:after-broadcast')
    assert.equal(killed.signal, 'SIGKILL')
    const killedAgain = await cli(['log', 'checkpoint'], 'outbox:after-broadcast')
    assert.equal(killedAgain.signal, 'SIGKILL', 'the checkpoint transaction was broadcast, then the process died')
    const r = await cli(['log', 'checkpoint', '--json'])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.json<{ anchoredSize: number }>().anchoredSize, 2)
    assert.deepEqual(await anchoredSizes(), [1, 2])
  })

  it('killed after recording the signed transaction, before broadcasting it: the rerun sends the same bytes once', async () => {
    const ds = (await cli(['dataset', 'register', file('b.csv', 'id,x\n5,6\n')], 'outbox:after-sent'))
    assert.equal(ds.signal, 'SIGKILL')
    const r = await cli(['log', 'checkpoint', '--json'])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.json<{ anchoredSize: number }>().anchoredSize, 3)
    assert.deepEqual(await anchoredSizes(), [1, 2, 3])
    const v = await cli(['verify', '--json'])
    assert.equal(v.code, 0, v.stdout)
    assert.equal(v.json<{ assetsOnChain: number }>().assetsOnChain, 3)
  })

  it('the node crashes and loses its last blocks: mined rows are re-checked and re-sent, anchored once', async () => {
    assert.equal((await cli(['node', 'stop'])).code, 0)
    const state = join(dir, 'node', 'state.json')
    copyFileSync(state, `${state}.before`)
    assert.equal((await cli(['node', 'start'])).code, 0)
    assert.equal((await cli(['dataset', 'register', file('c.csv', 'id,x\n7,8\n')])).code, 0)
    assert.deepEqual(await anchoredSizes(), [1, 2, 3, 4])
    // Crash: the node dies without writing its state, and comes back with an older one.
    process.kill(nodePid(), 'SIGKILL')
    await sleep(200)
    copyFileSync(`${state}.before`, state)
    assert.equal((await cli(['node', 'start'])).code, 0)
    const lost = await cli(['verify', '--json'])
    assert.equal(lost.json<{ checkpoints: number }>().checkpoints, 3, 'the restored chain has lost checkpoint 4')
    const r = await cli(['log', 'checkpoint', '--json'])
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(await anchoredSizes(), [1, 2, 3, 4])
    const v = await cli(['verify', '--json'])
    assert.equal(v.code, 0, v.stdout)
    assert.deepEqual([v.json<{ assetsOnChain: number }>().assetsOnChain, v.json<{ assetsPendingOnChain: number }>().assetsPendingOnChain], [4, 0])
  })
})
