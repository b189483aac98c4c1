// Federated learning across nodes (issue 12): the coordinator's node and each hospital's
// node hand each other files through an exchange directory (src/fl/exchange.ts,
// src/fl/PROTOCOL.md §4). The coordinator publishes the task as a message signed by the
// aggregator's did:key and each round's global model; a client checks both against its
// pinned consortium and the chain, trains on its own node and delivers its sealed update
// and training manifest; the aggregator checks those against the client's on-chain
// commitment and its pinned log. No secret crosses: the update is sealed to the
// aggregator's pinned X25519 key.
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { Address } from 'viem'
import { findIdentity, listIdentities, purposeId, unlockIdentity, type Identity, type UnlockedIdentity } from '../access/index.js'
import { manifestTrustRoots, trustRootsOf } from './consortium.js'
import { faultPoint, FederatedTrainingAbi } from '../chain/index.js'
import { canonicalJsonBytes, sha256Hex } from '../crypto/index.js'
import { ProvenaError } from '../errors.js'
import {
  aggregateRound,
  createTask,
  parseModelSpec,
  type AggregationRule,
  readTask,
  runClient,
  committedRun,
  submitForeignUpdate,
  type ClientRunReport,
  type FlContext,
  type FlRoundReport,
  type TaskSpec,
} from '../fl/index.js'
import { directoryExchange, exchangePaths, FL_TASK_MESSAGE, readExchangeFile, type FlExchange, type FlExchangeDirectory, type FlTaskMessageBody } from '../fl/exchange.js'
import { dbNonceTable, nodeBaseUrl, signMessage, verifyMessage, type ConsortiumMember, type HttpSigningKey } from '../node/index.js'
import { answerBytes, remoteError, sendSigned } from '../node/httpTransport.js'
import { cidFromDigest } from '../store/index.js'
import { flContext, type ChainSession, type Provena } from '../app/index.js'
import type { BlobStore } from '../store/index.js'

/** A task message stays valid this long (it is read at every round). */
export const TASK_MESSAGE_TTL_MS = 30 * 24 * 3_600_000

const lower = (a: string) => a.toLowerCase()
/** An exchange directory given by path, or any exchange. */
const asExchange = <E extends FlExchange>(x: string | E): E | FlExchangeDirectory => (typeof x === 'string' ? directoryExchange(x) : x)
const flError = (code: string, message: string, hint?: string) => new ProvenaError(code, message, hint ? { hint } : {})

/** The members this node trusts: the pinned consortium's, or a lone node's own identities. */
export function flMembers(p: Provena, ctx: FlContext): ConsortiumMember[] {
  return trustRootsOf(p, ctx.chain.deployment).members
}

/** A participant named by identity name or DID: one of this node's, else a pinned member. */
export function resolveParticipant(p: Provena, ctx: FlContext, nameOrDid: string): Pick<Identity, 'did' | 'address'> & { name: string } {
  const own = listIdentities(p.dir).find((i) => i.name === nameOrDid || i.did === nameOrDid)
  if (own) return own
  const m = flMembers(p, ctx).find((x) => x.name === nameOrDid || x.did === nameOrDid)
  if (m) return { name: m.name, did: m.did, address: m.address as Address }
  return findIdentity(p.dir, nameOrDid) // throws naming it
}

/**
 * `fl task create --exchange DIR`: creates the task on-chain (as createTask) and publishes,
 * for each participant, the task as a message signed by the aggregator, and round 1's
 * global model.
 */
export async function createTaskAcrossNodes(
  p: Provena,
  ctx: FlContext,
  aggregator: UnlockedIdentity,
  o: { spec: TaskSpec; purpose: string; participants: string[]; rounds: number; minClients: number; roundTimeout: number; exchange: string | FlExchangeDirectory },
) {
  const participants = o.participants.map((n) => resolveParticipant(p, ctx, n))
  const r = await createTask(ctx, aggregator, { ...o, participants: participants as Identity[] })
  const published = await publishTask(p, ctx, aggregator, r.task, o.exchange)
  return { ...r, exchange: asExchange(o.exchange).where, published }
}

