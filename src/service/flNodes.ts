// Federated learning across nodes (issue 12): the coordinator's node and each hospital's
// node hand each other files through an exchange directory (src/fl/exchange.ts,
// src/fl/PROTOCOL.md §4). The coordinator publishes the task as a message signed by the
// aggregator's did:key and each round's global model; a client checks both against its
// pinned consortium and the chain, trains on its own node and delivers its sealed update
// and training manifest; the aggregator checks those against the client's on-chain
// commitment and its pinned log. No secret crosses: the update is sealed to the
// aggregator's pinned X25519 key.
import type { Address } from 'viem'
import { findIdentity, listIdentities, purposeId, type Identity, type UnlockedIdentity } from '../access/index.js'
import { trustRootsOf } from './consortium.js'
import { FederatedTrainingAbi } from '../chain/index.js'
import { canonicalJsonBytes, sha256Hex } from '../crypto/index.js'
import { ProvenaError } from '../errors.js'
import {
  aggregateRound,
  createTask,
  readTask,
  runClient,
  submitForeignUpdate,
  type ClientRunReport,
  type FlContext,
  type FlRoundReport,
  type TaskSpec,
} from '../fl/index.js'
import { exchangePaths, FL_TASK_MESSAGE, readExchangeFile, writeExchangeFile, type FlTaskMessageBody } from '../fl/exchange.js'
import { dbNonceTable, readMessageFile, signMessage, verifyMessage, writeMessageFile, type ConsortiumMember } from '../node/index.js'
import { cidFromDigest } from '../store/index.js'
import type { Provena } from '../app/index.js'

/** A task message stays valid this long (it is read at every round). */
export const TASK_MESSAGE_TTL_MS = 30 * 24 * 3_600_000

const lower = (a: string) => a.toLowerCase()
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
  o: { spec: TaskSpec; purpose: string; participants: string[]; rounds: number; minClients: number; roundTimeout: number; exchange: string },
) {
  const participants = o.participants.map((n) => resolveParticipant(p, ctx, n))
  const r = await createTask(ctx, aggregator, { ...o, participants: participants as Identity[] })
  const published = await publishTask(p, ctx, aggregator, r.task, o.exchange)
  return { ...r, exchange: o.exchange, published }
}

