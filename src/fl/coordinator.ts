// Federated training orchestrated by the FederatedTraining contract. The aggregator
// creates a task; each round every participant trains on the records of its own training
// manifest (the consent gate) and commits its update — a safetensors file signed in a
// DSSE envelope, sealed to the aggregator with HPKE, kept in the blob store, its digest
// on-chain; the aggregator verifies every update, aggregates, publishes the new global
// model and finalises the round on-chain. The final model is registered with lineage.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import type { Address, Hex } from 'viem'
import { datasetSubjects, decryptRecords, findIdentity, memberClient, type DataPlaneContext, type Identity, type UnlockedIdentity } from '../access/index.js'
import {
  decideWrites,
  enqueueOutbox,
  findOutbox,
  flushOutbox,
  FederatedTrainingAbi,
  listOutboxByKeyPrefix,
  markReported,
  readAssetRoot,
  readCheckpointAt,
  readLatestCheckpoint,
  simulateWrite,
  type ChainClient,
  type Deployment,
  type OutboxRow,
} from '../chain/index.js'
import { flCancelEffect, flCommitEffect, flFinalizeEffect, flTaskEffect, type FlCommitPayload, type FlFinalizePayload, type FlTaskPayload } from './chainEffects.js'
import { buildManifest, checkManifestTrust, recordManifest, resolvePurpose, verifyManifest, type ManifestTrustRoots, type OwnPurposes, type TrainingManifest } from '../consent/index.js'
import { cidFromDigest } from '../store/index.js'
import { canonicalJson, canonicalJsonBytes, ed25519FromDidKey, openWith, sealTo, sha256Hex, signDsse, verifyDsse, type DsseEnvelope } from '../crypto/index.js'
import { ProvenaError, isProvenaError } from '../errors.js'
import type { StoredMap } from '../log/index.js'
import { datasetCommitments, getAsset, registerModel } from '../registry/index.js'
import { epsilonOf, noiseMultiplierFor } from './accountant.js'
import { aggregate, allFinite, dpFedAvg, l2norm, type AggregationRule, type ClientUpdate } from './aggregate.js'
import { featureSums, standardisation } from './data.js'
import { initParams, modelShape, standardise, trainLocal, type ModelShape, type ModelSpec } from './model.js'
import { decodeSafetensors, encodeSafetensors } from './safetensors.js'

export const UPDATE_PAYLOAD_TYPE = 'application/vnd.provena.fl-update.v1+safetensors'
const SEAL_INFO = Buffer.from('provena/fl-update/v1')

/** Reason codes of FederatedTraining (REASON_*). */
export const REJECT = { digestMismatch: 1, badSignature: 2, badShape: 3, nonFinite: 4, normExceeded: 5, badManifest: 6, missingUpdate: 7, outlier: 8 } as const
export const REASON_NAMES: Record<number, string> = Object.fromEntries(Object.entries(REJECT).map(([k, v]) => [v, k]))

/** Everything a task fixes, hashed into its on-chain spec digest. */
export interface TaskSpec {
  type: 'provena.fl.task-spec/v1'
  model: ModelSpec
  features: number
  classes: number
  label: string
  aggregation: AggregationRule
  /** Updates with a larger L2 norm are rejected. */
  maxUpdateNorm: number
  dp: { epsilon: number; delta: number; clip: number } | null
}

/** What the coordinator needs of an open data dir and chain. */
export interface FlContext extends DataPlaneContext {
  map: StoredMap
  ownPurposes?: OwnPurposes | undefined
  chain: { client: ChainClient; deployment: Deployment }
  /** Anchors the log now (a checkpoint carrying the consent map root). */
  anchor: () => Promise<void>
  /** Where the final model file is written. */
  dir: string
  /**
   * The trust roots a client's training manifest is checked against (the pinned consortium,
   * or a lone node's own deployment), never the addresses the manifest names (issue 12, attack 2).
   */
  trustRoots?: ManifestTrustRoots | undefined
}

/**
 * Where the aggregator takes each committer's sealed update and training manifest from when
 * they are not in its own block store: another node's files (an exchange directory). Undefined
 * when the committer delivered nothing.
 */
export interface UpdateSource {
  sealed(client: Address): Buffer | undefined
  manifest(client: Address): Buffer | undefined
}

interface TaskRow {
  spec: string
  purpose: string
  aggregator: string
  participants: string
}

const chainKey = (ctx: FlContext) => ctx.chain.client.chainKey
const logEvent = (ctx: FlContext, event: Record<string, unknown>) => ctx.log.append([canonicalJsonBytes({ ...event, time: new Date().toISOString() })])

function flError(code: string, message: string, hint?: string) {
  return new ProvenaError(code, message, hint ? { hint } : {})
}

/** The model parameters as named safetensors tensors. */
export function toSafetensors(shape: ModelShape, params: Float32Array, metadata: Record<string, string>): Buffer {
  return encodeSafetensors(Object.fromEntries(shape.tensors.map((t) => [t.name, { shape: t.shape, data: params.subarray(t.offset, t.offset + t.length) }])), metadata)
}

/** Parameters from a safetensors file; throws FL_BAD_SHAPE naming the first mismatch. */
export function fromSafetensors(shape: ModelShape, bytes: Uint8Array): Float32Array {
  const { tensors } = decodeSafetensors(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))
  const names = Object.keys(tensors).sort()
  const want = shape.tensors.map((t) => t.name).sort()
  if (names.join() !== want.join()) throw flError('FL_BAD_SHAPE', `tensors ${names.join(', ')}; the task's model has ${want.join(', ')}`)
  const out = new Float32Array(shape.size)
  for (const t of shape.tensors) {
    const got = tensors[t.name]!
    if (got.shape.join('x') !== t.shape.join('x')) throw flError('FL_BAD_SHAPE', `tensor ${t.name} has shape [${got.shape}], the task's model [${t.shape}]`)
    out.set(got.data, t.offset)
  }
  return out
}

