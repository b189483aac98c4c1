import { BaseError, ContractFunctionRevertedError, encodeFunctionData, keccak256, toHex, type Abi, type Address, type Hex } from 'viem'
import type { Db } from '../db/index.js'
import type { ChainClient } from './connect.js'
import { AccessPolicyAbi, ASSET_KINDS, AssetRegistryAbi, CheckpointAnchorAbi, type AssetKind, type Deployment } from './contracts.js'
import { chainErrors } from './errors.js'
import { waitForReceipt } from './waitForReceipt.js'

/**
 * The transactional outbox of chain writes. A domain change and the row that will carry
 * it on-chain commit in one database transaction ("decided"); the sender signs the
 * transaction and records it before broadcasting ("sent"), then records the receipt
 * ("mined"). Every kind of write has an on-chain test of whether it took effect, so a
 * crash at any point is recovered by re-checking and re-sending: nothing is lost and
 * nothing is applied twice.
 */

export type OutboxStatus = 'decided' | 'sent' | 'mined' | 'failed'

export interface AssetPayload {
  id: Hex
  kind: AssetKind
  root: Hex
  metadataDigest: Hex
  parents: Hex[]
}

export interface CheckpointPayload {
  treeSize: number
  rootHash: Hex
  mapRoot: Hex
  signature: Hex
}

/** A consortium member to add in AccessPolicy; `role` is the role's name, e.g. TRAINER_ROLE. */
export interface MemberPayload {
  address: Address
  role: 'CONTROLLER_ROLE' | 'PROCESSOR_ROLE' | 'TRAINER_ROLE' | 'AUDITOR_ROLE'
}

/** A consortium member node's operator to make a registrar of the shared AssetRegistry (it registers its own datasets). */
export interface RegistrarPayload {
  address: Address
}

export type OutboxWrite =
  | { kind: 'asset'; payload: AssetPayload }
  | { kind: 'checkpoint'; payload: CheckpointPayload }
  | { kind: 'member'; payload: MemberPayload }
  | { kind: 'registrar'; payload: RegistrarPayload }

export interface OutboxRow {
  id: number
  chain: string
  kind: OutboxWrite['kind']
  key: string
  payload: AssetPayload | CheckpointPayload | MemberPayload | RegistrarPayload
  status: OutboxStatus
  txHash: Hex | null
  rawTx: Hex | null
  nonce: number | null
  blockNumber: number | null
  error: string | null
  attempts: number
}

/** What the sender needs: the chain, the deployment, and the log's consistency proofs. */
export interface OutboxContext {
  db: Db
  client: ChainClient
  deployment: Deployment
  /** RFC 9162 consistency proof between two sizes of the log, for checkpoint anchoring. */
  consistencyProof(size1: number, size2: number): Buffer[]
}

/** The idempotency key of a write: one row per asset and per checkpoint size. */
export function outboxKey(w: OutboxWrite): string {
  switch (w.kind) {
    case 'asset':
      return `asset:${w.payload.id}`
    case 'checkpoint':
      return `checkpoint:${w.payload.treeSize}`
    case 'member':
      return `member:${w.payload.address.toLowerCase()}:${w.payload.role}`
    case 'registrar':
      return `registrar:${w.payload.address.toLowerCase()}`
  }
}

/**
 * Records a decided chain write (call inside the domain's transaction). Idempotent:
 * returns the existing row's id when the same write was decided before.
 */
export function enqueueOutbox(db: Db, chain: string, write: OutboxWrite, now = Date.now()): number {
  const key = outboxKey(write)
  db.prepare(
    `INSERT INTO chain_outbox (chain, kind, key, payload, status, created_at, updated_at)
     VALUES (?, ?, ?, ?, 'decided', ?, ?) ON CONFLICT (chain, key) DO NOTHING`,
  ).run(chain, write.kind, key, JSON.stringify(write.payload), now, now)
  return (db.prepare('SELECT id FROM chain_outbox WHERE chain = ? AND key = ?').pluck().get(chain, key) as number)
}

