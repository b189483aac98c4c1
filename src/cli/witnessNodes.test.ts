import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { Consortium } from '../node/index.js'
import { assertOneLine, runCli, startServe, type ServedNode } from '../testing.js'

/** A free TCP port on loopback (the member's endpoint goes in its card before its node listens). */
async function freePort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  const port = (s.address() as { port: number }).port
  await new Promise((resolve) => s.close(resolve))
  return port
}

/** `provena serve --json` on `dir` at `port`, its own passphrase. */
const serve = (dir: string, passphrase: string, port: number): Promise<ServedNode> => startServe(dir, { passphrase, port })

/** Polls `f` until it returns a value (not undefined), or fails after `ms`. */
async function until<T>(what: string, f: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = await f()
    if (v !== undefined) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 150))
  }
}

const cosignatureLines = (note: string) => note.split('\n').filter((l) => l.startsWith('\u2014 provena.witness/'))

// Three organisations, three data dirs and passphrases, one chain, each running `provena
// serve`: A (the admin, a hospital) keeps the log under test; B and C are the other members,
// each the witness of the others' logs, as their cards advertise (identity show --endpoint).
describe('witnesses wired into the nodes: three members serving, cosigning, verified and mirrored (issue 13)', () => {
  const work = mkdtempSync(join(tmpdir(), 'provena-witnesses-'))
  const dirs = { A: join(work, 'A'), B: join(work, 'B'), C: join(work, 'C') }
  const pw = { A: 'pw-hospital-a', B: 'pw-lab-b', C: 'pw-clinic-c' }
  const cli = (who: keyof typeof dirs) => (...args: string[]) => runCli([...args, '--dir', dirs[who]], { PROVENA_PASSPHRASE: pw[who] })
  const [a, b, c] = [cli('A'), cli('B'), cli('C')]
  const file = (name: string) => join(work, name)
  const ports = { A: 0, B: 0, C: 0 }
  const endpoint = (who: keyof typeof dirs) => `http://127.0.0.1:${ports[who]}`
  const nodes: Partial<Record<keyof typeof dirs, ServedNode>> = {}
  let rpcUrl = ''
  let token = ''

  before(async () => {
    for (const k of ['A', 'B', 'C'] as const) ports[k] = await freePort()
    assert.equal((await a('init')).code, 0)
    assert.equal((await a('node', 'start')).code, 0)
    rpcUrl = (await a('chain', 'info', '--json')).json<{ rpcUrl: string }>().rpcUrl
    assert.equal((await a('identity', 'create', 'hospital-a', '--role', 'controller')).code, 0)
    const created = await a('consortium', 'create', '--out', file('consortium.json'), '--endpoint', endpoint('A'))
    assert.equal(created.code, 0, created.stderr)
    // Anchoring every half second, so the test sees the node anchor and gather by itself.
    const config = JSON.parse(readFileSync(join(dirs.A, 'provena.json'), 'utf8')) as { checkpoint: { everyMs: number } }
    writeFileSync(join(dirs.A, 'provena.json'), JSON.stringify({ ...config, checkpoint: { ...config.checkpoint, everyMs: 300 } }))
  })
  after(async () => {
    for (const n of Object.values(nodes)) await n?.stop()
    await a('node', 'stop')
  })

  it("a member's card advertises its node (endpoint, witness vkey); add-member keeps them; the admin-signed file carries them; consortium show prints them", async () => {
    let last = file('consortium.json')
    for (const [who, run, name] of [['B', b, 'lab-b'], ['C', c, 'clinic-c']] as const) {
      assert.equal((await run('init', '--join', last, '--rpc-url', rpcUrl)).code, 0)
      const id = await run('identity', 'create', name, '--role', 'controller', '--json')
      assert.equal(id.code, 0, id.stderr)
      // Without the passphrase the witness key cannot be derived nor the card signed: refused.
      const locked = await runCli(['identity', 'show', name, '--endpoint', endpoint(who), '--dir', dirs[who]], { PROVENA_PASSPHRASE: undefined })
      assertOneLine(locked, 2, /--endpoint .*needs PROVENA_PASSPHRASE/)
      assertOneLine(await run('identity', 'show', name, '--endpoint', 'ftp://x.example'), 2, /is not an http\(s\) URL/)
      const shown = await run('identity', 'show', name, '--endpoint', endpoint(who), '--json')
      assert.equal(shown.code, 0, shown.stderr)
      const card = shown.json<{ did: string; endpoint: string; witness: string }>()
      assert.equal(card.endpoint, endpoint(who))
      assert.match(card.witness, /^provena\.witness\/[0-9a-f]{16}\+[0-9a-f]{8}\+/)
      writeFileSync(file(`card-${who}.json`), shown.stdout)
      last = file(`consortium-${who}.json`)
      const added = await a('consortium', 'add-member', '--did', card.did, '--role', 'controller', '--card', file(`card-${who}.json`), '--out', last)
      assert.equal(added.code, 0, added.stderr)
    }
    for (const run of [b, c]) assert.equal((await run('consortium', 'update', last)).code, 0)
    const cons = JSON.parse(readFileSync(last, 'utf8')) as Consortium
    assert.deepEqual(
      cons.members.map((m) => [m.name, m.endpoint, /^provena\.witness\//.test(m.witness ?? '')]),
      [['hospital-a', endpoint('A'), true], ['lab-b', endpoint('B'), true], ['clinic-c', endpoint('C'), true]],
    )
    const shown = await c('consortium', 'show')
    assert.equal(shown.code, 0, shown.stderr)
    for (const who of ['A', 'B', 'C'] as const) assert.ok(shown.stdout.includes(`node     ${endpoint(who)}`), shown.stdout)
    assert.equal(shown.stdout.match(/witness  provena\.witness\//g)?.length, 3)
  })

  it("each node serves; A's node gathers B's and C's cosignatures by itself after anchoring; log cosign, verify --quorum 2 and C's audit mirror --quorum 2 pass", async () => {
    // The witnesses first, then A: at start A gathers for its latest checkpoint.
    ;[nodes.B, nodes.C] = await Promise.all([serve(dirs.B, pw.B, ports.B), serve(dirs.C, pw.C, ports.C)])
    nodes.A = await serve(dirs.A, pw.A, ports.A)
    assert.equal(nodes.A.url, endpoint('A'))
    const t = await a('token', 'create', '--as', 'hospital-a', '--role', 'controller', '--scope', 'consent:write', '--expires', '1h', '--json')
    assert.equal(t.code, 0, t.stderr)
    token = t.json<{ token: string }>().token

    // A logs something through its API; its node anchors it, then asks B and C by itself.
    const treeSize = await logConsent('S-1')
    const note = await until('a checkpoint with two cosignatures', async () => {
      const text = await (await fetch(`${nodes.A!.url}/log/checkpoint`)).text()
      return Number(text.split('\n')[1]) >= treeSize && cosignatureLines(text).length === 2 ? text : undefined
    })
    assert.equal(Number(note.split('\n')[1]), treeSize)

    const cosigned = await a('log', 'cosign', '--json')
    assert.equal(cosigned.code, 0, cosigned.stdout + cosigned.stderr)
    const r = cosigned.json<{ ok: boolean; treeSize: number; asked: number; cosigned: { member: string }[]; failed: unknown[] }>()
    assert.equal(r.ok, true)
    assert.equal(r.asked, 2)
    assert.deepEqual(r.cosigned.map((x) => x.member).sort(), ['clinic-c', 'lab-b'])
    assert.deepEqual(r.failed, [])

    const verified = await a('verify', '--quorum', '2', '--json')
    assert.equal(verified.code, 0, verified.stdout + verified.stderr)
    assert.equal(verified.json<{ quorum: { checkpoints: { verified: number }[] } }>().quorum.checkpoints[0]!.verified, 2)

    // C mirrors A's log and counts the cosignatures of its pinned file's witnesses (B and C: never A's own).
    const mirrored = await c('audit', 'mirror', `${nodes.A.url}/log`, '--member', 'hospital-a', '--quorum', '2', '--json')
    assert.equal(mirrored.code, 0, mirrored.stdout + mirrored.stderr)
    const m = mirrored.json<{ ok: boolean; checkpoint: { treeSize: number }; cosignatures: { verified: number; witnesses: number; quorum: number; anchoredSize: number } }>()
    assert.equal(m.ok, true)
    assert.ok(m.checkpoint.treeSize >= treeSize)
    // Counted on-chain: the anchored checkpoint (at or below the mirrored size) carries B's and C's cosignatures.
    assert.deepEqual({ ...m.cosignatures, verifiedBy: undefined }, { verified: 2, verifiedBy: undefined, witnesses: 2, quorum: 2, anchoredSize: m.checkpoint.treeSize })
    const three = await c('audit', 'mirror', `${nodes.A.url}/log`, '--member', 'hospital-a', '--quorum', '3')
    assert.equal(three.code, 3, three.stdout + three.stderr)
    assert.match(three.stdout, /carries 2 valid cosignature\(s\) by the consortium's witnesses, 3 required/)
    // Witness keys come from the consortium file, never from the note: under the first file
    // (A alone) the two cosignature lines the note carries count for nothing.
    const early = await c('audit', 'mirror', `${nodes.A.url}/log`, '--member', 'hospital-a', '--consortium', file('consortium.json'), '--quorum', '1', '--json')
    assert.equal(early.code, 3, early.stdout + early.stderr)
    assert.deepEqual(early.json<{ cosignatures: { verified: number; witnesses: number } }>().cosignatures.verified, 0)
  })

  it("with B's node stopped, A still gets C's cosignature and reports B's failure; with none left, log cosign exits 1", async () => {
    await nodes.B!.stop()
    const treeSize = await logConsent('S-2')
    await until('the new checkpoint', async () => {
      const text = await (await fetch(`${nodes.A!.url}/log/checkpoint`)).text()
      return Number(text.split('\n')[1]) >= treeSize ? text : undefined
    })
    const r = await a('log', 'cosign', '--json')
    assert.equal(r.code, 0, r.stdout + r.stderr)
    const report = r.json<{ treeSize: number; cosigned: { member: string }[]; failed: { member: string; code: string; message: string }[] }>()
    assert.ok(report.treeSize >= treeSize)
    assert.deepEqual(report.cosigned.map((x) => x.member), ['clinic-c'])
    assert.deepEqual(report.failed.map((f) => [f.member, f.code]), [['lab-b', 'WITNESS_BAD_RESPONSE']])
    assert.match(report.failed[0]!.message, new RegExp(`no answer from ${endpoint('B').replace(/\./g, '\\.')}/witness/add-checkpoint`))
    // The node's own round after anchoring said so too, one stderr line, and kept serving.
    await until("A's stderr line about B", async () => (nodes.A!.stderr().includes('provena serve: witness lab-b') ? true : undefined))
    assert.equal((await fetch(`${nodes.A!.url}/healthz`)).status, 200)
    const text = await a('log', 'cosign')
    assert.match(text.stdout, /cosigned by 1 of 2 witness\(es\)\n {2}cosigned {2}clinic-c .*\n {2}FAILED {4}lab-b /)
    const one = await a('verify', '--quorum', '2')
    assert.equal(one.code, 3, 'the latest checkpoint has one cosignature')

    await nodes.C!.stop()
    const none = await a('log', 'cosign', '--json')
    assert.equal(none.code, 1, none.stderr)
    assert.equal(none.json<{ ok: boolean; failed: unknown[] }>().failed.length, 2)
    assert.match(none.stderr, /no witness cosigned the checkpoint/)

    // B's node back: A's node asks it again by itself (it had not cosigned the newest checkpoint).
    nodes.B = await serve(dirs.B, pw.B, ports.B)
    await until("B's cosignature gathered by A's node", async () => {
      const text = await (await fetch(`${nodes.A!.url}/log/checkpoint`)).text()
      return cosignatureLines(text).length === 2 ? text : undefined
    }, 30_000)
    const two = await a('verify', '--quorum', '2')
    assert.equal(two.code, 0, two.stdout + two.stderr)
    // A witness's failure is one line, not one per retry.
    const lines = nodes.A!.stderr().split('\n').filter((l) => l.startsWith('provena serve: witness lab-b'))
    assert.ok(lines.length >= 1 && lines.length <= 2, lines.join('\n'))
  })

  /** A consent change through A's API (a token of its controller); the log size after it. */
  async function logConsent(subject: string): Promise<number> {
    const res = await fetch(`${nodes.A!.url}/v1/consent`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ changes: [{ subject, purpose: 'dpv:ScientificResearch', action: 'grant' }] }),
    })
    assert.equal(res.status, 200, await res.clone().text())
    return ((await res.json()) as { treeSize: number }).treeSize
  }
})
