import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { runCli, startServe } from '../testing.js'

describe('provena serve as a process: one writer, tokens, clean stop (issue 13)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'provena-serve-'))
  const work = mkdtempSync(join(tmpdir(), 'provena-serve-files-'))
  const cli = (...args: string[]) => runCli([...args, '--dir', dir])
  before(async () => {
    assert.equal((await cli('init')).code, 0)
    assert.equal((await cli('node', 'start')).code, 0)
    const id = await cli('identity', 'create', 'st-mary', '--role', 'controller', '--json')
    assert.equal(id.code, 0, id.stderr)
  })
  after(async () => void (await cli('node', 'stop')))

  it('serves /healthz, refuses other writers naming its URL, takes tokens made while it runs, anchors and removes serve.json on SIGTERM', async () => {
    const { child, info, exited } = await startServe(dir)
    try {
      assert.match(info.url, /^http:\/\/127\.0\.0\.1:\d+$/)
      assert.equal(info.pid, child.pid)
      assert.match(info.did, /^did:key:z/)
      assert.deepEqual(JSON.parse(readFileSync(join(dir, 'serve.json'), 'utf8')).url, info.url)
      const h = await fetch(`${info.url}/healthz`)
      assert.equal(h.status, 200)

      // One writer: a command that writes and has no route refuses, naming the URL; a second serve too.
      const w = await cli('log', 'checkpoint', '--json')
      assert.equal(w.code, 1)
      const err = w.json<{ error: { code: string; message: string } }>().error
      assert.equal(err.code, 'API_NODE_SERVED')
      assert.ok(err.message.includes(`a node serves this data dir at ${info.url}`), err.message)
      const text = await cli('log', 'checkpoint')
      assert.match(text.stderr, new RegExp(`^provena: error: a node serves this data dir at ${info.url.replace(/\./g, '\\.')}`))
      const second = await runCli(['serve', '--port', '0', '--json', '--dir', dir])
      assert.equal(second.json<{ error: { code: string } }>().error.code, 'API_NODE_SERVED')
      // Reading commands still work.
      assert.equal((await cli('dataset', 'list', '--json')).code, 0)

      // A token made now works at once; revoked, it is refused from the next request.
      const t = await cli('token', 'create', '--as', 'st-mary', '--role', 'controller', '--scope', 'consent:write', '--scope', 'log:read', '--expires', '1h', '--json')
      assert.equal(t.code, 0, t.stderr)
      const tok = t.json<{ token: string; id: string; status: string }>()
      assert.match(tok.token, /^pvn_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/)
      assert.equal(tok.status, 'active')
      const list = (await cli('token', 'list', '--json')).json<{ tokens: Record<string, unknown>[] }>()
      assert.equal(list.tokens.filter((t) => t.name !== 'provena-serve').length, 1)
      assert.ok(!JSON.stringify(list).includes(tok.token.slice(22)), 'token list never shows the secret')
      const auth = { authorization: `Bearer ${tok.token}`, 'content-type': 'application/json' }
      const c = await fetch(`${info.url}/v1/consent`, { method: 'POST', headers: auth, body: JSON.stringify({ changes: [{ subject: 'S-1', purpose: 'dpv:ScientificResearch', action: 'grant' }] }) })
      assert.equal(c.status, 200, await c.clone().text())
      const { treeSize } = (await c.json()) as { treeSize: number }
      // The node anchors on its schedule (provena.json: every 5 s by default), not per request.
      let anchored = 0
      for (const t0 = Date.now(); anchored < treeSize && Date.now() - t0 < 20_000; await new Promise((r) => setTimeout(r, 250))) {
        anchored = (((await (await fetch(`${info.url}/v1/log`, { headers: auth })).json()) as { anchored: { treeSize: number } }).anchored.treeSize)
      }
      assert.equal(anchored, treeSize, 'anchored on the schedule while serving')
      assert.equal((await cli('token', 'revoke', tok.id, '--json')).json<{ status: string }>().status, 'revoked')
      const refused = await fetch(`${info.url}/v1/log`, { headers: auth })
      assert.equal(refused.status, 401)
      assert.equal(((await refused.json()) as { code: string }).code, 'API_TOKEN_REVOKED')

      child.kill('SIGTERM')
      const r = await exited
      assert.equal(r.code, 0, r.stderr)
      assert.equal(existsSync(join(dir, 'serve.json')), false)
      // What the node logged (the consent; not the revoked token's 401, only counted) was anchored before it stopped.
      const cp = await cli('log', 'checkpoint', '--json')
      assert.equal(cp.code, 0, cp.stderr)
      const j = cp.json<{ anchoredNow: boolean; anchoredSize: number }>()
      assert.deepEqual([j.anchoredNow, j.anchoredSize], [false, treeSize])
      assert.equal((await cli('verify', '--json')).code, 0)
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL')
    }
  })

  it('a serve.json left by a dead process is ignored; SIGINT stops a node too', async () => {
    const dead = spawn(process.execPath, ['-e', ''])
    await new Promise((resolve) => dead.on('close', resolve))
    writeFileSync(join(dir, 'serve.json'), JSON.stringify({ url: 'http://127.0.0.1:1', pid: dead.pid }))
    const file = join(work, 'e.csv')
    writeFileSync(file, 'id,x\n5,6\n')
    const w = await cli('dataset', 'register', file, '--json')
    assert.equal(w.code, 0, w.stdout + w.stderr)
    const { child, info, exited } = await startServe(dir)
    assert.equal(JSON.parse(readFileSync(join(dir, 'serve.json'), 'utf8')).pid, child.pid, 'the stale file replaced')
    assert.equal((await fetch(`${info.url}/healthz`)).status, 200)
    child.kill('SIGINT')
    assert.equal((await exited).code, 0)
    assert.equal(existsSync(join(dir, 'serve.json')), false)
  })

  it('token create: bad scope, role and lifetime are refused before anything is written', async () => {
    const bad = async (args: string[], code: string) => {
      const r = await cli('token', 'create', ...args, '--json')
      assert.equal(r.json<{ error: { code: string } }>().error.code, code, r.stdout)
    }
    await bad(['--as', 'st-mary', '--role', 'controller', '--scope', 'everything'], 'API_BAD_SCOPE')
    await bad(['--as', 'st-mary', '--role', 'trainer', '--scope', 'log:read'], 'API_BAD_REQUEST')
    await bad(['--as', 'script', '--role', 'king', '--scope', 'log:read'], 'ACCESS_BAD_ROLE')
    await bad(['--as', 'script', '--role', 'auditor', '--scope', 'log:read', '--expires', '400d'], 'API_BAD_EXPIRY')
    await bad(['--as', 'script', '--role', 'auditor', '--scope', 'log:read', '--expires', 'forever'], 'API_BAD_EXPIRY')
    await bad(['--as', '../x', '--role', 'auditor', '--scope', 'log:read'], 'API_BAD_REQUEST')
    assert.equal((await cli('token', 'revoke', 'ffffffffffffffff', '--json')).json<{ error: { code: string } }>().error.code, 'API_UNKNOWN_TOKEN')
    assert.equal((await cli('token', 'list', '--json')).json<{ tokens: { name: string }[] }>().tokens.filter((t) => t.name !== 'provena-serve').length, 1)
  })
})