/** Outbox rows of a chain, optionally by status. */
export function listOutbox(db: Db, chain: string, statuses?: OutboxStatus[]): OutboxRow[] {
  const rows = db
    .prepare(
      `SELECT * FROM chain_outbox WHERE chain = ? ${statuses ? `AND status IN (${statuses.map(() => '?').join(',')})` : ''} ORDER BY id`,
    )
    .all(chain, ...(statuses ?? [])) as RawRow[]
  return rows.map(fromRaw)
}

/** The outbox row of a write, if decided. */
export function findOutbox(db: Db, chain: string, write: OutboxWrite): OutboxRow | undefined {
  const row = db.prepare('SELECT * FROM chain_outbox WHERE chain = ? AND key = ?').get(chain, outboxKey(write)) as RawRow | undefined
  return row && fromRaw(row)
}

interface Effect {
  isApplied(ctx: OutboxContext, payload: never): Promise<boolean>
  call(ctx: OutboxContext, payload: never): Promise<{ address: Address; abi: Abi; functionName: string; args: readonly unknown[] }>
}

const latestAnchored = async (ctx: OutboxContext) =>
  (await ctx.client.publicClient.readContract({ address: ctx.deployment.CheckpointAnchor, abi: CheckpointAnchorAbi, functionName: 'latest' })) as readonly [bigint, Hex]

const REGISTRAR_ROLE = keccak256(toHex('REGISTRAR_ROLE'))

const effects: Record<OutboxRow['kind'], Effect> = {
  asset: {
    isApplied: async (ctx, p: AssetPayload) =>
      (await ctx.client.publicClient.readContract({ address: ctx.deployment.AssetRegistry, abi: AssetRegistryAbi, functionName: 'isRegistered', args: [p.id] })) as boolean,
    call: async (ctx, p: AssetPayload) => ({
      address: ctx.deployment.AssetRegistry,
      abi: AssetRegistryAbi as Abi,
      functionName: 'register',
      args: [p.id, ASSET_KINDS.indexOf(p.kind), p.root, p.metadataDigest, p.parents],
    }),
  },
  member: {
    isApplied: async (ctx, p: MemberPayload) =>
      (await ctx.client.publicClient.readContract({ address: ctx.deployment.AccessPolicy, abi: AccessPolicyAbi, functionName: 'hasRole', args: [keccak256(toHex(p.role)), p.address] })) as boolean,
    call: async (ctx, p: MemberPayload) => ({
      address: ctx.deployment.AccessPolicy,
      abi: AccessPolicyAbi as Abi,
      functionName: 'addMember',
      args: [p.address, keccak256(toHex(p.role))],
    }),
  },
  registrar: {
    isApplied: async (ctx, p: RegistrarPayload) =>
      (await ctx.client.publicClient.readContract({ address: ctx.deployment.AssetRegistry, abi: AssetRegistryAbi, functionName: 'hasRole', args: [REGISTRAR_ROLE, p.address] })) as boolean,
    call: async (ctx, p: RegistrarPayload) => ({
      address: ctx.deployment.AssetRegistry,
      abi: AssetRegistryAbi as Abi,
      functionName: 'grantRole',
      args: [REGISTRAR_ROLE, p.address],
    }),
  },
  checkpoint: {
    // The operator's checkpoints only grow: a larger anchored size covers this one.
    isApplied: async (ctx, p: CheckpointPayload) => Number((await latestAnchored(ctx))[0]) >= p.treeSize,
    call: async (ctx, p: CheckpointPayload) => {
      const from = Number((await latestAnchored(ctx))[0])
      const proof = from === 0 ? [] : ctx.consistencyProof(from, p.treeSize)
      return {
        address: ctx.deployment.CheckpointAnchor,
        abi: CheckpointAnchorAbi as Abi,
        functionName: 'anchor',
        args: [BigInt(p.treeSize), p.rootHash, p.mapRoot, proof.map((h) => `0x${h.toString('hex')}` as Hex), p.signature],
      }
    },
  },
}

/** Test hook: PROVENA_FAULT=<point> kills the process with SIGKILL at that point. */
function faultPoint(point: string): void {
  if (process.env.PROVENA_FAULT === point) process.kill(process.pid, 'SIGKILL')
}

