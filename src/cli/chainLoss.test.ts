import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { assertOneLine, runCli, startTestChain, type CliRun } from '../testing.js'

/** An HTTP proxy to `upstream` that answers the first `limit` requests, then closes every connection: a node that dies mid-command. */
async function dyingProxy(upstream: string, limit: number): Promise<{ url: string; requests: () => number; close(): Promise<void> }> {
  let n = 0
  const server: Server = createServer((req, res) => {
    const body: Buffer[] = []
    req.on('data', (d: Buffer) => body.push(d))
    req.on('end', () => {
      if (++n > limit) return void req.socket.destroy()
      fetch(upstream, { method: 'POST', headers: { 'content-type': 'application/json' }, body: Buffer.concat(body) })
        .then(async (up) => res.writeHead(up.status, { 'content-type': 'application/json' }).end(await up.text()))
        .catch(() => req.socket.destroy())
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: () => n,
    close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  }
}

describe('the CLI contract: a node that dies mid-command is exit 4, chain unreachable, in one line', () => {
  it('at any point of dataset register (connecting, deploying, sending, waiting for a receipt, anchoring), and under --json', async () => {
    const chain = await startTestChain()
    try {
      // Count the requests of a first registration in a fresh data dir (about 35), then cut after 3
      // (connecting, funding), 12 (deploying), and near the end (the registration, its receipt,
      // the anchoring).
      const counted = mkdtempSync(join(tmpdir(), 'provena-dying-'))
      assert.equal((await runCli(['init', '--dir', counted])).code, 0)
      const counter = await dyingProxy(chain.rpcUrl, Number.POSITIVE_INFINITY)
      writeFileSync(join(counted, 'd.csv'), 'a,b\n0,2\n')
      assert.equal((await runCli(['dataset', 'register', join(counted, 'd.csv'), '--dir', counted, '--rpc-url', counter.url])).code, 0)
      const total = counter.requests()
      await counter.close()
      assert.ok(total > 20, `a registration makes ${total} requests`)
      for (const limit of [3, 12, total - 8, total - 2]) {
        const dir = mkdtempSync(join(tmpdir(), 'provena-dying-'))
        assert.equal((await runCli(['init', '--dir', dir])).code, 0)
        const proxy = await dyingProxy(chain.rpcUrl, limit)
        try {
          const file = join(dir, 'd.csv')
          writeFileSync(file, `a,b\n${limit},2\n`)
          const started = Date.now()
          const r = await runCli(['dataset', 'register', file, '--dir', dir, '--rpc-url', proxy.url])
          assert.ok(proxy.requests() > limit, `the command got past request ${limit} (made ${proxy.requests()})`)
          assertOneLine(r, 4, /(lost|cannot reach) the EVM node at http:\/\/127\.0\.0\.1:\d+/)
          assert.ok(Date.now() - started < 30_000, `limit ${limit}: told in ${Date.now() - started} ms, not after a receipt timeout`)
          const j = await runCli(['dataset', 'register', file, '--dir', dir, '--rpc-url', proxy.url, '--json'])
          assert.equal(j.code, 4)
          assert.equal(j.json<{ error: { code: string } }>().error.code, 'CHAIN_UNREACHABLE')
        } finally {
          await proxy.close()
        }
      }
    } finally {
      await chain.stop()
    }
  })
})
