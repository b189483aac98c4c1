import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, before, describe, it } from 'node:test'
import { readAnchoredCheckpoints } from '../chain/index.js'
import { latestCheckpoint } from '../log/index.js'
import { anchorIfDue, anchorNow, configPath, initDataDir, openChain, openProvena, startAnchorLoop, type ChainSession, type Provena } from './index.js'

describe('anchoring policy: every N entries or T ms while a process runs, and on demand', () => {
  let p: Provena
  let chain: ChainSession
  before(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'provena-anchoring-'))
    initDataDir(dir, 'pw')
    const config = JSON.parse(readFileSync(configPath(dir), 'utf8'))
    config.checkpoint = { everyEntries: 100, everyMs: 300 }
    writeFileSync(configPath(dir), JSON.stringify(config))
    p = openProvena(dir, { passphrase: 'pw' })
    chain = await openChain(p)
  })
  after(async () => {
    await chain.close()
    p.close()
  })
  const anchored = async () => (await readAnchoredCheckpoints(chain.client.publicClient, chain.deployment.CheckpointAnchor)).map((c) => c.treeSize)
  const entries = (n: number) => Array.from({ length: n }, (_, i) => Buffer.from(`{"type":"test/v1","i":${i}}`))

  it('anchors on demand, and sends nothing when there is nothing new', async () => {
    p.log.append(entries(3))
    const a = await anchorNow(p, chain)
    assert.equal(a.anchoredNow, true)
    assert.equal(a.anchoredSize, 3)
    const again = await anchorNow(p, chain)
    assert.equal(again.anchoredNow, false)
    assert.deepEqual(await anchored(), [3])
  })

  it('is due after everyEntries entries at once, or after everyMs with any new entry', async () => {
    p.log.append(entries(10))
    assert.equal(await anchorIfDue(p, chain, latestCheckpoint(p.db)!.createdAt + 10), undefined, '10 entries, 10 ms: not due')
    assert.equal((await anchorIfDue(p, chain, latestCheckpoint(p.db)!.createdAt + 301))?.anchoredSize, 13, 'after 300 ms: due')
    p.log.append(entries(100))
    assert.equal((await anchorIfDue(p, chain, latestCheckpoint(p.db)!.createdAt))?.anchoredSize, 113, '100 entries: due at once')
    assert.deepEqual(await anchored(), [3, 13, 113])
  })

  it('a running process anchors by itself on the schedule, one transaction for many entries', async () => {
    const loop = startAnchorLoop(p, chain)
    try {
      for (let i = 0; i < 5; i++) p.log.append(entries(7))
      const deadline = Date.now() + 10_000
      while ((await anchored()).at(-1) !== 148 && Date.now() < deadline) await sleep(100)
    } finally {
      loop.stop()
    }
    assert.deepEqual(await anchored(), [3, 13, 113, 148])
  })
})