function update(db: Db, id: number, fields: Partial<Record<'status' | 'tx_hash' | 'raw_tx' | 'nonce' | 'block_number' | 'block_hash' | 'error', unknown>>): void {
  const keys = Object.keys(fields)
  db.prepare(`UPDATE chain_outbox SET ${keys.map((k) => `${k} = ?`).join(', ')}, updated_at = ? WHERE id = ?`).run(...Object.values(fields), Date.now(), id)
}

/** The contract revert inside a viem error, if that is what it is. */
export function revertOf(error: unknown): ContractFunctionRevertedError | undefined {
  if (!(error instanceof BaseError)) return undefined
  const found = error.walk((e) => e instanceof ContractFunctionRevertedError)
  return found instanceof ContractFunctionRevertedError ? found : undefined
}

/**
 * Simulates the write of a decided row: throws CHAIN_REVERTED (naming the contract's
 * custom error) when it would revert. Used before committing a domain change, so that a
 * write the chain refuses is never half-done.
 */
export async function simulateWrite(ctx: OutboxContext, write: OutboxWrite): Promise<void> {
  const effect = effects[write.kind]
  if (await effect.isApplied(ctx, write.payload as never)) return
  const call = await effect.call(ctx, write.payload as never)
  try {
    await ctx.client.publicClient.simulateContract({ ...call, account: ctx.client.account } as never)
  } catch (error) {
    const revert = revertOf(error)
    if (revert) throw chainErrors.reverted(`${write.kind} ${outboxKey(write)}`, revert.data?.errorName, revert.data?.args, error)
    throw chainErrors.unreachable(ctx.client.rpcUrl, error)
  }
}

async function send(ctx: OutboxContext, row: OutboxRow): Promise<void> {
  const { client, db } = ctx
  const effect = effects[row.kind]
  const call = await effect.call(ctx, row.payload as never)
  try {
    await client.publicClient.simulateContract({ ...call, account: client.account } as never)
  } catch (error) {
    const revert = revertOf(error)
    if (!revert) throw chainErrors.unreachable(client.rpcUrl, error)
    const failure = chainErrors.reverted(`${row.kind} ${row.key}`, revert.data?.errorName, revert.data?.args, error)
    update(db, row.id, { status: 'failed', error: failure.message })
    throw failure
  }
  const nonce = await client.publicClient.getTransactionCount({ address: client.account.address, blockTag: 'pending' })
  const request = await client.publicClient.prepareTransactionRequest({
    account: client.account,
    chain: client.chain,
    to: call.address,
    data: encodeFunctionData({ abi: call.abi, functionName: call.functionName, args: call.args } as never),
    nonce,
  } as never)
  const raw = (await client.account.signTransaction!(request as never)) as Hex
  const hash = keccak256(raw)
  db.prepare('UPDATE chain_outbox SET status = ?, tx_hash = ?, raw_tx = ?, nonce = ?, attempts = attempts + 1, updated_at = ? WHERE id = ?').run(
    'sent',
    hash,
    raw,
    nonce,
    Date.now(),
    row.id,
  )
  faultPoint('outbox:after-sent')
  await client.publicClient.sendRawTransaction({ serializedTransaction: raw })
  faultPoint('outbox:after-broadcast')
  await awaitReceipt(ctx, row.id, hash)
}

async function awaitReceipt(ctx: OutboxContext, id: number, hash: Hex): Promise<void> {
  const receipt = await waitForReceipt(ctx.client.publicClient, hash, { timeout: 120_000 })
  if (receipt.status === 'success') update(ctx.db, id, { status: 'mined', block_number: Number(receipt.blockNumber), block_hash: receipt.blockHash, error: null })
  else {
    update(ctx.db, id, { status: 'failed', error: `transaction ${hash} reverted in block ${receipt.blockNumber}` })
    throw chainErrors.reverted(`transaction ${hash}`, undefined, undefined)
  }
}

/** Re-sends a row that was signed and recorded but whose receipt was never recorded. */
async function resume(ctx: OutboxContext, row: OutboxRow): Promise<void> {
  const { client } = ctx
  const receipt = await client.publicClient.getTransactionReceipt({ hash: row.txHash! }).catch(() => undefined)
  if (receipt) return awaitReceipt(ctx, row.id, row.txHash!)
  const chainNonce = await client.publicClient.getTransactionCount({ address: client.account.address, blockTag: 'pending' })
  if (row.rawTx && row.nonce === chainNonce) {
    // The same signed bytes: if the first broadcast did land after all, this one is refused.
    await client.publicClient.sendRawTransaction({ serializedTransaction: row.rawTx }).catch(() => undefined)
    return awaitReceipt(ctx, row.id, row.txHash!)
  }
  // Its nonce was used by another transaction (or the chain lost state): sign afresh.
  return send(ctx, row)
}