function taskRow(ctx: FlContext, task: number): { spec: TaskSpec; purpose: string; aggregator: string; participants: string[] } {
  const row = ctx.db.prepare('SELECT spec, purpose, aggregator, participants FROM fl_tasks WHERE chain = ? AND task = ?').get(chainKey(ctx), task) as TaskRow | undefined
  if (!row) throw flError('FL_UNKNOWN_TASK', `no federated task ${task} on this chain in this data dir`, 'list them with provena fl status --task N, or create one with provena fl task create')
  return { spec: JSON.parse(row.spec) as TaskSpec, purpose: row.purpose, aggregator: row.aggregator, participants: JSON.parse(row.participants) as string[] }
}

export interface OnChainTask {
  aggregator: Address
  specDigest: Hex
  purpose: Hex
  rounds: number
  minClients: number
  roundTimeout: number
  round: number
  roundStartedAt: number
  done: boolean
  finalModel: Hex
}

export async function readTask(ctx: FlContext, task: number): Promise<OnChainTask> {
  const t = (await ctx.chain.client.publicClient.readContract({ address: ctx.chain.deployment.FederatedTraining, abi: FederatedTrainingAbi, functionName: 'taskOf', args: [BigInt(task)] })) as {
    aggregator: Address
    specDigest: Hex
    purpose: Hex
    rounds: number
    minClients: number
    roundTimeout: bigint
    round: number
    roundStartedAt: bigint
    done: boolean
    finalModel: Hex
  }
  return { ...t, roundTimeout: Number(t.roundTimeout), roundStartedAt: Number(t.roundStartedAt) }
}

/**
 * Creates a task on-chain (the aggregator's account sends it), records its spec and the
 * initial global model, and logs it. Returns the task number.
 */
export async function createTask(
  ctx: FlContext,
  aggregator: UnlockedIdentity,
  o: { spec: TaskSpec; purpose: string; participants: Identity[]; rounds: number; minClients: number; roundTimeout: number },
): Promise<{ task: number; specDigest: string; transactionHash: Hex; initialModel: string }> {
  resolvePurpose(o.purpose, ctx.ownPurposes)
  const specBytes = canonicalJsonBytes(o.spec)
  const specDigest = sha256Hex(specBytes)
  // Everything that can fail off-chain is done before the transaction.
  if (!(o.spec.classes >= 2) || !(o.spec.features >= 1)) throw flError('FL_BAD_MODEL_SPEC', `a task needs at least 1 feature and 2 classes (got ${o.spec.features}, ${o.spec.classes})`)
  const shape = modelShape(o.spec.model, o.spec.features, o.spec.classes)
  const initial = toSafetensors(shape, initParams(shape), { round: '0', spec: specDigest })
  const signer = await memberClient(ctx.chain.client, aggregator)
  const participants = o.participants.map((p) => ({ did: p.did, address: p.address }))
  const same = (q: FlTaskPayload) =>
    q.specDigest === specDigest && q.purpose === o.purpose && JSON.stringify(q.participants) === JSON.stringify(participants) && q.rounds === o.rounds && q.minClients === o.minClients && q.roundTimeout === o.roundTimeout
  // A creation of the same task decided by a run that crashed is finished, not decided again.
  const pending = listOutboxByKeyPrefix(ctx.db, chainKey(ctx), flTaskEffect.kind, `fl-task:${aggregator.address.toLowerCase()}:`).find(
    (r) => !r.reported && r.status !== 'failed' && same(r.payload as FlTaskPayload),
  )
  let payload: FlTaskPayload
  if (pending) payload = pending.payload as FlTaskPayload
  else {
    const cid = await ctx.store.put(initial)
    payload = {
      nonce: randomBytes(8).toString('hex'),
      aggregator: { did: aggregator.did, address: aggregator.address },
      specDigest,
      spec: specBytes.toString('utf8'),
      purpose: o.purpose,
      participants,
      rounds: o.rounds,
      minClients: o.minClients,
      roundTimeout: o.roundTimeout,
      initialModel: { cid, digest: sha256Hex(initial) },
    }
  }
  const write = flTaskEffect.write(payload, aggregator.address)
  if (!pending) {
    await simulateWrite(ctx.outbox, write, signer)
    decideWrites(ctx.db, () => enqueueOutbox(ctx.db, chainKey(ctx), write))
  }
  // Mined: the task, its first round and its log entry are recorded with the receipt.
  await flushOutbox(ctx.outbox, { signers: [signer] })
  const row = findOutbox(ctx.db, chainKey(ctx), write)!
  const { task } = row.result as { task: number }
  await ctx.anchor()
  markReported(ctx.db, chainKey(ctx), [row.key])
  return { task, specDigest, transactionHash: row.txHash!, initialModel: payload.initialModel.digest }
}

/**
 * Cancels a task (the aggregator's account, through the outbox), logged with the
 * outbox row in one transaction.
 */
export async function cancelTask(ctx: FlContext, taskId: number, aggregator: UnlockedIdentity): Promise<{ task: number; transactionHash: Hex | null }> {
  const { aggregator: aggregatorDid } = taskRow(ctx, taskId)
  if (aggregatorDid !== aggregator.did) throw flError('FL_NOT_AGGREGATOR', `${aggregator.name} is not the aggregator of task ${taskId}`)
  const signer = await memberClient(ctx.chain.client, aggregator)
  const write = flCancelEffect.write({ task: taskId }, aggregator.address)
  if (!findOutbox(ctx.db, chainKey(ctx), write)) {
    await simulateWrite(ctx.outbox, write, signer)
    decideWrites(ctx.db, () => {
      logEvent(ctx, { type: 'provena.fl.task-cancelled/v1', actor: aggregator.did, task: taskId })
      enqueueOutbox(ctx.db, chainKey(ctx), write)
    })
  }
  await flushOutbox(ctx.outbox, { signers: [signer] })
  await ctx.anchor()
  return { task: taskId, transactionHash: findOutbox(ctx.db, chainKey(ctx), write)?.txHash ?? null }
}

