import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { hospitalAndLab, runCli, startServe, type ServedNode } from '../testing.js'

const P = 'dpv:ScientificResearch'

// Kill -9 during a cross-node export (issue 13): the controller's `provena serve` right
// after it answered the release, or when the segments are asked for; the lab's `dataset
// export --from` in the middle of writing. Each time the lab reruns the same command and it
// completes; the controller logs one release per export, every answer it gave is logged and
// anchored after its restart; no partial CSV is left.
describe('kill -9 during dataset export --from: the controller or the lab killed, the rerun completes (issue 13)', () => {
  const work = mkdtempSync(join(tmpdir(), 'provena-xkill-'))
  const subjects = Array.from({ length: 24 }, (_, i) => `P-${i}`)
  let H = ''
  let dataset = ''
  let labDid = ''
  let served: ServedNode | undefined
  let port = 0
  const labExport = (out: string, env: Record<string, string> = {}) =>
    runCli(['dataset', 'export', dataset, '--from', `http://127.0.0.1:${port}`, '--purpose', P, '--as', 'lab', '--out', out, '--json', '--dir', join(work, 'lab')], { PROVENA_PASSPHRASE: 'pw-lab', ...env })
  /** The controller's node, started again on the same port (the lab's command names that URL). */
  const serve = async (fault?: string) => {
    served = await startServe(H, { passphrase: 'pw-hospital', port, env: fault ? { PROVENA_FAULT: fault } : {} })
    port = Number(new URL(served.url).port)
  }
  /** The controller's log: its release entries for the lab, and the size its chain outbox anchored. */
  const controllerLog = () => {
    const db = new Database(join(H, 'provena.db'), { readonly: true })
    try {
      const entries = (db.prepare('SELECT idx, leaf FROM log_entries ORDER BY idx').all() as { idx: number; leaf: Buffer }[]).map((r) => ({ ...(JSON.parse(r.leaf.toString('utf8')) as { type?: string; requester?: string; outcome?: string }), idx: r.idx }))
      const anchored = db.prepare("SELECT max(json_extract(payload, '$.treeSize')) FROM chain_outbox WHERE kind = 'checkpoint' AND status = 'mined'").pluck().get() as number
      return { released: entries.filter((e) => e.type === 'provena.access.released/v1' && e.requester === labDid && e.outcome === 'released'), anchored }
    } finally {
      db.close()
    }
  }
  const partials = () => readdirSync(work).filter((n) => n.endsWith('.partial'))
  const rows = (out: string) => readFileSync(out, 'utf8').trim().split('\n').length - 1

  before(async () => {
    const setup = await hospitalAndLab(work, subjects, P)
    ;({ H, dataset, labDid } = setup)
    assert.equal((await setup.hospital('access', 'grant', dataset, '--to', labDid, '--purpose', P, '--as', 'st-mary')).code, 0)
    await serve('api:after-release')
  })
  after(async () => {
    await served?.stop()
    await runCli(['node', 'stop', '--dir', H], { PROVENA_PASSPHRASE: 'pw-hospital' })
  })

  it('the controller killed right after answering the release: restarted, the rerun completes with that release, logged once and anchored', async () => {
    const out = join(work, 'one.csv')
    const first = await labExport(out)
    assert.notEqual(first.code, 0, 'the segments could not be fetched from a dead node')
    assert.equal((await served!.exited).signal, 'SIGKILL')
    assert.equal(existsSync(out), false)
    await serve()
    const again = await labExport(out)
    assert.equal(again.code, 0, again.stdout + again.stderr)
    assert.equal(again.json<{ records: number }>().records, 22)
    assert.equal(rows(out), 22)
    const log = controllerLog()
    assert.equal(log.released.length, 1, 'one release for the one export: the rerun did not ask again')
    assert.ok(log.anchored > log.released[0]!.idx, 'the release it answered is anchored')
  })

  it('the controller killed when the segments are asked for: restarted, the rerun completes, one more release logged', async () => {
    assert.equal(await served!.stop(), 0)
    await serve('api:before-segment')
    const out = join(work, 'two.csv')
    const first = await labExport(out)
    assert.notEqual(first.code, 0)
    assert.equal((await served!.exited).signal, 'SIGKILL')
    await serve()
    const again = await labExport(out)
    assert.equal(again.code, 0, again.stdout + again.stderr)
    assert.equal(rows(out), 22)
    const log = controllerLog()
    assert.equal(log.released.length, 2)
    assert.ok(log.anchored > log.released[1]!.idx)
  })

  it("the lab killed in the middle of writing: the rerun completes, no partial CSV left, the controller's release reused", async () => {
    const out = join(work, 'three.csv')
    const killed = await labExport(out, { PROVENA_FAULT: 'export:after-segment' })
    assert.equal(killed.signal, 'SIGKILL', killed.stderr)
    assert.equal(existsSync(out), false)
    assert.equal(partials().length, 1, 'the killed export left its temporary file')
    const again = await labExport(out)
    assert.equal(again.code, 0, again.stdout + again.stderr)
    assert.equal(rows(out), 22)
    assert.deepEqual(partials(), [], 'no partial CSV left')
    assert.equal(controllerLog().released.length, 3)
  })
})
