import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { startEmbeddedNode, stopEmbeddedNode } from './index.js'

/** Local addresses (ip:port) of the process's listening TCP sockets, from /proc/PID/net/tcp and tcp6. */
function listening(pid: number): string[] {
  const inodes = new Set<string>()
  const fds = `/proc/${pid}/fd`
  for (const fd of readdirSync(fds)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(join(fds, fd)))
      if (m) inodes.add(m[1]!)
    } catch {
      // closed meanwhile
    }
  }
  const out: string[] = []
  for (const table of ['tcp', 'tcp6']) {
    for (const line of readFileSync(`/proc/${pid}/net/${table}`, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/)
      if (f.length < 10 || f[3] !== '0A' || !inodes.has(f[9]!)) continue // 0A: LISTEN
      const [hex, port] = f[1]!.split(':')
      const ip = table === 'tcp' ? Buffer.from(hex!, 'hex').reverse().join('.') : hex!
      out.push(`${ip}:${parseInt(port!, 16)}`)
    }
  }
  return out
}

describe('the embedded anvil: a clean environment, bound to loopback (issue 12, attack 5)', { skip: process.platform !== 'linux' && 'reads /proc' }, () => {
  it('inherits neither PROVENA_PASSPHRASE nor PROVENA_OPERATOR_KEY, and listens on 127.0.0.1 only', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'provena-node-env-'))
    const saved = { pass: process.env.PROVENA_PASSPHRASE, key: process.env.PROVENA_OPERATOR_KEY, other: process.env.SOME_SECRET }
    process.env.PROVENA_PASSPHRASE = 'the-passphrase-under-test'
    process.env.PROVENA_OPERATOR_KEY = '0x' + '42'.repeat(32)
    process.env.SOME_SECRET = 'aws-like-token'
    let pid = 0
    try {
      const info = await startEmbeddedNode(dir, true)
      pid = info.pid
      assert.match(info.rpcUrl, /^http:\/\/127\.0\.0\.1:\d+$/)
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8')
      for (const secret of ['the-passphrase-under-test', '42'.repeat(32), 'aws-like-token', 'PROVENA_']) assert.ok(!environ.includes(secret), `anvil's environment holds ${secret}`)
      const names = environ.split('\0').filter(Boolean).map((kv) => kv.slice(0, kv.indexOf('=')))
      assert.deepEqual(names.filter((n) => !['PATH', 'HOME'].includes(n)), [])
      const addrs = listening(pid)
      assert.ok(addrs.length >= 1, 'anvil listens')
      assert.deepEqual(addrs.filter((a) => !a.startsWith('127.0.0.1:')), [], `anvil listens beyond loopback: ${addrs.join(', ')}`)
      assert.ok(addrs.includes(new URL(info.rpcUrl).host))
    } finally {
      await stopEmbeddedNode(dir)
      for (const [k, v] of [['PROVENA_PASSPHRASE', saved.pass], ['PROVENA_OPERATOR_KEY', saved.key], ['SOME_SECRET', saved.other]] as const) {
        if (v === undefined) delete process.env[k]
        else process.env[k] = v
      }
    }
  })
})