/** The features and labels of a decrypted record set, in the dataset's column order. */
function toExamples(records: Record<string, unknown>[], columns: string[], subjectColumn: string, label: string, features: number, classes: number, dataset: string) {
  if (!columns.includes(label)) throw flError('FL_BAD_DATA', `dataset ${dataset.slice(0, 12)} has no label column "${label}"`)
  const fcols = columns.filter((c) => c !== subjectColumn && c !== label)
  if (fcols.length !== features) throw flError('FL_BAD_SHAPE', `dataset ${dataset.slice(0, 12)} has ${fcols.length} features, the task's model takes ${features}`)
  const X = records.map((r, i) =>
    Float32Array.from(fcols, (c) => {
      const v = Number(r[c])
      if (!Number.isFinite(v)) throw flError('FL_BAD_DATA', `record ${i} of dataset ${dataset.slice(0, 12)}: ${c} "${String(r[c])}" is not a number`)
      return v
    }),
  )
  const y = Int32Array.from(records, (r) => {
    const c = Number(r[label])
    if (!Number.isInteger(c) || c < 0 || c >= classes) throw flError('FL_BAD_DATA', `label "${String(r[label])}" is not a class 0..${classes - 1}`)
    return c
  })
  return { X, y }
}

/**
 * The consent gate for a client: a training manifest of its dataset for the purpose, now,
 * against the anchored consent map; logged, and stored in the blob store for the aggregator.
 */
export async function gateDataset(ctx: FlContext, purpose: string, datasetId: string, actor: string) {
  const asset = getAsset(ctx.db, datasetId)
  const subjects = datasetSubjects(ctx.db, asset.id)
  if (!subjects) throw flError('FL_NOT_IMPORTED', `dataset ${asset.id.slice(0, 12)} was registered in clear: only imported datasets can be gated by consent`, 'import it: provena dataset import FILE --subject-column COL --as CONTROLLER')
  await ctx.anchor()
  const cp = await readLatestCheckpoint(ctx.chain.client.publicClient, ctx.chain.deployment.CheckpointAnchor)
  if (!cp) throw flError('FL_NOT_ANCHORED', 'no checkpoint is anchored')
  const built = buildManifest(
    ctx,
    { id: asset.id, root: asset.root, controller: subjects.controller, commitments: datasetCommitments(ctx.db, asset.id), subjects: subjects.subjects },
    purpose,
    Date.now(),
    { ...cp, chainId: ctx.chain.client.chainId, checkpointAnchor: ctx.chain.deployment.CheckpointAnchor, assetRegistry: ctx.chain.deployment.AssetRegistry },
  )
  const manifestLog = recordManifest(ctx, built.manifest, built.hash, actor)
  const manifestCid = await ctx.store.put(built.bytes)
  return { built, manifestLog, manifestCid, manifest: { hash: built.hash, cid: manifestCid, samples: built.manifest.included.length } }
}

export interface ClientRunReport {
  task: number
  round: number
  client: string
  dataset: string
  manifest: { hash: string; included: number; excluded: number; logIndex: number }
  update: { digest: string; cid: string; norm: number; samples: number }
  transactionHash: Hex
}

/**
 * One round of a participant: gate its dataset by consent for the task's purpose, train on
 * the included records only, seal the update to the aggregator, commit it on-chain.
 * A refused commitment (not a member, not a participant, round closed, replay) is logged
 * with the contract's reason and thrown.
 */
export async function runClient(ctx: FlContext, taskId: number, datasetId: string, client: UnlockedIdentity, aggregatorIdentity: Identity): Promise<ClientRunReport> {
  const { spec, purpose } = taskRow(ctx, taskId)
  const t = await readTask(ctx, taskId)
  if (t.done) throw flError('FL_TASK_DONE', `task ${taskId} completed all ${t.rounds} rounds`)
  const round = t.round
  // This round's commitment decided by a run that crashed: send it and report it, once.
  const decided = decidedCommit(ctx, taskId, round, client.address)
  if (decided) {
    const r = await finishCommit(ctx, decided, await memberClient(ctx.chain.client, client))
    const run = r.clientRun as Omit<ClientRunReport, 'transactionHash' | 'update'> & { update: Omit<ClientRunReport['update'], 'cid'> }
    return { ...run, update: { ...run.update, cid: r.cid }, transactionHash: r.transactionHash }
  }
  const asset = getAsset(ctx.db, datasetId)
  const gate = await gateDataset(ctx, purpose, asset.id, client.did)
  const { built, manifestLog, manifestCid } = gate
  const included = built.manifest.included.map((r) => r.index)
  if (included.length === 0) throw flError('FL_NO_CONSENTED_RECORDS', `no record of dataset ${asset.id.slice(0, 12)} has consent for ${purpose} now`)

  // Local training on exactly the included records.
  const { columns, subjectColumn, records } = await decryptRecords(ctx, asset.id, client, included)
  const { X, y } = toExamples(records, columns ?? Object.keys(records[0]!).sort(), subjectColumn, spec.label, spec.features, spec.classes, asset.id)
  const shape = modelShape(spec.model, spec.features, spec.classes)
  const globalRow = ctx.db.prepare('SELECT model_cid FROM fl_rounds WHERE chain = ? AND task = ? AND round = ?').pluck().get(chainKey(ctx), taskId, round) as string | undefined
  if (!globalRow) throw flError('FL_NO_GLOBAL_MODEL', `the global model of task ${taskId} round ${round} is not in this data dir`)
  const global = fromSafetensors(shape, await ctx.store.get(globalRow))
  // Inputs standardised with the client's own statistics (they never leave it).
  const Xs = standardise(X, standardisation([featureSums(X, spec.features)]))
  const local = trainLocal(shape, global, Xs, y, taskId * 1_000_003 + round * 101)
  const delta = local.map((v, i) => v - global[i]!)
  const update = toSafetensors(shape, delta, { task: String(taskId), round: String(round), client: client.did, dataset: asset.id })
  const manifest = { hash: built.hash, included: included.length, excluded: built.manifest.excluded.length, logIndex: manifestLog }
  const clientRun = { task: taskId, round, client: client.did, dataset: asset.id, manifest, update: { digest: sha256Hex(update), norm: l2norm(delta), samples: included.length } }
  const submitted = await submitUpdate(ctx, { task: taskId, round, client, aggregator: aggregatorIdentity, dataset: asset.id, update, manifest: { hash: built.hash, cid: manifestCid, samples: included.length }, report: { clientRun } })
  return {
    task: taskId,
    round,
    client: client.did,
    dataset: asset.id,
    manifest,
    update: { digest: submitted.digest, cid: submitted.cid, norm: l2norm(delta), samples: included.length },
    transactionHash: submitted.transactionHash,
  }
}