/** Writes the task messages and the current global model of `task` to the exchange (again: same content). */
export async function publishTask(p: Provena, ctx: FlContext, aggregator: UnlockedIdentity, task: number, exchange: string): Promise<string[]> {
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
  const paths = exchangePaths(exchange, task)
  const written: string[] = []
  for (const to of participants) {
    const { envelope } = signMessage(aggregator, { _type: FL_TASK_MESSAGE, to: to.did, purpose: row.purpose, body }, { ttlMs: TASK_MESSAGE_TTL_MS })
    writeMessageFile(paths.taskMessage(to.address), envelope, true)
    written.push(paths.taskMessage(to.address))
  }
  const current = rounds.at(-1)!
  if (!onChain.done) {
    writeExchangeFile(paths.globalModel(onChain.round), await ctx.store.get(current.model_cid))
    written.push(paths.globalModel(onChain.round))
  }
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
export async function importTaskFromExchange(p: Provena, ctx: FlContext, task: number, client: Identity, exchange: string): Promise<{ aggregator: Identity; round: number }> {
  const paths = exchangePaths(exchange, task)
  const members = flMembers(p, ctx)
  const own = new Set(listIdentities(p.dir).map((i) => i.did))
  const m = verifyMessage<FlTaskMessageBody>(readMessageFile(paths.taskMessage(client.address)), {
    type: FL_TASK_MESSAGE,
    isOwn: (did) => own.has(did),
    isMember: (did) => members.some((x) => x.did === did),
    nonces: dbNonceTable(ctx.db),
    // A publication read at every round: its nonce is checked, never spent.
    recordNonce: false,
  })
  const refuse = (what: string) =>
    flError('FL_TASK_MISMATCH', `the task message ${paths.taskMessage(client.address)} ${what}: refused`, 'ask the coordinator to publish the task again (provena fl task publish)')
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
  const model = readExchangeFile(paths.globalModel(round))
  if (!model) throw flError('FL_NO_GLOBAL_MODEL', `the global model of task ${task} round ${round} is not in the exchange (${paths.globalModel(round)})`, 'the coordinator writes it when it aggregates the round before')
  const want = round === 1 ? m.initialModel : await finalizedDigest(ctx, task, round - 1)
  if (sha256Hex(model) !== want) {
    throw flError('FL_MODEL_MISMATCH', `the global model ${paths.globalModel(round)} hashes to ${sha256Hex(model).slice(0, 16)}…, ${round === 1 ? "the task message's initial model" : `the aggregate of round ${round - 1} on-chain`} is ${want?.slice(0, 16)}…: refused`)
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
export async function runClientAcrossNodes(p: Provena, ctx: FlContext, o: { task: number; dataset: string; client: UnlockedIdentity; exchange: string }): Promise<ClientRunReport & { exchange: string[] }> {
  const { aggregator } = await importTaskFromExchange(p, ctx, o.task, o.client, o.exchange)
  const r = await runClient(ctx, o.task, o.dataset, o.client, aggregator)
  return { ...r, exchange: await deliverUpdate(ctx, o.task, r.round, o.client.address, o.exchange) }
}

/**
 * `fl client submit --exchange DIR`: an update trained elsewhere (PROTOCOL.md §2), for a
 * task read from the exchange; committed as submitForeignUpdate does and delivered there.
 */
export async function submitAcrossNodes(p: Provena, ctx: FlContext, o: { task: number; dataset: string; client: UnlockedIdentity; manifest: Buffer; update: Buffer; exchange: string }) {
  const { aggregator } = await importTaskFromExchange(p, ctx, o.task, o.client, o.exchange)
  const r = await submitForeignUpdate(ctx, { ...o, aggregator })
  return { ...r, exchange: await deliverUpdate(ctx, o.task, r.round, o.client.address, o.exchange) }
}

/** Writes this node's sealed update and training manifest of (task, round) to the exchange. */
async function deliverUpdate(ctx: FlContext, task: number, round: number, client: string, exchange: string): Promise<string[]> {
  const row = ctx.db.prepare('SELECT update_cid, manifest_hash FROM fl_updates WHERE chain = ? AND task = ? AND round = ? AND client = ?').get(ctx.chain.client.chainKey, task, round, lower(client)) as
    | { update_cid: string; manifest_hash: string }
    | undefined
  if (!row) throw flError('FL_NO_UPDATE', `no update of ${client} for task ${task} round ${round} in this data dir`)
  const paths = exchangePaths(exchange, task)
  writeExchangeFile(paths.sealedUpdate(round, client), await ctx.store.get(row.update_cid))
  writeExchangeFile(paths.manifest(round, client), await ctx.store.get(cidFromDigest(Buffer.from(row.manifest_hash, 'hex'))))
  return [paths.sealedUpdate(round, client), paths.manifest(round, client)]
}

/**
 * `fl aggregate --exchange DIR` on the coordinator's node: each committer's sealed update
 * and manifest are read from the exchange and checked against its on-chain commitment, the
 * manifest against the client's pinned log and the pinned AssetRegistry; the round is
 * aggregated and finalised (outbox); the next global model (or the final one) is written
 * to the exchange. The members are the pinned consortium's.
 */
export async function aggregateAcrossNodes(p: Provena, ctx: FlContext, o: { task: number; aggregator: UnlockedIdentity; exchange: string }): Promise<FlRoundReport & { exchange: string[] }> {
  const paths = exchangePaths(o.exchange, o.task)
  const round = (await readTask(ctx, o.task)).round
  const r = await aggregateRound(ctx, o.task, o.aggregator, flMembers(p, ctx), {
    sealed: (client) => readExchangeFile(paths.sealedUpdate(round, client)),
    manifest: (client) => readExchangeFile(paths.manifest(round, client)),
  })
  const model = await ctx.store.get(cidFromDigest(Buffer.from(r.aggregateDigest, 'hex')))
  const out = r.done ? paths.finalModel : paths.globalModel(r.round + 1)
  writeExchangeFile(out, model)
  return { ...r, exchange: [out] }
}