/**
 * Sends every pending row of the chain, in order, and waits for each receipt. A row whose
 * effect is already on-chain is marked mined without sending. Returns the rows processed.
 */
export async function flushOutbox(ctx: OutboxContext): Promise<OutboxRow[]> {
  const done: OutboxRow[] = []
  for (const row of listOutbox(ctx.db, ctx.client.chainKey, ['decided', 'sent'])) {
    const effect = effects[row.kind]
    if (await effect.isApplied(ctx, row.payload as never)) {
      update(ctx.db, row.id, { status: 'mined', error: null })
    } else if (row.status === 'sent' && row.txHash) {
      await resume(ctx, row)
    } else {
      await send(ctx, row)
    }
    done.push(findById(ctx.db, row.id))
  }
  return done
}

/** The error recorded on a row whose effect the chain lost (recoverOutbox): it is a replay. */
export const LOST_FROM_CHAIN = 'lost from the chain; re-sending'

/**
 * How many pending rows carry writes the chain lost and will be sent again (a replay of
 * history), until they are mined.
 */
export function countLostWrites(db: Db, chain: string): number {
  return db.prepare("SELECT count(*) FROM chain_outbox WHERE chain = ? AND status IN ('decided', 'sent') AND error = ?").pluck().get(chain, LOST_FROM_CHAIN) as number
}

/**
 * Re-checks mined rows against the chain (a node that crashed may have lost its last
 * blocks) and puts back to "decided" every row whose effect is not there. Returns how many.
 */
export async function recoverOutbox(ctx: OutboxContext): Promise<number> {
  // Fast path: if the block of the newest mined write is still on the chain with the same
  // hash, the chain kept everything up to it (a block hash commits to all history).
  const newest = ctx.db
    .prepare("SELECT block_number, block_hash FROM chain_outbox WHERE chain = ? AND status = 'mined' ORDER BY block_number DESC LIMIT 1")
    .get(ctx.client.chainKey) as { block_number: number | null; block_hash: Hex | null } | undefined
  if (!newest) return 0
  if (newest.block_number !== null && newest.block_hash) {
    const block = await ctx.client.publicClient.getBlock({ blockNumber: BigInt(newest.block_number) }).catch(() => undefined)
    if (block?.hash === newest.block_hash) return 0
  }
  const head = Number(await ctx.client.publicClient.getBlockNumber())
  let reset = 0
  for (const row of listOutbox(ctx.db, ctx.client.chainKey, ['mined'])) {
    const recent = row.blockNumber === null || row.blockNumber > head - 1024
    if (!recent) continue
    if (await effects[row.kind].isApplied(ctx, row.payload as never)) continue
    update(ctx.db, row.id, { status: 'decided', tx_hash: null, raw_tx: null, nonce: null, block_number: null, block_hash: null, error: LOST_FROM_CHAIN })
    reset++
  }
  return reset
}

function findById(db: Db, id: number): OutboxRow {
  return fromRaw(db.prepare('SELECT * FROM chain_outbox WHERE id = ?').get(id) as RawRow)
}

interface RawRow {
  id: number
  chain: string
  kind: OutboxRow['kind']
  key: string
  payload: string
  status: OutboxStatus
  tx_hash: Hex | null
  raw_tx: Hex | null
  nonce: number | null
  block_number: number | null
  error: string | null
  attempts: number
}

function fromRaw(r: RawRow): OutboxRow {
  return {
    id: r.id,
    chain: r.chain,
    kind: r.kind,
    key: r.key,
    payload: JSON.parse(r.payload) as OutboxRow['payload'],
    status: r.status,
    txHash: r.tx_hash,
    rawTx: r.raw_tx,
    nonce: r.nonce,
    blockNumber: r.block_number,
    error: r.error,
    attempts: r.attempts,
  }
}