/** Writes the task messages and the current global model of `task` to the exchange (again: same content). */
export async function publishTask(p: Provena, ctx: FlContext, aggregator: UnlockedIdentity, task: number, exchange: string | FlExchangeDirectory): Promise<string[]> {
  const row = ctx.db.prepare('SELECT spec, purpose, aggregator, participants FROM fl_tasks WHERE chain = ? AND task = ?').get(ctx.chain.client.chainKey, task) as
    | { spec: string; purpose: string; aggregator: string; participants: string }
    | undefined
  if (!row) throw flError('FL_UNKNOWN_TASK', `no federated task ${task} on this chain in this data dir`)
  if (row.aggregator !== aggregator.did) throw flError('FL_NOT_AGGREGATOR', `${aggregator.name} is not the aggregator of task ${task}`)
  const onChain = await readTask(ctx, task)
  const members = flMembers(p, ctx)
  const dids = JSON.parse(row.participants) as string[]
  const participants = dids.map((did) => {
    const m = members.find((x) => x.did === did) ?? listIdentities(p.dir).find((i) => i.did === did)
    if (!m) throw flError('FL_UNKNOWN_PARTICIPANT', `participant ${did} of task ${task} is not a member this node pins`)
    return { did, address: lower(m.address) }
  })
  const rounds = ctx.db.prepare('SELECT round, model_cid, model_digest FROM fl_rounds WHERE chain = ? AND task = ? ORDER BY round').all(ctx.chain.client.chainKey, task) as { round: number; model_cid: string; model_digest: string }[]
  const body: FlTaskMessageBody = {
    task,
    chainId: ctx.chain.client.chainId,
    federatedTraining: lower(ctx.chain.deployment.FederatedTraining),
    specDigest: sha256Hex(Buffer.from(row.spec, 'utf8')),
    spec: JSON.parse(row.spec) as Record<string, unknown>,
    aggregator: { did: aggregator.did, address: lower(aggregator.address), x25519: aggregator.x25519PublicKey },
    participants,
    rounds: onChain.rounds,
    initialModel: rounds[0]!.model_digest,
  }
  const x = asExchange(exchange)
  const written: string[] = []
  for (const to of participants) {
    const { envelope } = signMessage(aggregator, { _type: FL_TASK_MESSAGE, to: to.did, purpose: row.purpose, body }, { ttlMs: TASK_MESSAGE_TTL_MS })
    written.push(x.putTaskMessage(task, to.address, envelope))
  }
  const current = rounds.at(-1)!
  if (!onChain.done) written.push(x.putGlobalModel(task, onChain.round, await ctx.store.get(current.model_cid)))
  return written
}

/** The aggregate digest RoundFinalized recorded on-chain for (task, round), hex. */
async function finalizedDigest(ctx: FlContext, task: number, round: number): Promise<string | undefined> {
  const events = await ctx.chain.client.publicClient.getContractEvents({
    address: ctx.chain.deployment.FederatedTraining,
    abi: FederatedTrainingAbi,
    eventName: 'RoundFinalized',
    args: { task: BigInt(task), round },
    fromBlock: ctx.chain.deployment.fromBlock,
    toBlock: 'latest',
  })
  const last = events.at(-1) as { args: { aggregateDigest?: string } } | undefined
  return last?.args.aggregateDigest?.slice(2)
}

/**
 * A client's side of reading the exchange: the task message addressed to `client`, checked
 * (signature of a pinned member, who is the task's aggregator on-chain; recipient; time;
 * spec digest and purpose as on-chain; this chain and FederatedTraining), and the open
 * round's global model (its SHA-256 the task message's initial model for round 1, else the
 * round before's aggregateDigest on-chain). Records both in this node's database.
 */
