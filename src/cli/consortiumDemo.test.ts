import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import type { ConsortiumDemoReport } from './consortiumDemo.js'
import { runCli } from '../testing.js'

// `provena demo --consortium` (issue 13): one chain, three hospitals, a coordinator and an
// auditor, each its own data dir, passphrase and `provena serve` process; the healthcare
// case over HTTP. Then, with the nodes stopped and the chain still up, what it left is
// checked independently, by other commands on each node's data dir.
describe('the consortium demo: separate nodes over HTTP, end to end (issue 13)', () => {
  const work = mkdtempSync(join(tmpdir(), 'provena-consortium-demo-'))
  const dir = join(work, 'demo')
  let report: ConsortiumDemoReport | undefined
  const nodeDir = (name: string) => join(dir, name)
  const passphrase = (name: string) => `${name} passphrase (demo)`
  const on = (name: string, ...args: string[]) => runCli([...args, '--dir', nodeDir(name)], { PROVENA_PASSPHRASE: passphrase(name) })

  after(async () => {
    for (const n of report?.nodes ?? []) {
      try {
        if (n.pid) process.kill(n.pid, 'SIGTERM')
      } catch {
        /* stopped already */
      }
    }
    await on('coordinator', 'node', 'stop')
  })

  it('runs the healthcare case across five nodes: consent, a cross-node export, two FL rounds honouring a withdrawal, cosigned checkpoints, the audit', async () => {
    const r = await runCli(['demo', '--consortium', '--keep', '--json', '--dir', dir])
    assert.equal(r.code, 0, r.stdout + r.stderr)
    report = r.json<ConsortiumDemoReport>()
    assert.equal(report.ok, true)
    assert.deepEqual(report.nodes.map((n) => n.name), ['coordinator', 'st-mary', 'st-john', 'st-luke', 'auditor'])
    assert.equal(new Set(report.nodes.map((n) => n.url)).size, 5, 'each node listens on its own port')
    assert.equal(new Set(report.nodes.map((n) => n.pid)).size, 5, 'each node is its own process')
    // 569 patients split three ways; every 20th refuses.
    assert.deepEqual(report.consent['st-mary'], { granted: 180, refused: 10 })
    // The lab's export from St Mary's node: the consented records only.
    assert.equal(report.export.records, 180)
    assert.deepEqual(report.export.excluded, { refused: 10 })
    const csv = readFileSync(report.export.out, 'utf8').trimEnd().split('\n')
    assert.equal(csv.length, 1 + 180, 'the CSV on the lab node holds the header and the 180 consented records')
    // Federated training: two rounds; St John's second manifest leaves the withdrawn patient out.
    assert.equal(report.federated.rounds.length, 2)
    assert.equal(report.federated.rounds[0]!.included['st-john'], 180)
    assert.equal(report.federated.rounds[1]!.included['st-john'], 179)
    assert.match(report.federated.finalModel ?? '', /^[0-9a-f]{64}$/)
    for (const n of ['coordinator', 'st-mary', 'st-john', 'st-luke']) {
      assert.ok(report.witnessed[n]!.cosignatures >= 2, `${n}: ${JSON.stringify(report.witnessed[n])}`)
      assert.equal(report.audit[n]!.ok, true)
      assert.ok(report.audit[n]!.cosigned >= 2)
    }
  })

  it('left what it says: the manifests the coordinator received verify against the chain, and every log has a quorum of 2 witnesses', async (t) => {
    if (!report) return t.skip('the demo did not run')
    for (const n of report.nodes) {
      try {
        if (n.pid) process.kill(n.pid, 'SIGTERM')
      } catch {
        /* stopped already */
      }
    }
    // Wait for the served data dirs to be released (each anchors a last time).
    for (const n of report.nodes) {
      for (let i = 0; i < 100 && existsSync(join(n.dir, 'serve.json')); i++) await new Promise((r) => setTimeout(r, 200))
    }
    // St John's round-2 manifest, as delivered to the coordinator's node: one record fewer than round 1, and it verifies from the chain.
    const johnAddress = (await on('st-john', 'identity', 'show', 'st-john', '--json')).json<{ address: string }>().address.toLowerCase()
    const taskDir = join(nodeDir('coordinator'), 'fl-exchange', `task-${report.federated.task}`)
    const manifest = (round: number) => join(taskDir, `round-${round}`, `${johnAddress}.manifest.json`)
    assert.ok(existsSync(manifest(2)), readdirSync(taskDir).join(', '))
    const verified = await on('coordinator', 'consent', 'verify-manifest', manifest(2), '--json')
    assert.equal(verified.code, 0, verified.stdout + verified.stderr)
    for (const n of ['coordinator', 'st-mary', 'st-john', 'st-luke']) {
      const v = await on(n, 'verify', '--quorum', '2', '--json')
      assert.equal(v.code, 0, `${n}: ${v.stdout}${v.stderr}`)
    }
    // The auditor's mirror holds each member's log: its checkpoint, signed by the member's pinned key, at the size audited.
    const mirrors = readdirSync(join(nodeDir('auditor'), 'mirrors'))
    assert.equal(mirrors.length, 4, mirrors.join(', '))
    for (const m of mirrors) {
      const note = readFileSync(join(nodeDir('auditor'), 'mirrors', m, 'checkpoint'), 'utf8')
      const size = Number(note.split('\n')[1])
      assert.ok(Object.values(report.audit).some((a) => a.treeSize === size), `${m}: size ${size}`)
    }
  })
})
