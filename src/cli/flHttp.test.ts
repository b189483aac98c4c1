import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { unlockIdentity, type UnlockedIdentity } from '../access/index.js'
import { sha256Hex } from '../crypto/index.js'
import { signedFetch } from '../node/index.js'
import { FL_PASSPHRASES, flNodePaths, freePort, runCli, setUpFlNodes, startServe, type CliRun, type ServedNode } from '../testing.js'

const P = 'dpv:ScientificResearch'
const ROWS = 40

// Federated learning over HTTP between served nodes (issue 13): the coordinator's node (the
// consortium's admin, its embedded chain) serves the task, the global models and takes the
// participants' updates; st-mary's node serves too and trains when its API is asked;
// st-luke has no server and trains with `fl client run --coordinator URL`. No shared
// folder: every file crosses over HTTP, each request signed with the participant's key.
describe('federated learning over HTTP: the coordinator serves, the hospitals train through their API or the CLI (issue 13)', () => {
  const work = mkdtempSync(join(tmpdir(), 'provena-flhttp-'))
  const { C, H, coordinator, hospital } = flNodePaths(work)
  const PW = FL_PASSPHRASES
  const ok = (r: CliRun) => {
    assert.equal(r.code, 0, r.stdout + r.stderr)
    return r
  }
  const dataset = { 'st-mary': '', 'st-luke': '' }
  const address = { 'st-mary': '', 'st-luke': '' }
  let withdrawn = ''
  let coordinatorToken = ''
  let analystToken = ''
  let portC = 0
  let maryToken = ''
  let served: { C: ServedNode; mary: ServedNode }
  let task = 0
  const ids: Record<string, UnlockedIdentity> = {}
  const exchange = (...parts: string[]) => join(C, 'fl-exchange', `task-${task}`, ...parts)

  const api = async (node: ServedNode, method: string, path: string, token: string, body?: unknown) => {
    const res = await fetch(`${node.url}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}) })
    const json = (await res.json()) as Record<string, unknown>
    return { status: res.status, json }
  }
  /** A PUT of an update signed by `who`; `sent` keeps what was sent, for a replay. */
  const putUpdate = async (who: UnlockedIdentity, round: number, client: string, sealed: Buffer, manifest: Buffer, sent?: { url: URL; init: RequestInit }[]) => {
    const res = await signedFetch(
      `${served.C.url}/v1/fl/tasks/${task}/rounds/${round}/updates`,
      { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client, sealed: sealed.toString('base64'), manifest: manifest.toString('base64') }) },
      { keyId: who.did, privateKey: who.signing.privateKey },
      { fetch: (async (url: URL, init: RequestInit) => (sent?.push({ url, init }), fetch(url, init))) as typeof fetch },
    )
    return { status: res.status, json: (await res.json()) as { code?: string } }
  }
  const waitForRound = async (want: { round: number } | { done: true }) => {
    for (let i = 0; i < 120; i++) {
      const s = (await api(served.C, 'GET', `/v1/fl/tasks/${task}/status`, coordinatorToken)).json as { round: number; done: boolean }
      if ('done' in want ? s.done : s.round >= want.round) return s
      await new Promise((r) => setTimeout(r, 500))
    }
    assert.fail(`the coordinator's serve did not aggregate (waiting for ${JSON.stringify(want)}):\n${served.C.stderr()}`)
  }

  before(async () => {
    // The coordinator's node advertises where it serves (the hospitals' nodes talk only to pinned endpoints).
    portC = await freePort()
    const nodes = await setUpFlNodes(work, { rows: ROWS, purpose: P, endpoint: `http://127.0.0.1:${portC}` })
    Object.assign(dataset, nodes.dataset)
    Object.assign(address, nodes.address)
    withdrawn = nodes.subjects['st-mary'][0]!
    coordinatorToken = ok(await coordinator('token', 'create', '--as', 'coordinator', '--role', 'processor', '--scope', 'fl:coordinate', '--json')).json<{ token: string }>().token
    // Another processor identity of the coordinator's node, neither aggregator nor participant of the task.
    ok(await coordinator('identity', 'create', 'analyst', '--role', 'processor'))
    analystToken = ok(await coordinator('token', 'create', '--as', 'analyst', '--role', 'processor', '--scope', 'fl:coordinate', '--json')).json<{ token: string }>().token
    maryToken = ok(await hospital('st-mary')('token', 'create', '--as', 'st-mary', '--role', 'controller', '--scope', 'fl:train', '--scope', 'consent:write', '--json')).json<{ token: string }>().token
    ids.coordinator = unlockIdentity(C, 'coordinator', PW.coordinator)
    ids['st-mary'] = unlockIdentity(H['st-mary'], 'st-mary', PW['st-mary'])
    ids['st-luke'] = unlockIdentity(H['st-luke'], 'st-luke', PW['st-luke'])
    served = { C: await startServe(C, { port: portC, passphrase: PW.coordinator }), mary: await startServe(H['st-mary'], { passphrase: PW['st-mary'] }) }
  })
  after(async () => {
    await Promise.all([served?.C.stop(), served?.mary.stop()])
    await coordinator('node', 'stop')
  })

  it("round 1: the task is created through the coordinator's API; st-mary's node, killed (kill -9) between its commitment and its delivery, delivers once restarted; st-mary trains through its node's API, st-luke with fl client run --coordinator; the coordinator's serve aggregates", async () => {
    const created = await api(served.C, 'POST', '/v1/fl/tasks', coordinatorToken, { model: { type: 'logistic' }, features: 30, purpose: P, participants: ['st-mary', 'st-luke'], rounds: 2, maxUpdateNorm: 1000 })
    assert.equal(created.status, 200, JSON.stringify(created.json))
    task = created.json.task as number
    // kill -9 in the middle of the round: st-mary's node dies after committing its update on-chain, before delivering it.
    await served.mary.stop()
    served.mary = await startServe(H['st-mary'], { passphrase: PW['st-mary'], env: { PROVENA_FAULT: 'fl:before-delivery' } })
    await assert.rejects(api(served.mary, 'POST', `/v1/fl/tasks/${task}/train`, maryToken, { dataset: dataset['st-mary'], coordinator: served.C.url }))
    assert.equal((await served.mary.exited).signal, 'SIGKILL')
    assert.equal(existsSync(exchange('round-1', `${address['st-mary']}.sealed`)), false)
    // Restarted, a subject withdraws (its API) before st-mary is asked again: the node delivers what it committed while the
    // consent held (trained again, it would gate out the subject and commit another update, which the chain refuses).
    served.mary = await startServe(H['st-mary'], { passphrase: PW['st-mary'] })
    const w = await api(served.mary, 'POST', '/v1/consent', maryToken, { changes: [{ subject: withdrawn, purpose: P, action: 'withdraw' }] })
    assert.equal(w.status, 200, JSON.stringify(w.json))
    const mary = await api(served.mary, 'POST', `/v1/fl/tasks/${task}/train`, maryToken, { dataset: dataset['st-mary'], coordinator: served.C.url })
    assert.equal(mary.status, 200, JSON.stringify(mary.json))
    assert.equal((mary.json.manifest as { included: number }).included, ROWS)
    // Delivered: the coordinator took it only because it hashes to the sealed digest committed on-chain (else 409 FL_UPDATE_MISMATCH).
    assert.ok(existsSync(exchange('round-1', `${address['st-mary']}.sealed`)))
    // Delivered over HTTP into the coordinator's own exchange, as committed on-chain.
    assert.ok(existsSync(exchange('round-1', `${address['st-mary']}.sealed`)) && existsSync(exchange('round-1', `${address['st-mary']}.manifest.json`)))
    const state = await signedFetch(`${served.C.url}/v1/fl/tasks/${task}`, {}, { keyId: ids['st-mary']!.did, privateKey: ids['st-mary']!.signing.privateKey })
    assert.equal(state.status, 200)
    assert.deepEqual(((await state.json()) as { round: number; delivered: boolean }).delivered, true)
  })

  it("a member that is not a participant reads nothing of the task (403 FL_NOT_PARTICIPANT); another member cannot make st-mary's node train (403)", async () => {
    // A token holder cannot point st-mary's node at another host: it talks only to the endpoints its consortium file pins.
    const elsewhere = await api(served.mary, 'POST', `/v1/fl/tasks/${task}/train`, maryToken, { dataset: dataset['st-mary'], coordinator: 'http://127.0.0.1:9/internal' })
    assert.deepEqual([elsewhere.status, elsewhere.json.code], [403, 'FL_COORDINATOR_NOT_PINNED'])
    // Not even its status, through a token of a processor that neither aggregates nor takes part (the aggregator's token reads it).
    const status = await api(served.C, 'GET', `/v1/fl/tasks/${task}/status`, analystToken)
    assert.deepEqual([status.status, status.json.code], [403, 'FL_NOT_PARTICIPANT'])
    assert.equal((await api(served.C, 'GET', `/v1/fl/tasks/${task}/status`, coordinatorToken)).status, 200)
    const key = { keyId: ids.coordinator!.did, privateKey: ids.coordinator!.signing.privateKey }
    for (const path of [`/v1/fl/tasks/${task}`, `/v1/fl/tasks/${task}/rounds/1/model`]) {
      const res = await signedFetch(`${served.C.url}${path}`, {}, key)
      assert.equal(res.status, 403, path)
      assert.equal(((await res.json()) as { code: string }).code, 'FL_NOT_PARTICIPANT')
    }
    // st-luke, a member, signs a request to st-mary's node to train as st-mary: refused, nothing committed.
    const train = await signedFetch(
      `${served.mary.url}/v1/fl/tasks/${task}/train`,
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ dataset: dataset['st-mary'], coordinator: served.C.url }) },
      { keyId: ids['st-luke']!.did, privateKey: ids['st-luke']!.signing.privateKey },
    )
    assert.deepEqual([train.status, ((await train.json()) as { code: string }).code], [403, 'FL_NOT_LOCAL_IDENTITY'])
  })

  it("a participant cannot deliver another's update (403 FL_NOT_YOUR_UPDATE, nothing stored), nor one it did not commit (409); a replayed PUT is refused (401)", async () => {
    const sealedPath = exchange('round-1', `${address['st-mary']}.sealed`)
    const before = readFileSync(sealedPath)
    const manifest = readFileSync(exchange('round-1', `${address['st-mary']}.manifest.json`))
    const forged = await putUpdate(ids['st-luke']!, 1, address['st-mary'], Buffer.from('not mary'), manifest)
    assert.deepEqual([forged.status, forged.json.code], [403, 'FL_NOT_YOUR_UPDATE'])
    assert.deepEqual(readFileSync(sealedPath), before)
    assert.equal(existsSync(exchange('round-1', `${address['st-luke']}.sealed`)), false)
    // st-luke's own, before it committed: refused.
    const early = await putUpdate(ids['st-luke']!, 1, address['st-luke'], Buffer.from('early'), manifest)
    assert.deepEqual([early.status, early.json.code], [409, 'FL_NOT_COMMITTED'])
    assert.equal(existsSync(exchange('round-1', `${address['st-luke']}.sealed`)), false)
    // 2 MiB that st-mary did not commit: past the route's body limit (over the server's 1 MiB), refused by its commitment.
    const other = await putUpdate(ids['st-mary']!, 1, address['st-mary'], Buffer.alloc(2 << 20, 7), manifest)
    assert.deepEqual([other.status, other.json.code], [409, 'FL_UPDATE_MISMATCH'])
    assert.deepEqual(readFileSync(sealedPath), before)
    // st-mary's own genuine PUT again is taken (same files); the very same signed request sent twice is not.
    const sent: { url: URL; init: RequestInit }[] = []
    const again = await putUpdate(ids['st-mary']!, 1, address['st-mary'], before, manifest, sent)
    assert.equal(again.status, 200, JSON.stringify(again.json))
    const replay = await fetch(sent[0]!.url, sent[0]!.init)
    assert.deepEqual([replay.status, ((await replay.json()) as { code: string }).code], [401, 'API_SIGNATURE_REPLAYED'])
  })

  it("st-luke trains without a server (--coordinator URL); once both delivered, the coordinator's serve finalises round 1 by itself; an update for the closed round is refused (409)", async () => {
    const luke = ok(await hospital('st-luke')('fl', 'client', 'run', '--task', String(task), '--dataset', dataset['st-luke'], '--as', 'st-luke', '--coordinator', served.C.url, '--json'))
    assert.equal(luke.json<{ round: number }>().round, 1)
    await waitForRound({ round: 2 })
    // Round 2's model is served as soon as the chain says round 2 is open (before or after its file is in the exchange).
    const model = await signedFetch(`${served.C.url}/v1/fl/tasks/${task}/rounds/2/model`, {}, { keyId: ids['st-luke']!.did, privateKey: ids['st-luke']!.signing.privateKey })
    assert.equal(model.status, 200)
    assert.ok((await model.arrayBuffer()).byteLength > 0)
    // A restarted coordinator node goes on from what the chain says (round 1 is not aggregated again: counted at the end).
    await served.C.stop()
    served.C = await startServe(C, { port: portC, passphrase: PW.coordinator })
    const closed = await putUpdate(ids['st-mary']!, 1, address['st-mary'], readFileSync(exchange('round-1', `${address['st-mary']}.sealed`)), readFileSync(exchange('round-1', `${address['st-mary']}.manifest.json`)))
    assert.deepEqual([closed.status, closed.json.code], [409, 'FL_ROUND_CLOSED'])
  })

  it("round 2 (a subject withdrew at st-mary during round 1, through its API): the coordinator's node is killed (kill -9) as it finalises and completes the round once restarted; st-mary's round-2 manifest leaves the subject out; the final model is served", async () => {
    // kill -9 in the middle of the round: the coordinator's node dies right after it broadcast round 2's finalisation (before its receipt and its log entry).
    await served.C.stop()
    served.C = await startServe(C, { port: portC, passphrase: PW.coordinator, env: { PROVENA_FAULT: 'outbox:after-broadcast:fl-finalize' } })
    // The CLI on st-mary's served data dir goes through its serve (POST /v1/fl/tasks/{task}/train with the serve's own token), no passphrase needed.
    const mary = ok(await runCli(['fl', 'client', 'run', '--task', String(task), '--dataset', dataset['st-mary'], '--as', 'st-mary', '--coordinator', served.C.url, '--json', '--dir', H['st-mary']], { PROVENA_PASSPHRASE: undefined }))
    assert.equal(mary.json<{ manifest: { included: number } }>().manifest.included, ROWS - 1)
    ok(await hospital('st-luke')('fl', 'client', 'run', '--task', String(task), '--dataset', dataset['st-luke'], '--as', 'st-luke', '--coordinator', served.C.url))
    const killed = await served.C.exited
    assert.equal(killed.signal, 'SIGKILL', killed.stderr)
    // Restarted, it completes the round from its outbox and the chain: finalised once, logged once (counted at the end).
    served.C = await startServe(C, { port: portC, passphrase: PW.coordinator })
    const s = (await waitForRound({ done: true })) as unknown as { finalModel: string }
    // fl status on the coordinator's served data dir: through its serve, the same task.
    const status = ok(await runCli(['fl', 'status', '--task', String(task), '--json', '--dir', C], { PROVENA_PASSPHRASE: undefined })).json<{ done: boolean; finalModel: string }>()
    assert.deepEqual([status.done, status.finalModel], [true, s.finalModel])
    type Manifest = { included: { index: number; subject: string }[]; excluded: { index: number; reason: string; subject?: string }[] }
    const m1 = JSON.parse(readFileSync(exchange('round-1', `${address['st-mary']}.manifest.json`), 'utf8')) as Manifest
    const m2 = JSON.parse(readFileSync(exchange('round-2', `${address['st-mary']}.manifest.json`), 'utf8')) as Manifest
    const pseudonym = m1.included.find((r) => r.index === 0)!.subject
    assert.equal(m1.included.length, ROWS)
    assert.equal(m2.included.length, ROWS - 1)
    assert.equal(m2.included.some((r) => r.subject === pseudonym), false)
    assert.deepEqual(m2.excluded.map((r) => [r.index, r.reason, r.subject]), [[0, 'withdrawn', pseudonym]])
    const final = await signedFetch(`${served.C.url}/v1/fl/tasks/${task}/model`, {}, { keyId: ids['st-luke']!.did, privateKey: ids['st-luke']!.signing.privateKey })
    assert.equal(final.status, 200)
    assert.equal(sha256Hex(Buffer.from(await final.arrayBuffer())), s.finalModel)
    // The routes are in the OpenAPI document.
    const paths = ((await (await fetch(`${served.C.url}/openapi.json`)).json()) as { paths: Record<string, unknown> }).paths
    for (const p of ['/v1/fl/tasks', '/v1/fl/tasks/{task}', '/v1/fl/tasks/{task}/rounds/{round}/model', '/v1/fl/tasks/{task}/rounds/{round}/updates', '/v1/fl/tasks/{task}/train']) assert.ok(paths[p], p)
    // Aggregating through the API: the round the kill interrupted is completed once (finalised on-chain already:
    // its log entry and model are written), unless the node's own tick did it first; then the task is done (409).
    for (let completions = 0; ; completions++) {
      const again = await api(served.C, 'POST', `/v1/fl/tasks/${task}/aggregate`, coordinatorToken)
      if (again.status === 409) {
        assert.equal(again.json.code, 'FL_TASK_DONE')
        break
      }
      assert.deepEqual([again.status, again.json.round, completions], [200, 2, 0], JSON.stringify(again.json))
    }
    // One round entry per round in the coordinator's log, though its serve restarted in between and was killed as it finalised round 2.
    await served.C.stop()
    const entries = ok(await coordinator('log', 'entries', '--json')).json<{ entries: { leaf: string }[] }>().entries.map((e) => JSON.parse(Buffer.from(e.leaf, 'base64').toString('utf8')) as { type: string; task?: number; round?: number })
    assert.deepEqual(entries.filter((e) => e.type === 'provena.fl.round/v1' && e.task === task).map((e) => e.round), [1, 2])
  })
})