export async function importTaskFromExchange(p: Provena, ctx: FlContext, task: number, client: Identity, exchange: string | FlExchange): Promise<{ aggregator: Identity; round: number }> {
  const x = asExchange(exchange)
  const members = flMembers(p, ctx)
  const own = new Set(listIdentities(p.dir).map((i) => i.did))
  const m = verifyMessage<FlTaskMessageBody>(await x.taskMessage(task, client.address), {
    type: FL_TASK_MESSAGE,
    isOwn: (did) => own.has(did),
    isMember: (did) => members.some((x) => x.did === did),
    nonces: dbNonceTable(ctx.db),
    // A publication read at every round: its nonce is checked, never spent.
    recordNonce: false,
  })
  const refuse = (what: string) =>
    flError('FL_TASK_MISMATCH', `the task message ${x.taskMessageAt(task, client.address)} ${what}: refused`, 'ask the coordinator to publish the task again (provena fl task publish)')
  if (m.to !== client.did) throw refuse(`is addressed to ${m.to}, not ${client.did}`)
  const t = await readTask(ctx, task)
  const sender = members.find((x) => x.did === m.from)!
  if (lower(sender.address) !== lower(t.aggregator)) throw refuse(`is signed by ${m.from} (${sender.name}), not by the task's aggregator on-chain ${t.aggregator}`)
  if (m.task !== task || m.chainId !== ctx.chain.client.chainId || lower(m.federatedTraining) !== lower(ctx.chain.deployment.FederatedTraining)) {
    throw refuse(`is for task ${m.task} of FederatedTraining ${m.federatedTraining} on chain ${m.chainId}, not task ${task} of the pinned ${ctx.chain.deployment.FederatedTraining}`)
  }
  const specBytes = canonicalJsonBytes(m.spec)
  if (sha256Hex(specBytes) !== m.specDigest || `0x${m.specDigest}` !== lower(t.specDigest)) throw refuse(`holds a spec hashing to ${sha256Hex(specBytes).slice(0, 16)}…, the task's on-chain spec digest is ${t.specDigest.slice(2, 18)}…`)
  if (lower(purposeId(m.purpose)) !== lower(t.purpose)) throw refuse(`is for purpose ${m.purpose}, not the task's on-chain purpose`)
  if (sender.x25519 !== m.aggregator.x25519) throw refuse(`names an X25519 key for the aggregator other than the one this node pins for ${sender.name}`)
  if (t.done) throw flError('FL_TASK_DONE', `task ${task} completed all ${t.rounds} rounds`)
  const round = t.round
  const model = await x.globalModel(task, round)
  if (!model) throw flError('FL_NO_GLOBAL_MODEL', `the global model of task ${task} round ${round} is not in the exchange (${x.globalModelAt(task, round)})`, 'the coordinator writes it when it aggregates the round before')
  const want = round === 1 ? m.initialModel : await finalizedDigest(ctx, task, round - 1)
  if (sha256Hex(model) !== want) {
    throw flError('FL_MODEL_MISMATCH', `the global model ${x.globalModelAt(task, round)} hashes to ${sha256Hex(model).slice(0, 16)}…, ${round === 1 ? "the task message's initial model" : `the aggregate of round ${round - 1} on-chain`} is ${want?.slice(0, 16)}…: refused`)
  }
  const chain = ctx.chain.client.chainKey
  const cid = await ctx.store.put(model)
  ctx.db.transaction(() => {
    const known = ctx.db.prepare('SELECT 1 FROM fl_tasks WHERE chain = ? AND task = ?').get(chain, task)
    if (!known) {
      const logIndex = ctx.log.append([
        canonicalJsonBytes({ type: 'provena.fl.task-joined/v1', actor: client.did, task, chain, aggregator: m.from, specDigest: m.specDigest, purpose: m.purpose, time: new Date().toISOString() }),
      ])
      ctx.db
        .prepare('INSERT INTO fl_tasks (chain, task, spec, purpose, aggregator, participants, log_index, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
        .run(chain, task, specBytes.toString('utf8'), m.purpose, m.from, JSON.stringify(m.participants.map((x) => x.did)), logIndex, Date.now())
    }
    ctx.db.prepare('INSERT OR REPLACE INTO fl_rounds (chain, task, round, model_cid, model_digest) VALUES (?, ?, ?, ?, ?)').run(chain, task, round, cid, sha256Hex(model))
  })()
  const aggregator: Identity = { name: sender.name, role: sender.role, did: sender.did, address: sender.address as Address, x25519PublicKey: sender.x25519, createdAt: '' }
  return { aggregator, round }
}

/**
 * `fl client run --exchange DIR` on a participant's node: reads and checks the task and the
 * round's global model, gates its own dataset, trains, seals the update to the aggregator's
 * pinned key, commits on-chain from its own account (outbox), and writes the sealed update
 * and its training manifest to the exchange.
 */
export async function runClientAcrossNodes(p: Provena, ctx: FlContext, o: { task: number; dataset: string; client: UnlockedIdentity; exchange: string | FlExchange }): Promise<ClientRunReport & { exchange: string[] }> {
  const x = asExchange(o.exchange)
  const { aggregator } = await importTaskFromExchange(p, ctx, o.task, o.client, x)
  // Committed already for this round (a run killed before its delivery, or asked again): delivered again as committed.
  const r = (await committedRun(ctx, o.task, o.client)) ?? (await runClient(ctx, o.task, o.dataset, o.client, aggregator))
  faultPoint('fl:before-delivery')
  return { ...r, exchange: await deliverUpdate(ctx, o.task, r.round, o.client.address, x) }
}

/**
 * `fl client submit --exchange DIR`: an update trained elsewhere (PROTOCOL.md §2), for a
 * task read from the exchange; committed as submitForeignUpdate does and delivered there.
 */
export async function submitAcrossNodes(p: Provena, ctx: FlContext, o: { task: number; dataset: string; client: UnlockedIdentity; manifest: Buffer; update: Buffer; exchange: string | FlExchange }) {
  const x = asExchange(o.exchange)
  const { aggregator } = await importTaskFromExchange(p, ctx, o.task, o.client, x)
  const r = await submitForeignUpdate(ctx, { ...o, aggregator })
  return { ...r, exchange: await deliverUpdate(ctx, o.task, r.round, o.client.address, x) }
}

/** Writes this node's sealed update and training manifest of (task, round) to the exchange. */
async function deliverUpdate(ctx: FlContext, task: number, round: number, client: string, exchange: FlExchange): Promise<string[]> {
  const row = ctx.db.prepare('SELECT update_cid, manifest_hash FROM fl_updates WHERE chain = ? AND task = ? AND round = ? AND client = ?').get(ctx.chain.client.chainKey, task, round, lower(client)) as
    | { update_cid: string; manifest_hash: string }
    | undefined
  if (!row) throw flError('FL_NO_UPDATE', `no update of ${client} for task ${task} round ${round} in this data dir`)
  return exchange.putUpdate(task, round, lower(client), await ctx.store.get(row.update_cid), await ctx.store.get(cidFromDigest(Buffer.from(row.manifest_hash, 'hex'))))
}

/**
 * `fl aggregate --exchange DIR` on the coordinator's node: each committer's sealed update
 * and manifest are read from the exchange and checked against its on-chain commitment, the
 * manifest against the client's pinned log and the pinned AssetRegistry; the round is
 * aggregated and finalised (outbox); the next global model (or the final one) is written
 * to the exchange. The members are the pinned consortium's.
 */
export async function aggregateAcrossNodes(p: Provena, ctx: FlContext, o: { task: number; aggregator: UnlockedIdentity; exchange: string | FlExchangeDirectory }): Promise<FlRoundReport & { exchange: string[] }> {
  const x = asExchange(o.exchange)
  const round = (await readTask(ctx, o.task)).round
  // The aggregator's own directory, read as the checks go (a missing file is a missingUpdate, an altered one a digestMismatch).
  const paths = exchangePaths(x.root, o.task)
  const r = await aggregateRound(ctx, o.task, o.aggregator, flMembers(p, ctx), {
    sealed: (client) => readExchangeFile(paths.sealedUpdate(round, client)),
    manifest: (client) => readExchangeFile(paths.manifest(round, client)),
  })
  const model = await ctx.store.get(cidFromDigest(Buffer.from(r.aggregateDigest, 'hex')))
  const out = r.done ? x.putFinalModel(o.task, model) : x.putGlobalModel(o.task, r.round + 1, model)
  return { ...r, exchange: [out] }
}

// ---- Over HTTP (issue 13): the coordinator's node serves its exchange directory ----

/** The exchange directory a node keeps under its data dir: what its `provena serve` serves and aggregates from. */
export const nodeExchangeDir = (dataDir: string) => join(dataDir, 'fl-exchange')

/**
 * Largest PUT of an update (its JSON body: the sealed update and the manifest in base64).
 * An MLP of 64 hidden units on 784 features is ~200 KB of float32, ~360 KB sealed and
 * encoded twice; 64 MiB leaves room for models a hundred times larger.
 */
export const FL_UPDATE_BODY_LIMIT = 64 * 2 ** 20

/** The FL context of a served node: its manifests checked against its own trust roots. */
export function flNodeContext(p: Provena, chain: ChainSession, store: BlobStore): FlContext {
  return { ...flContext(p, chain, store), trustRoots: manifestTrustRoots(trustRootsOf(p, chain.deployment), p.consortium ? "this node's consortium" : `this node (${p.dir})`) }
}

/**
 * The coordinator's node's exchange as a client reaches it over HTTP (src/api/routes/fl.ts):
 * every request signed (RFC 9421) with `key`, the participant's did:key. What comes back is
 * checked as a file from a directory would be (importTaskFromExchange); the coordinator
 * checks what is put.
 */
export function httpExchange(coordinatorUrl: string, key: HttpSigningKey): FlExchange {
  const base = nodeBaseUrl(coordinatorUrl)
  const get = async (path: string, what: string, absent: string): Promise<Buffer | undefined> => {
    const res = await sendSigned(`${base}${path}`, { method: 'GET' }, key, what)
    if (res.status === 404) {
      const problem = (await res.json().catch(() => ({}))) as { code?: unknown }
      if (problem.code === absent) return undefined
      throw await remoteError(new Response(JSON.stringify(problem), { status: 404 }), what)
    }
    if (!res.ok) throw await remoteError(res, what)
    return answerBytes(res, what)
  }
  return {
    where: base,
    async taskMessage(task) {
      const what = `task ${task} from ${base}`
      const bytes = await get(`/v1/fl/tasks/${task}`, what, '')
      const answer = JSON.parse(bytes!.toString('utf8')) as { message?: unknown }
      if (answer.message === undefined) throw new ProvenaError('NODE_REMOTE_REFUSED', `${what}: the answer holds no "message"`)
      return answer.message
    },
    taskMessageAt: (task) => `${base}/v1/fl/tasks/${task}`,
    globalModel: (task, round) => get(`/v1/fl/tasks/${task}/rounds/${round}/model`, `the global model of task ${task} round ${round} from ${base}`, 'FL_NO_GLOBAL_MODEL'),
    globalModelAt: (task, round) => `${base}/v1/fl/tasks/${task}/rounds/${round}/model`,
    finalModel: (task) => get(`/v1/fl/tasks/${task}/model`, `the final model of task ${task} from ${base}`, 'FL_NO_GLOBAL_MODEL'),
    async putUpdate(task, round, client, sealed, manifest) {
      const url = `${base}/v1/fl/tasks/${task}/rounds/${round}/updates`
      const what = `delivering the update of task ${task} round ${round} to ${base}`
      const body = JSON.stringify({ client: lower(client), sealed: Buffer.from(sealed).toString('base64'), manifest: Buffer.from(manifest).toString('base64') })
      const res = await sendSigned(url, { method: 'PUT', body }, key, what)
      if (!res.ok) throw await remoteError(res, what)
      return [url]
    },
    // What the coordinator holds of the round is the coordinator's to list.
    deliveries: async () => [],
    delivery: async () => undefined,
  }
}

/** One FL write at a time per data dir (the API's aggregate and serve's tick). */
const queues = new WeakMap<object, Promise<unknown>>()
export function serialised<T>(p: Provena, fn: () => Promise<T>): Promise<T> {
  const before = queues.get(p.db) ?? Promise.resolve()
  const run = before.then(fn, fn)
  queues.set(p.db, run.catch(() => undefined))
  return run
}

/** The task's participants (DIDs) as this node recorded them; FL_UNKNOWN_TASK when it has none. */
function participantsOf(ctx: FlContext, task: number): { participants: string[]; aggregator: string } {
  const row = ctx.db.prepare('SELECT aggregator, participants FROM fl_tasks WHERE chain = ? AND task = ?').get(ctx.chain.client.chainKey, task) as { aggregator: string; participants: string } | undefined
  if (!row) throw flError('FL_UNKNOWN_TASK', `no federated task ${task} on this node`)
  return { aggregator: row.aggregator, participants: JSON.parse(row.participants) as string[] }
}

/**
 * The participant `did` of `task` as the coordinator's node knows it: its EVM address (a
 * pinned member's). FL_NOT_PARTICIPANT (403) for anyone else: a member of the consortium
 * who is not a participant reads nothing of the task and delivers nothing.
 */
export function participantOf(p: Provena, ctx: FlContext, task: number, did: string | null): { did: string; address: string } {
  const { participants } = participantsOf(ctx, task)
  if (did === null || !participants.includes(did)) {
    throw new ProvenaError('FL_NOT_PARTICIPANT', `${did ?? 'this credential'} is not a participant of task ${task}`, { hint: 'the task names its participants when it is created', details: { did, task } })
  }
  const m = flMembers(p, ctx).find((x) => x.did === did) ?? listIdentities(p.dir).find((i) => i.did === did)
  if (!m) throw flError('FL_UNKNOWN_PARTICIPANT', `participant ${did} of task ${task} is not a member this node pins`)
  return { did, address: lower(m.address) }
}

/**
 * Whether `did` may read the status of `task` here: its aggregator, or one of its
 * participants. FL_NOT_PARTICIPANT (403) for any other member or identity.
 */
export function mayReadTask(ctx: FlContext, task: number, did: string | null): void {
  const { participants, aggregator } = participantsOf(ctx, task)
  if (did !== null && (did === aggregator || participants.includes(did))) return
  throw new ProvenaError('FL_NOT_PARTICIPANT', `${did ?? 'this credential'} is neither the aggregator nor a participant of task ${task}`, { details: { did, task } })
}

/** GET /v1/fl/tasks/{task}: the task message addressed to the participant, the open round. */
export async function taskForParticipant(p: Provena, ctx: FlContext, task: number, did: string | null) {
  const who = participantOf(p, ctx, task, did)
  const x = directoryExchange(nodeExchangeDir(p.dir))
  if (!existsSync(x.taskMessageAt(task, who.address))) throw flError('FL_UNKNOWN_TASK', `task ${task} is not published on this node`, 'create it through this node (POST /v1/fl/tasks)')
  const t = await readTask(ctx, task)
  const delivered = t.done ? false : (await x.deliveries(task, t.round)).includes(who.address)
  return { task, message: await x.taskMessage(task, who.address), round: t.done ? t.rounds : t.round, rounds: t.rounds, done: t.done, delivered }
}

/** The global model of (task, round), or the final model (round undefined), to a participant. */
export async function modelForParticipant(p: Provena, ctx: FlContext, task: number, did: string | null, round?: number): Promise<Buffer> {
  participantOf(p, ctx, task, did)
  const x = directoryExchange(nodeExchangeDir(p.dir))
  // The exchange's file, else this node's own record: the next round's model is recorded
  // before the round is finalised on-chain, its file written after (a client may ask between).
  const cid = round === undefined ? undefined : (ctx.db.prepare('SELECT model_cid FROM fl_rounds WHERE chain = ? AND task = ? AND round = ?').pluck().get(ctx.chain.client.chainKey, task, round) as string | undefined)
  const final = async () => {
    // The final model by the digest the chain recorded (in the block store since the round was decided).
    const t = await readTask(ctx, task)
    return t.done ? ctx.store.get(cidFromDigest(Buffer.from(t.finalModel.slice(2), 'hex'))).catch(() => undefined) : undefined
  }
  const model = (round === undefined ? await x.finalModel(task) : await x.globalModel(task, round)) ?? (cid ? await ctx.store.get(cid) : round === undefined ? await final() : undefined)
  if (!model) throw flError('FL_NO_GLOBAL_MODEL', round === undefined ? `task ${task} has no final model yet` : `no global model of task ${task} round ${round} on this node`)
  return model
}

/**
 * PUT /v1/fl/tasks/{task}/rounds/{round}/updates on the coordinator's node: a participant's
 * own sealed update and manifest, stored in the node's exchange directory (each file
 * atomically). Refused: another client's update (FL_NOT_YOUR_UPDATE), a round that is not
 * the open one (FL_ROUND_CLOSED), a client without a commitment for the round
 * (FL_NOT_COMMITTED) or files that are not the ones committed (FL_UPDATE_MISMATCH).
 */
export async function acceptDelivery(p: Provena, ctx: FlContext, o: { task: number; round: number; caller: string | null; client: string; sealed: Buffer; manifest: Buffer }) {
  const who = participantOf(p, ctx, o.task, o.caller)
  if (lower(o.client) !== who.address) {
    throw new ProvenaError('FL_NOT_YOUR_UPDATE', `${who.did} (${who.address}) delivers an update for ${o.client}: a participant delivers its own update only`, { details: { did: who.did, client: o.client } })
  }
  const t = await readTask(ctx, o.task)
  if (t.done || o.round !== t.round) {
    throw new ProvenaError('FL_ROUND_CLOSED', `round ${o.round} of task ${o.task} is not open (${t.done ? 'the task is done' : `round ${t.round} is`})`, { details: { task: o.task, round: o.round, open: t.done ? null : t.round } })
  }
  const c = (await ctx.chain.client.publicClient.readContract({ address: ctx.chain.deployment.FederatedTraining, abi: FederatedTrainingAbi, functionName: 'commitmentOf', args: [BigInt(o.task), o.round, who.address as Address] })) as {
    sealedDigest: string
    manifestHash: string
    committedAt: bigint
  }
  if (c.committedAt === 0n) throw new ProvenaError('FL_NOT_COMMITTED', `${who.address} has no commitment on-chain for task ${o.task} round ${o.round}: commit before delivering`)
  if (sha256Hex(o.sealed) !== c.sealedDigest.slice(2) || sha256Hex(o.manifest) !== c.manifestHash.slice(2)) {
    throw new ProvenaError('FL_UPDATE_MISMATCH', `the sealed update or the manifest delivered by ${who.address} is not the one it committed for task ${o.task} round ${o.round}`)
  }
  const stored = await directoryExchange(nodeExchangeDir(p.dir)).putUpdate(o.task, o.round, who.address, o.sealed, o.manifest)
  return { task: o.task, round: o.round, client: who.address, stored: stored.length }
}

/** A task spec from its parts (the API's POST /v1/fl/tasks, `fl task create`). */
export function taskSpecOf(o: { model: Record<string, unknown>; features: number; classes: number; label: string; aggregation: AggregationRule; maxUpdateNorm: number; dp: TaskSpec['dp'] }): TaskSpec {
  const model = parseModelSpec(o.model, 'the model')
  return {
    type: 'provena.fl.task-spec/v1',
    model: { type: model.type, ...(model.hidden ? { hidden: model.hidden } : {}), epochs: model.epochs, learningRate: model.learningRate, batchSize: model.batchSize, l2: model.l2, seed: model.seed },
    features: o.features,
    classes: o.classes,
    label: o.label,
    aggregation: o.aggregation,
    maxUpdateNorm: o.maxUpdateNorm,
    dp: o.dp,
  }
}

/**
 * `provena serve`'s federated aggregator: each call (a tick) aggregates every round of a
 * task this node aggregates (its aggregator one of the node's identities, published in
 * nodeExchangeDir) that is ready: every participant committed on-chain and delivered, or
 * the round's deadline passed (as `fl aggregate` would then finalise it). Idempotent: what
 * is finalised is read from the chain (a restarted node never aggregates a round twice).
 * Errors are returned, once per task and round, never thrown.
 */
export function flAutoAggregator(p: Provena, ctx: FlContext, o: { passphrase: string | undefined; now?: () => number }) {
  const done = new Set<number>()
  const reported = new Set<string>()
  const unlocked = new Map<string, UnlockedIdentity>()
  const x = directoryExchange(nodeExchangeDir(p.dir))
  return async function tick(): Promise<{ reports: FlRoundReport[]; errors: { task: number; round: number; message: string }[] }> {
    const reports: FlRoundReport[] = []
    const errors: { task: number; round: number; message: string }[] = []
    const own = new Map(listIdentities(p.dir).map((i) => [i.did, i]))
    const rows = ctx.db.prepare('SELECT task, aggregator FROM fl_tasks WHERE chain = ? AND model IS NULL').all(ctx.chain.client.chainKey) as { task: number; aggregator: string }[]
    for (const { task, aggregator } of rows) {
      const identity = own.get(aggregator)
      if (done.has(task) || !identity || !existsSync(dirname(x.globalModelAt(task, 1)))) continue
      let round = 0
      try {
        await serialised(p, async () => {
          const t = await readTask(ctx, task)
          if (t.done) return void done.add(task)
          round = t.round
          const pc = ctx.chain.client.publicClient
          const fl = ctx.chain.deployment.FederatedTraining
          const committers = ((await pc.readContract({ address: fl, abi: FederatedTrainingAbi, functionName: 'committersOf', args: [BigInt(task), round] })) as string[]).map(lower)
          const participants = (await pc.readContract({ address: fl, abi: FederatedTrainingAbi, functionName: 'participantsOf', args: [BigInt(task)] })) as string[]
          const delivered = new Set(await x.deliveries(task, round))
          const everyone = committers.length === participants.length && committers.every((c) => delivered.has(c))
          const late = (o.now?.() ?? Date.now()) / 1000 > t.roundStartedAt + t.roundTimeout
          if (!everyone && !late) return
          if (!o.passphrase) throw new ProvenaError('ACCESS_NO_PASSPHRASE', 'serve has no passphrase to unlock the aggregator identity')
          let who = unlocked.get(aggregator)
          if (!who) unlocked.set(aggregator, (who = unlockIdentity(p.dir, identity.name, o.passphrase)))
          const r = await aggregateAcrossNodes(p, ctx, { task, aggregator: who, exchange: x })
          reports.push(r)
          if (r.done) done.add(task)
        })
      } catch (e) {
        const key = `${task}:${round}:${(e as Error).message}`
        if (!reported.has(key)) {
          reported.add(key)
          errors.push({ task, round, message: (e as Error).message })
        }
      }
    }
    return { reports, errors }
  }
}
