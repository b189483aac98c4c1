import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { createPublicClient, http, parseEventLogs, type PublicClient } from 'viem'
import { findIdentity, unlockIdentity } from '../access/index.js'
import { flContext, openChain, openProvena, type ChainSession, type Provena } from '../app/index.js'
import { FederatedTrainingAbi } from '../chain/index.js'
import { sha256Hex } from '../crypto/index.js'
import { DEFAULT_SPECS, gateDataset, modelShape, REJECT, submitUpdate, toSafetensors, type FlContext } from '../fl/index.js'
import { openStore, type BlobStore } from '../store/index.js'
import { repoRoot, runCli } from '../testing.js'

const CSV = join(repoRoot, 'data', 'breast_cancer.csv')
const P = 'dpv:ScientificResearch'
const PASS = 'pw for tests'

describe('federated training on-chain: consent-gated clients, verified updates, reason codes, lineage', () => {
  const dir = mkdtempSync(join(tmpdir(), 'provena-fl-'))
  const work = mkdtempSync(join(tmpdir(), 'provena-fl-files-'))
  const env = { PROVENA_PASSPHRASE: PASS }
  const cli = (...args: string[]) => runCli([...args, '--dir', dir], env)
  const datasets: string[] = []
  const firstSubject: string[] = []
  let p: Provena
  let chain: ChainSession
  let store: BlobStore
  let ctx: FlContext
  let round1Update: Buffer
  before(async () => {
    assert.equal((await cli('init')).code, 0)
    assert.equal((await cli('node', 'start')).code, 0)
    const [header, ...rows] = readFileSync(CSV, 'utf8').trimEnd().split('\n')
    for (let h = 0; h < 5; h++) {
      assert.equal((await cli('identity', 'create', `h${h}`, '--role', 'controller')).code, 0)
      const part = rows.filter((_, i) => i % 5 === h)
      firstSubject.push(part[0]!.split(',')[0]!)
      const file = join(work, `h${h}.csv`)
      writeFileSync(file, `${header}\n${part.join('\n')}\n`)
      const r = await cli('dataset', 'import', file, '--subject-column', 'patient_id', '--as', `h${h}`, '--json')
      assert.equal(r.code, 0, r.stderr)
      datasets.push(r.json<{ id: string }>().id)
      const consents = join(work, `c${h}.csv`)
      writeFileSync(consents, `subject,purpose,action\n${part.map((l) => `${l.split(',')[0]},${P},grant`).join('\n')}\n`)
      assert.equal((await cli('consent', 'import', consents, '--as', `h${h}`)).code, 0)
    }
    assert.equal((await cli('identity', 'create', 'agg', '--role', 'processor')).code, 0)
    assert.equal((await cli('identity', 'create', 'outsider', '--role', 'trainer')).code, 0)
    p = openProvena(dir, { passphrase: PASS })
    chain = await openChain(p)
    store = await openStore(dir, 'fs')
    ctx = flContext(p, chain, store)
  })
  after(async () => {
    await chain?.close()
    p?.close()
    await cli('node', 'stop')
  })

  const rejectedOnChain = async (tx: `0x${string}`) => {
    const client = createPublicClient({ transport: http(chain.client.rpcUrl) }) as PublicClient
    const receipt = await client.getTransactionReceipt({ hash: tx })
    return parseEventLogs({ abi: FederatedTrainingAbi, logs: receipt.logs, eventName: 'UpdateRejected' }).map((e) => [e.args.client.toLowerCase(), e.args.reason])
  }

  it('round 1: the honest client is accepted; NaN, wrong shape, oversized norm and a digest mismatch are rejected with their codes; an outsider is refused', async () => {
    const c = await cli('fl', 'task', 'create', '--model-spec', 'logistic', '--features', '30', '--purpose', P, '--participants', 'h0,h1,h2,h3,h4', '--rounds', '2', '--json') // the aggregator: the only processor
    assert.equal(c.code, 0, c.stderr)
    const task = c.json<{ task: number }>().task
    const honest = await cli('fl', 'client', 'run', '--task', String(task), '--dataset', datasets[0]!, '--as', 'h0', '--json')
    assert.equal(honest.code, 0, honest.stderr)
    assert.equal(honest.json<{ manifest: { included: number } }>().manifest.included, 114)

    const agg = findIdentity(dir, 'agg')
    const shape = modelShape(DEFAULT_SPECS.logistic, 30, 2)
    const craft = async (h: number, update: Buffer, committedDigest?: string) => {
      const client = unlockIdentity(dir, `h${h}`, PASS)
      const gate = await gateDataset(ctx, P, datasets[h]!, client.did)
      return submitUpdate(ctx, { task, round: 1, client, aggregator: agg, dataset: datasets[h]!, update, manifest: gate.manifest, ...(committedDigest ? { committedDigest } : {}) })
    }
    const small = new Float32Array(shape.size).fill(0.01)
    const withNaN = Float32Array.from(small)
    withNaN[3] = NaN
    await craft(1, toSafetensors(shape, withNaN, {}))
    await craft(2, toSafetensors(modelShape(DEFAULT_SPECS.logistic, 31, 2), new Float32Array(64).fill(0.01), {}))
    await craft(3, toSafetensors(shape, new Float32Array(shape.size).fill(1000), {}))
    round1Update = toSafetensors(shape, small, {})
    await craft(4, round1Update, sha256Hex(Buffer.from('something else')))

    // Not a participant: the contract refuses, and the refusal is logged with its reason.
    const outsider = unlockIdentity(dir, 'outsider', PASS)
    await assert.rejects(
      submitUpdate(ctx, { task, round: 1, client: outsider, aggregator: agg, dataset: datasets[0]!, update: round1Update, manifest: { hash: 'a'.repeat(64), cid: 'x', samples: 1 } }),
      /FederatedTrainingNotParticipant/,
    )
    const refused = [...p.log.entries()].map((e) => JSON.parse(e.leaf.toString())).filter((e) => e.type === 'provena.fl.update-refused/v1')
    assert.deepEqual(refused.map((e) => e.reason), ['FederatedTrainingNotParticipant'])

    const a = await cli('fl', 'aggregate', '--task', String(task), '--as', 'agg', '--json')
    assert.equal(a.code, 0, a.stderr)
    const r = a.json<{ accepted: { did: string; name: string }[]; rejected: { client: string; reason: number; name: string; did: string }[]; transactionHash: `0x${string}` }>()
    assert.deepEqual(r.accepted.map((x) => x.did), [findIdentity(dir, 'h0').did])
    // Named as identity list names them, with DID and address beside the name.
    assert.deepEqual(r.accepted.map((x) => x.name), ['h0'])
    assert.deepEqual(r.rejected.map((x) => [x.name, x.did]).sort(), [1, 2, 3, 4].map((h) => [`h${h}`, findIdentity(dir, `h${h}`).did]))
    const addr = (h: number) => findIdentity(dir, `h${h}`).address.toLowerCase()
    const expected = [
      [addr(1), REJECT.nonFinite],
      [addr(2), REJECT.badShape],
      [addr(3), REJECT.normExceeded],
      [addr(4), REJECT.digestMismatch],
    ]
    assert.deepEqual(r.rejected.map((x) => [x.client.toLowerCase(), x.reason]).sort(), [...expected].sort())
    assert.deepEqual((await rejectedOnChain(r.transactionHash)).sort(), [...expected].sort(), 'the same reason codes are on-chain')
  })

  it('round 2: a withdrawn subject is absent from the later manifest, a replay and a late commitment are refused, the model is registered with its lineage', async () => {
    const task = 1
    assert.equal((await cli('consent', 'withdraw', '--subject', firstSubject[0]!, '--purpose', P, '--as', 'h0')).code, 0)
    const honest = await cli('fl', 'client', 'run', '--task', String(task), '--dataset', datasets[0]!, '--as', 'h0', '--json')
    assert.equal(honest.code, 0, honest.stderr)
    assert.equal(honest.json<{ manifest: { included: number } }>().manifest.included, 113)
    // Prove it from the manifests: record 0 of h0's dataset was included in round 1, excluded (withdrawn) in round 2.
    const rows = p.db.prepare('SELECT round, manifest_cid FROM fl_updates WHERE task = ? AND dataset = ? ORDER BY round').all(task, datasets[0]) as { round: number; manifest_cid: string }[]
    const manifests = await Promise.all(rows.map(async (x) => JSON.parse((await store.get(x.manifest_cid)).toString()) as { included: { index: number }[]; excluded: { index: number; reason: string }[] }))
    assert.ok(manifests[0]!.included.some((x) => x.index === 0))
    assert.deepEqual(manifests[1]!.excluded.find((x) => x.index === 0)?.reason, 'withdrawn')
    assert.equal(manifests[1]!.included.some((x) => x.index === 0), false)

    // A replayed update (round 1's digest) is refused on-chain.
    const h4 = unlockIdentity(dir, 'h4', PASS)
    const gate = await gateDataset(ctx, P, datasets[4]!, h4.did)
    await assert.rejects(
      submitUpdate(ctx, { task, round: 2, client: h4, aggregator: findIdentity(dir, 'agg'), dataset: datasets[4]!, update: round1Update, manifest: gate.manifest, committedDigest: sha256Hex(Buffer.from('something else')) }),
      /FederatedTrainingReplayedUpdate/,
    )
    // After the deadline: refused with RoundClosed; the aggregator may finalise with fewer clients.
    await chain.client.publicClient.request({ method: 'evm_increaseTime', params: [3601] } as never)
    await chain.client.publicClient.request({ method: 'evm_mine', params: [] } as never)
    const late = await cli('fl', 'client', 'run', '--task', String(task), '--dataset', datasets[1]!, '--as', 'h1')
    assert.equal(late.code, 1)
    assert.match(late.stderr, /FederatedTrainingRoundClosed/)
    const a = await cli('fl', 'aggregate', '--task', String(task), '--as', 'agg', '--json')
    assert.equal(a.code, 0, a.stderr)
    const r = a.json<{ done: boolean; dropped: { client: string; name: string; did: string }[]; model: { id: string } }>()
    assert.equal(r.done, true)
    assert.deepEqual(r.dropped.map((d) => [d.name, d.client.toLowerCase()]).sort(), [1, 2, 3, 4].map((h) => [`h${h}`, findIdentity(dir, `h${h}`).address.toLowerCase()]))
    const lineage = await cli('lineage', r.model.id, '--json')
    assert.match(lineage.stdout, new RegExp(datasets[0]!))
    const status = (await cli('fl', 'status', '--task', String(task), '--json')).json<{ done: boolean; finalModel: string }>()
    assert.deepEqual([status.done, status.finalModel], [true, r.model.id])
    // The withdrawn patient's report names the model their record went into, in round 1 only.
    const report = (await cli('subject', 'report', firstSubject[0]!, '--as', 'h0', '--json')).json<{ models: { task: number; round: number; manifest: string; model: string }[] }>()
    assert.deepEqual(report.models, [{ task, round: 1, manifest: report.models[0]!.manifest, model: r.model.id }])
    assert.equal((await cli('verify')).code, 0)
  })
})