/**
 * Delivers an update (safetensors bytes) for a round: signed by the client in a DSSE
 * envelope, sealed to the aggregator with HPKE, put in the blob store, and its digest
 * committed on-chain by the client's own account. This is the client protocol; a
 * client written in another language does the same (see src/fl/PROTOCOL.md).
 * `committedDigest` lets tests commit a digest other than the update's.
 */
export async function submitUpdate(
  ctx: FlContext,
  o: {
    task: number
    round: number
    client: UnlockedIdentity
    aggregator: Identity
    dataset: string
    update: Buffer
    manifest: { hash: string; cid: string; samples: number }
    committedDigest?: string
    /** More of the caller's report, kept with the decided write for a rerun to report. */
    report?: Record<string, unknown>
  },
): Promise<{ digest: string; cid: string; transactionHash: Hex }> {
  const { task: taskId, round, client } = o
  const digest = o.committedDigest ?? sha256Hex(o.update)
  const envelope = signDsse(UPDATE_PAYLOAD_TYPE, o.update, client.did, client.signing.privateKey)
  const aad = Buffer.from(`${taskId}:${round}:${client.address.toLowerCase()}`)
  const sealed = sealTo(Buffer.from(o.aggregator.x25519PublicKey, 'hex'), SEAL_INFO, aad, Buffer.from(canonicalJson(envelope), 'utf8'))
  const cid = await ctx.store.put(sealed)
  const member = await memberClient(ctx.chain.client, client)
  const write = flCommitEffect.write(
    { task: taskId, round, client: client.address, updateDigest: digest, sealedDigest: sha256Hex(sealed), samples: o.manifest.samples, manifestHash: o.manifest.hash, report: { digest, cid, ...o.report } },
    client.address,
  )
  // Decided before: by a run that crashed (not reported yet), or the same update again.
  const decided = findOutbox(ctx.db, chainKey(ctx), write)
  if (decided && decided.status !== 'failed' && (!decided.reported || (decided.payload as FlCommitPayload).updateDigest === digest)) return finishCommit(ctx, decided, member)
  try {
    await simulateWrite(ctx.outbox, write, member)
  } catch (e) {
    const reason = isProvenaError(e, 'CHAIN_REVERTED') ? String((e.details as { errorName?: string } | undefined)?.errorName ?? 'reverted') : 'unreachable'
    logEvent(ctx, { type: 'provena.fl.update-refused/v1', actor: client.did, task: taskId, round, dataset: o.dataset, updateDigest: digest, reason })
    await ctx.anchor()
    throw e
  }
  // The local record, its log entry and the commitment's outbox row: one transaction.
  decideWrites(ctx.db, () => {
    ctx.db
      .prepare('INSERT OR REPLACE INTO fl_updates (chain, task, round, client, did, dataset, update_cid, update_digest, manifest_cid, manifest_hash, samples) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(chainKey(ctx), taskId, round, client.address.toLowerCase(), client.did, o.dataset, cid, digest, o.manifest.cid, o.manifest.hash, o.manifest.samples)
    logEvent(ctx, { type: 'provena.fl.update-committed/v1', actor: client.did, task: taskId, round, dataset: o.dataset, updateDigest: digest, manifest: o.manifest.hash, samples: o.manifest.samples })
    enqueueOutbox(ctx.db, chainKey(ctx), write)
  })
  return finishCommit(ctx, findOutbox(ctx.db, chainKey(ctx), write)!, member)
}

/** Sends a decided commitment (and whatever else the client's account has pending), anchors, reports it. */
async function finishCommit(ctx: FlContext, row: OutboxRow, member: ChainClient): Promise<{ digest: string; cid: string; transactionHash: Hex } & Record<string, unknown>> {
  await flushOutbox(ctx.outbox, { signers: [member] })
  await ctx.anchor()
  const sent = findOutbox(ctx.db, chainKey(ctx), { kind: row.kind, payload: row.payload })!
  const report = (sent.payload as FlCommitPayload).report as { digest: string; cid: string }
  markReported(ctx.db, chainKey(ctx), [sent.key])
  return { ...report, transactionHash: sent.txHash! }
}

/**
 * The report of this client's commitment for the open round of `taskId`, already mined
 * and reported (a run between its commitment and its delivery was killed, or the client is
 * asked again): what it committed, to deliver again; never trained again (a second
 * commitment for the round is refused on-chain). Undefined when it has not committed.
 */
export async function committedRun(ctx: FlContext, taskId: number, client: UnlockedIdentity): Promise<ClientRunReport | undefined> {
  const t = await readTask(ctx, taskId)
  if (t.done) return undefined
  const row = listOutboxByKeyPrefix(ctx.db, chainKey(ctx), flCommitEffect.kind, `fl-commit:${taskId}:${t.round}:${client.address.toLowerCase()}`)[0]
  if (!row || row.status !== 'mined' || !row.reported || !row.txHash) return undefined
  const report = (row.payload as FlCommitPayload).report as { digest: string; cid: string; clientRun?: Omit<ClientRunReport, 'transactionHash' | 'update'> & { update: Omit<ClientRunReport['update'], 'cid'> } }
  if (!report.clientRun) return undefined
  return { ...report.clientRun, update: { ...report.clientRun.update, cid: report.cid }, transactionHash: row.txHash }
}

/** A participant's commitment for (task, round) decided by a run that crashed before reporting it. */
function decidedCommit(ctx: FlContext, task: number, round: number, client: Address): OutboxRow | undefined {
  const row = listOutboxByKeyPrefix(ctx.db, chainKey(ctx), flCommitEffect.kind, `fl-commit:${task}:${round}:${client.toLowerCase()}`)[0]
  return row && row.status !== 'failed' && !row.reported ? row : undefined
}

/**
 * Submits an update trained outside Provena (the client protocol of PROTOCOL.md): the
 * manifest must be one this data dir logged for the dataset and the task's purpose; the
 * update is checked for the task's tensor names and shapes before anything is sent.
 */
export async function submitForeignUpdate(ctx: FlContext, o: { task: number; dataset: string; client: UnlockedIdentity; manifest: Buffer; update: Buffer; aggregator?: Identity | undefined }) {
  const { spec, purpose, aggregator } = taskRow(ctx, o.task)
  const t = await readTask(ctx, o.task)
  if (t.done) throw flError('FL_TASK_DONE', `task ${o.task} completed all ${t.rounds} rounds`)
  const asset = getAsset(ctx.db, o.dataset)
  const hash = sha256Hex(o.manifest)
  const logged = ctx.db.prepare('SELECT dataset, purpose FROM consent_manifests WHERE hash = ?').get(hash) as { dataset: string; purpose: string } | undefined
  if (!logged) throw flError('FL_BAD_MANIFEST', 'this training manifest was not produced and logged by provena consent check in this data dir')
  if (logged.dataset !== asset.id || logged.purpose !== purpose) throw flError('FL_BAD_MANIFEST', `the manifest is for dataset ${logged.dataset.slice(0, 12)} and ${logged.purpose}; the task needs ${asset.id.slice(0, 12)} and ${purpose}`)
  const m = JSON.parse(o.manifest.toString('utf8')) as TrainingManifest
  const shape = modelShape(spec.model, spec.features, spec.classes)
  const delta = fromSafetensors(shape, o.update)
  if (!allFinite(delta)) throw flError('FL_BAD_UPDATE', 'the update holds NaN or infinite values')
  const cid = await ctx.store.put(o.manifest)
  const r = await submitUpdate(ctx, { task: o.task, round: t.round, client: o.client, aggregator: o.aggregator ?? findIdentity(ctx.dir, aggregator), dataset: asset.id, update: o.update, manifest: { hash, cid, samples: m.included.length } })
  return { task: o.task, round: t.round, samples: m.included.length, ...r }
}

export interface RoundReport {
  task: number
  round: number
  accepted: { client: string; did: string; dataset: string; samples: number; manifest: string }[]
  rejected: { client: string; reason: number; reasonName: string; detail: string }[]
  dropped: string[]
  aggregateDigest: string
  aggregation: AggregationRule
  dp: { noiseMultiplier: number; epsilonSpent: number } | null
  transactionHash: Hex
  done: boolean
  model?: { id: string; path: string; logIndex: number }
}

/**
 * The aggregator's round: verifies every committed update (digest, member signature,
 * shape, finite values, norm bound, manifest against the anchored roots), aggregates the
 * accepted ones, publishes the new global model and finalises the round on-chain with the
 * rejected clients and their reason codes. After the last round registers the model with
 * its lineage.
 */
export async function aggregateRound(ctx: FlContext, taskId: number, aggregator: UnlockedIdentity, identities: Pick<Identity, 'did' | 'address'>[], source?: UpdateSource): Promise<RoundReport> {
  const { spec, purpose, aggregator: aggregatorDid } = taskRow(ctx, taskId)
  if (aggregatorDid !== aggregator.did) throw flError('FL_NOT_AGGREGATOR', `${aggregator.name} is not the aggregator of task ${taskId}`)
  const signer = await memberClient(ctx.chain.client, aggregator)
  // A round decided by a run that crashed (not sent, or the final model not registered): finish it, once.
  const unfinished = unfinishedRound(ctx, taskId)
  if (unfinished) return finishRound(ctx, unfinished, signer, purpose, spec)
  const t = await readTask(ctx, taskId)
  if (t.done) throw flError('FL_TASK_DONE', `task ${taskId} completed all ${t.rounds} rounds`)
  const round = t.round
  const pc = ctx.chain.client.publicClient
  const fl = ctx.chain.deployment.FederatedTraining
  const committers = (await pc.readContract({ address: fl, abi: FederatedTrainingAbi, functionName: 'committersOf', args: [BigInt(taskId), round] })) as Address[]
  const participants = (await pc.readContract({ address: fl, abi: FederatedTrainingAbi, functionName: 'participantsOf', args: [BigInt(taskId)] })) as Address[]
  const shape = modelShape(spec.model, spec.features, spec.classes)
  const globalCid = ctx.db.prepare('SELECT model_cid FROM fl_rounds WHERE chain = ? AND task = ? AND round = ?').pluck().get(chainKey(ctx), taskId, round) as string
  const global = fromSafetensors(shape, await ctx.store.get(globalCid))

  const accepted: (RoundReport['accepted'][number] & { sealedCid: string; updateDigest: string; update: ClientUpdate })[] = []
  const rejected: RoundReport['rejected'] = []
  for (const address of committers) {
    const c = (await pc.readContract({ address: fl, abi: FederatedTrainingAbi, functionName: 'commitmentOf', args: [BigInt(taskId), round, address] })) as {
      updateDigest: Hex
      sealedDigest: Hex
      manifestHash: Hex
      samples: bigint
    }
    const reject = (reason: number, detail: string) => rejected.push({ client: address, reason, reasonName: REASON_NAMES[reason]!, detail })
    // Everything is found from the chain: the sealed file and the manifest by content address.
    const who = identities.find((i) => i.address.toLowerCase() === address.toLowerCase())
    if (!who) {
      reject(REJECT.badSignature, 'the committing account is not a known member identity')
      continue
    }
    const sealedCid = cidFromDigest(Buffer.from(c.sealedDigest.slice(2), 'hex'))
    let payload: Buffer
    try {
      let sealed: Buffer
      if (source) {
        // Another node's file: it must be the sealed update the client committed to.
        const got = source.sealed(address)
        if (!got) {
          reject(REJECT.missingUpdate, 'no sealed update was delivered to the exchange')
          continue
        }
        if (sha256Hex(got) !== c.sealedDigest.slice(2)) {
          reject(REJECT.digestMismatch, `the sealed update delivered hashes to ${sha256Hex(got).slice(0, 16)}…, the commitment's sealed digest is ${c.sealedDigest.slice(2, 18)}…`)
          continue
        }
        await ctx.store.put(got)
        sealed = got
      } else sealed = await ctx.store.get(sealedCid)
      const opened = openWith(aggregator.x25519PrivateKey, SEAL_INFO, Buffer.from(`${taskId}:${round}:${address.toLowerCase()}`), sealed)
      const envelope = JSON.parse(opened.toString('utf8')) as DsseEnvelope
      if (envelope.payloadType !== UPDATE_PAYLOAD_TYPE) throw new Error(`payload type ${envelope.payloadType}`)
      payload = verifyDsse(envelope, ed25519FromDidKey(who.did))
    } catch (e) {
      reject(isProvenaError(e, 'STORE_MISSING_BLOCK') ? REJECT.missingUpdate : REJECT.badSignature, (e as Error).message)
      continue
    }
    if (sha256Hex(payload) !== c.updateDigest.slice(2)) {
      reject(REJECT.digestMismatch, `the update hashes to ${sha256Hex(payload).slice(0, 16)}…, the commitment says ${c.updateDigest.slice(2, 18)}…`)
      continue
    }
    let delta: Float32Array
    try {
      delta = fromSafetensors(shape, payload)
    } catch (e) {
      reject(REJECT.badShape, (e as Error).message)
      continue
    }
    if (!allFinite(delta)) {
      reject(REJECT.nonFinite, 'the update holds NaN or infinite values')
      continue
    }
    const norm = l2norm(delta)
    if (norm > spec.maxUpdateNorm) {
      reject(REJECT.normExceeded, `L2 norm ${norm.toPrecision(4)} exceeds the task's bound ${spec.maxUpdateNorm}`)
      continue
    }
    const manifestHash = c.manifestHash.slice(2)
    const checked = await checkManifest(ctx, manifestHash, purpose, who.did, Number(c.samples), source?.manifest(address))
    if ('problem' in checked) {
      reject(REJECT.badManifest, checked.problem)
      continue
    }
    accepted.push({
      client: address,
      did: who.did,
      dataset: checked.dataset,
      samples: Number(c.samples),
      manifest: manifestHash,
      sealedCid,
      updateDigest: c.updateDigest.slice(2),
      update: { delta, samples: Number(c.samples) },
    })
  }
  if (accepted.length === 0) throw flError('FL_NO_VALID_UPDATE', `no valid update in round ${round} of task ${taskId}: ${rejected.map((r) => `${r.client} ${r.reasonName}`).join('; ') || 'nothing committed'}`)

  // Aggregate the accepted updates.
  let agg: Float32Array
  let used = accepted
  let dp: RoundReport['dp'] = null
  if (spec.dp) {
    const z = noiseMultiplierFor(spec.dp.epsilon, spec.dp.delta, t.rounds)
    agg = dpFedAvg(
      accepted.map((a) => a.update),
      spec.dp.clip,
      z,
    )
    dp = { noiseMultiplier: z, epsilonSpent: epsilonOf(z, round, spec.dp.delta).epsilon }
  } else {
    const r = aggregate(spec.aggregation, accepted.map((a) => a.update))
    agg = r.aggregate
    if (r.selected) {
      used = r.selected.map((i) => accepted[i]!)
      for (const [i, a] of accepted.entries()) if (!r.selected.includes(i)) rejected.push({ client: a.client, reason: REJECT.outlier, reasonName: 'outlier', detail: 'left out by Krum' })
    }
  }
  const next = global.map((v, i) => v + agg[i]!)
  const model = toSafetensors(shape, next, { task: String(taskId), round: String(round) })
  const modelDigest = sha256Hex(model)
  const modelCid = await ctx.store.put(model)
  const acceptedAddrs = used.map((a) => a.client)
  const dropped = participants.filter((p) => !committers.some((c) => c.toLowerCase() === p.toLowerCase()))
  const done = round === t.rounds
  const report: Omit<RoundReport, 'transactionHash'> = {
    task: taskId,
    round,
    accepted: used.map(({ update: _u, sealedCid: _s, updateDigest: _d, ...a }) => a),
    rejected,
    dropped,
    aggregateDigest: modelDigest,
    aggregation: spec.dp ? 'fedavg' : spec.aggregation,
    dp,
    done,
  }
  const write = flFinalizeEffect.write(
    { task: taskId, round, aggregateDigest: modelDigest, accepted: acceptedAddrs as Address[], rejected: rejected.map((r) => r.client as Address), reasons: rejected.map((r) => r.reason), modelCid, report },
    aggregator.address,
  )
  await simulateWrite(ctx.outbox, write, signer)
  // The round's records, its log entry and the finalisation's outbox row: one transaction.
  decideWrites(ctx.db, () => {
    const record = ctx.db.prepare(
      'INSERT OR REPLACE INTO fl_updates (chain, task, round, client, did, dataset, update_cid, update_digest, manifest_cid, manifest_hash, samples, accepted) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)',
    )
    for (const a of used) record.run(chainKey(ctx), taskId, round, a.client.toLowerCase(), a.did, a.dataset, a.sealedCid, a.updateDigest, cidFromDigest(Buffer.from(a.manifest, 'hex')), a.manifest, a.samples)
    if (!done) ctx.db.prepare('INSERT OR REPLACE INTO fl_rounds (chain, task, round, model_cid, model_digest) VALUES (?, ?, ?, ?, ?)').run(chainKey(ctx), taskId, round + 1, modelCid, modelDigest)
    logEvent(ctx, { type: 'provena.fl.round/v1', actor: aggregator.did, ...report })
    enqueueOutbox(ctx.db, chainKey(ctx), write)
  })
  return finishRound(ctx, findOutbox(ctx.db, chainKey(ctx), write)!, signer, purpose, spec)
}

/**
 * The task's newest decided finalisation if a crash left it unfinished: not mined yet,
 * or the last round's, with the final model not registered.
 */
function unfinishedRound(ctx: FlContext, taskId: number): OutboxRow | undefined {
  const last = listOutboxByKeyPrefix(ctx.db, chainKey(ctx), flFinalizeEffect.kind, `fl-finalize:${taskId}:`).at(-1)
  if (!last || last.status === 'failed') return undefined
  if (!last.reported) return last
  const model = ctx.db.prepare('SELECT model FROM fl_tasks WHERE chain = ? AND task = ?').pluck().get(chainKey(ctx), taskId) as string | null
  return ((last.payload as FlFinalizePayload).report as { done: boolean }).done && !model ? last : undefined
}

/** Sends a decided finalisation, registers the final model after the last round, anchors, reports. */
async function finishRound(ctx: FlContext, row: OutboxRow, signer: ChainClient, purpose: string, spec: TaskSpec): Promise<RoundReport> {
  await flushOutbox(ctx.outbox, { signers: [signer] })
  const sent = findOutbox(ctx.db, chainKey(ctx), { kind: row.kind, payload: row.payload })!
  const payload = sent.payload as FlFinalizePayload
  const report = { ...(payload.report as Omit<RoundReport, 'transactionHash'>), transactionHash: sent.txHash! } as RoundReport
  if (report.done) report.model = await registerFinalModel(ctx, report.task, await ctx.store.get(payload.modelCid), purpose, spec)
  await ctx.anchor()
  markReported(ctx.db, chainKey(ctx), [sent.key])
  return report
}

/**
 * Checks a client's manifest, found by its hash: its purpose, that its dataset is the
 * client's own (the client is its controller), its count, and the manifest itself against
 * the chain (anchored checkpoint, registered dataset root). Returns its dataset or the problem.
 */
async function checkManifest(ctx: FlContext, hash: string, purpose: string, client: string, samples: number, delivered?: Buffer): Promise<{ dataset: string } | { problem: string }> {
  let bytes: Buffer
  if (delivered) {
    if (sha256Hex(delivered) !== hash) return { problem: `the training manifest delivered hashes to ${sha256Hex(delivered).slice(0, 16)}…, the commitment says ${hash.slice(0, 16)}…` }
    bytes = delivered
    await ctx.store.put(bytes)
  } else {
    try {
      bytes = await ctx.store.get(cidFromDigest(Buffer.from(hash, 'hex')))
    } catch (e) {
      return { problem: `the training manifest is not in the store: ${(e as Error).message}` }
    }
  }
  let m: TrainingManifest
  try {
    m = JSON.parse(bytes.toString('utf8')) as TrainingManifest
  } catch {
    return { problem: 'the training manifest is not JSON' }
  }
  if (m.purpose?.id !== purpose) return { problem: `the manifest is for purpose ${m.purpose?.id}, the task's is ${purpose}` }
  if (m.controller !== client) return { problem: "the manifest is for another controller's dataset" }
  if (m.included?.length !== samples) return { problem: `the manifest includes ${m.included?.length} records, the commitment claims ${samples} samples` }
  // The anchor and registry are the pinned ones of the client's log, never the manifest's own.
  if (ctx.trustRoots) {
    try {
      checkManifestTrust(m, ctx.trustRoots)
    } catch (e) {
      if (!isProvenaError(e, 'CONSENT_MANIFEST_UNTRUSTED')) throw e
      return { problem: `untrusted training manifest: ${e.message}` }
    }
  }
  const pc = ctx.chain.client.publicClient
  const report = verifyManifest(m, {
    checkpoint: await readCheckpointAt(pc, m.chain.checkpointAnchor as Address, m.checkpoint.index),
    datasetRoot: await readAssetRoot(pc, m.chain.assetRegistry as Address, m.dataset.id),
  })
  return report.ok ? { dataset: m.dataset.id } : { problem: `the training manifest does not verify: ${report.problems[0]}` }
}

/** Registers the final model with lineage: the datasets and, per round, who and which manifests. */
async function registerFinalModel(ctx: FlContext, taskId: number, model: Buffer, purpose: string, spec: TaskSpec): Promise<{ id: string; path: string; logIndex: number }> {
  const rows = ctx.db.prepare('SELECT round, did, dataset, manifest_hash, update_digest, samples FROM fl_updates WHERE chain = ? AND task = ? AND accepted = 1 ORDER BY round, did').all(chainKey(ctx), taskId) as {
    round: number
    did: string
    dataset: string
    manifest_hash: string
    update_digest: string
    samples: number
  }[]
  const rounds = ctx.db.prepare('SELECT round, model_digest FROM fl_rounds WHERE chain = ? AND task = ? ORDER BY round').all(chainKey(ctx), taskId) as { round: number; model_digest: string }[]
  const dir = join(ctx.dir, 'fl')
  mkdirSync(dir, { recursive: true })
  const path = join(dir, `task-${taskId}.safetensors`)
  writeFileSync(path, model)
  // Datasets of this node, and of clients' nodes (their roots as registered on-chain: the manifests were checked against them).
  const datasets = [...new Set(rows.map((r) => r.dataset))]
  const roots = new Map<string, string>()
  const elsewhere: { id: string; name: string; root: string }[] = []
  for (const id of datasets) {
    const local = ctx.db.prepare('SELECT root FROM registry_assets WHERE id = ?').pluck().get(id) as string | undefined
    if (local) roots.set(id, local)
    else {
      const root = (await readAssetRoot(ctx.chain.client.publicClient, ctx.chain.deployment.AssetRegistry, id))?.toString('hex')
      if (!root) throw flError('FL_UNKNOWN_DATASET', `dataset ${id.slice(0, 12)} of the task's lineage is not registered in AssetRegistry ${ctx.chain.deployment.AssetRegistry}`)
      roots.set(id, root)
      elsewhere.push({ id, name: `dataset ${id.slice(0, 12)} (${rows.find((r) => r.dataset === id)!.did})`, root })
    }
  }
  const r = await registerModel(ctx, path, {
    trainedOn: datasets.filter((d) => !elsewhere.some((e) => e.id === d)),
    trainedOnElsewhere: elsewhere,
    name: `fl-task-${taskId}.safetensors`,
    parameters: {
      federatedTask: { chain: chainKey(ctx), contract: ctx.chain.deployment.FederatedTraining, task: taskId, purpose, spec },
      rounds: rounds.map((x) => ({
        round: x.round,
        startModel: x.model_digest,
        clients: rows.filter((u) => u.round === x.round).map((u) => ({ client: u.did, dataset: u.dataset, datasetRoot: roots.get(u.dataset)!, manifest: u.manifest_hash, update: u.update_digest, samples: u.samples })),
      })),
    },
  })
  ctx.db.prepare('UPDATE fl_tasks SET model = ? WHERE chain = ? AND task = ?').run(r.id, chainKey(ctx), taskId)
  return { id: r.id, path, logIndex: r.logIndex }
}

/** The task's state: on-chain, with this data dir's records. */
export async function taskStatus(ctx: FlContext, taskId: number) {
  const { spec, purpose, aggregator, participants } = taskRow(ctx, taskId)
  const t = await readTask(ctx, taskId)
  const pc = ctx.chain.client.publicClient
  const fl = ctx.chain.deployment.FederatedTraining
  const committed = t.done ? [] : ((await pc.readContract({ address: fl, abi: FederatedTrainingAbi, functionName: 'committersOf', args: [BigInt(taskId), t.round] })) as Address[])
  const deadline = t.roundStartedAt + t.roundTimeout
  const models = ctx.db.prepare('SELECT round, model_digest FROM fl_rounds WHERE chain = ? AND task = ? ORDER BY round').all(chainKey(ctx), taskId) as { round: number; model_digest: string }[]
  return {
    task: taskId,
    purpose,
    aggregator,
    participants: participants.map((did) => ({ did, address: findIdentitySafe(ctx, did) })),
    spec,
    rounds: t.rounds,
    round: t.done ? t.rounds : t.round,
    done: t.done,
    minClients: t.minClients,
    committedThisRound: committed,
    roundDeadline: t.done ? null : new Date(deadline * 1000).toISOString(),
    finalModel: t.done ? t.finalModel.slice(2) : null,
    models,
  }
}

function findIdentitySafe(ctx: FlContext, did: string): string | null {
  try {
    return findIdentity(ctx.dir, did).address
  } catch {
    return null
  }
}

/**
 * The federated tasks whose accepted updates were trained on the given training manifests:
 * task, round, manifest and, once the task completed, its registered model.
 */
export function tasksTrainedOn(db: FlContext['db'], manifestHashes: readonly string[]): { task: number; round: number; manifest: string; model: string | null }[] {
  const q = db.prepare(
    'SELECT u.task, u.round, u.manifest_hash, t.model FROM fl_updates u JOIN fl_tasks t ON t.chain = u.chain AND t.task = u.task WHERE u.manifest_hash = ? AND u.accepted = 1 ORDER BY u.task, u.round',
  )
  return manifestHashes.flatMap((h) =>
    (q.all(h) as { task: number; round: number; manifest_hash: string; model: string | null }[]).map((r) => ({ task: r.task, round: r.round, manifest: r.manifest_hash, model: r.model })),
  )
}
