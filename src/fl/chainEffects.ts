// The fl domain's chain writes, registered with the one outbox (chain/outbox.ts): creating
// a task (the aggregator), committing an update (a participant), finalising a round and
// cancelling a task (the aggregator). Each carries its idempotency key and its on-chain
// test, so a crash at any step leads to exactly one effect.
import { decodeEventLog, type Abi, type Address, type Hex } from 'viem'
import { purposeId } from '../access/index.js'
import { chainErrors, FederatedTrainingAbi, isRowTransactionMined, registerOutboxEffect, type OutboxContext } from '../chain/index.js'
import { canonicalJsonBytes } from '../crypto/index.js'

const hex32 = (h: string) => `0x${h.replace(/^0x/, '')}` as Hex
const lower = (a: string) => a.toLowerCase()

async function taskOf(ctx: OutboxContext, task: number) {
  return (await ctx.client.publicClient.readContract({ address: ctx.deployment.FederatedTraining, abi: FederatedTrainingAbi, functionName: 'taskOf', args: [BigInt(task)] })) as {
    round: number
    done: boolean
    cancelled: boolean
  }
}

/**
 * A task to create. It has no state of its own to test before the chain numbers it, so
 * its test is its signed transaction; the task number is read from the receipt's
 * TaskCreated event, and the task is recorded and logged in the transaction that marks
 * the row mined (the row's result: `{ task, logIndex }`).
 */
export interface FlTaskPayload {
  /** Makes two creations of the same task two writes. */
  nonce: string
  aggregator: { did: string; address: Address }
  specDigest: string
  /** The spec's RFC 8785 JSON. */
  spec: string
  purpose: string
  participants: { did: string; address: Address }[]
  rounds: number
  minClients: number
  roundTimeout: number
  initialModel: { cid: string; digest: string }
}
export const flTaskEffect = registerOutboxEffect<FlTaskPayload>({
  kind: 'fl-task',
  key: (p) => `fl-task:${lower(p.aggregator.address)}:${p.nonce}`,
  applied: async (ctx, _p, row) => isRowTransactionMined(ctx, row),
  call: async (ctx, p) => ({
    address: ctx.deployment.FederatedTraining,
    abi: FederatedTrainingAbi as Abi,
    functionName: 'createTask',
    args: [hex32(p.specDigest), purposeId(p.purpose), p.participants.map((x) => x.address), p.rounds, p.minClients, BigInt(p.roundTimeout)],
  }),
  mined: (ctx, p, receipt, row) => {
    // Mined again after the chain lost it (recoverOutbox): recorded and logged the first time.
    if (row.result) return row.result
    if (!receipt || !ctx.appendLog) throw chainErrors.outboxFailed('a created task is recorded from its receipt, in a session that can log')
    const created = receipt.logs
      .map((l) => {
        try {
          return decodeEventLog({ abi: FederatedTrainingAbi, data: l.data, topics: l.topics })
        } catch {
          return undefined
        }
      })
      .find((e) => e?.eventName === 'TaskCreated')
    if (!created) throw chainErrors.outboxFailed(`transaction ${receipt.transactionHash} created no task`)
    const task = Number((created.args as { task: bigint }).task)
    const chain = ctx.client.chainKey
    const logIndex = ctx.appendLog([
      canonicalJsonBytes({
        type: 'provena.fl.task/v1',
        actor: p.aggregator.did,
        task,
        chain,
        specDigest: p.specDigest,
        spec: JSON.parse(p.spec) as unknown,
        purpose: p.purpose,
        participants: p.participants.map((x) => x.did),
        rounds: p.rounds,
        minClients: p.minClients,
        roundTimeout: p.roundTimeout,
        initialModel: p.initialModel.digest,
        transaction: receipt.transactionHash,
        time: new Date().toISOString(),
      }),
    ])
    ctx.db
      .prepare('INSERT INTO fl_tasks (chain, task, spec, purpose, aggregator, participants, log_index, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(chain, task, p.spec, p.purpose, p.aggregator.did, JSON.stringify(p.participants.map((x) => x.did)), logIndex, Date.now())
    ctx.db.prepare('INSERT INTO fl_rounds (chain, task, round, model_cid, model_digest) VALUES (?, ?, 1, ?, ?)').run(chain, task, p.initialModel.cid, p.initialModel.digest)
    return { task, logIndex }
  },
})

/** A participant's commitment of its update for a round: once per (task, round, client). */
export interface FlCommitPayload {
  task: number
  round: number
  client: Address
  updateDigest: string
  sealedDigest: string
  samples: number
  manifestHash: string
  /** What the committing command reports, for a rerun after a crash to report it again. */
  report: object
}
export const flCommitEffect = registerOutboxEffect<FlCommitPayload>({
  kind: 'fl-commit',
  key: (p) => `fl-commit:${p.task}:${p.round}:${lower(p.client)}`,
  applied: async (ctx, p) => {
    const c = (await ctx.client.publicClient.readContract({ address: ctx.deployment.FederatedTraining, abi: FederatedTrainingAbi, functionName: 'commitmentOf', args: [BigInt(p.task), p.round, p.client] })) as {
      committedAt: bigint
    }
    return c.committedAt !== 0n
  },
  call: async (ctx, p) => ({
    address: ctx.deployment.FederatedTraining,
    abi: FederatedTrainingAbi as Abi,
    functionName: 'commitUpdate',
    args: [BigInt(p.task), p.round, hex32(p.updateDigest), hex32(p.sealedDigest), BigInt(p.samples), hex32(p.manifestHash)],
  }),
})

/** The aggregator's finalisation of a round: once per (task, round). */
export interface FlFinalizePayload {
  task: number
  round: number
  aggregateDigest: string
  accepted: Address[]
  rejected: Address[]
  reasons: number[]
  /** The new global model in the block store (the final model, after the last round). */
  modelCid: string
  /** What the aggregating command reports, for a rerun after a crash to report it again. */
  report: object
}
export const flFinalizeEffect = registerOutboxEffect<FlFinalizePayload>({
  kind: 'fl-finalize',
  key: (p) => `fl-finalize:${p.task}:${p.round}`,
  applied: async (ctx, p) => {
    const t = await taskOf(ctx, p.task)
    return t.done || t.round > p.round
  },
  call: async (ctx, p) => ({
    address: ctx.deployment.FederatedTraining,
    abi: FederatedTrainingAbi as Abi,
    functionName: 'finalizeRound',
    args: [BigInt(p.task), p.round, hex32(p.aggregateDigest), p.accepted, p.rejected, p.reasons],
  }),
})

/** The aggregator's cancellation of a task: once per task. */
export interface FlCancelPayload {
  task: number
}
export const flCancelEffect = registerOutboxEffect<FlCancelPayload>({
  kind: 'fl-cancel',
  key: (p) => `fl-cancel:${p.task}`,
  applied: async (ctx, p) => (await taskOf(ctx, p.task)).cancelled,
  call: async (ctx, p) => ({ address: ctx.deployment.FederatedTraining, abi: FederatedTrainingAbi as Abi, functionName: 'cancelTask', args: [BigInt(p.task)] }),
})

