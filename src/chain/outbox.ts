import { BaseError, ContractFunctionRevertedError, encodeFunctionData, keccak256, toHex, type Abi, type Address, type Hex, type TransactionReceipt } from 'viem'
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
  /** The witnesses' cosignatures gathered before anchoring, packed 76 bytes each (packCosignatures); absent: none. */
  cosignatures?: Hex
}

/** Cosignatures gathered after the checkpoint of `treeSize` was anchored (addCosignatures). */
export interface CosignaturesPayload {
  treeSize: number
  /** Packed 76 bytes each: key id (4) ‖ timestamp (8) ‖ signature (64). */
  cosignatures: Hex
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

/**
 * A decided chain write: an effect's kind, its payload (JSON), and who signs it: the
 * operator's account (no `signer`) or another identity's EVM address (a controller's
 * grant, a participant's FL commit), sent only when that identity is unlocked.
 */
export interface OutboxWrite<P = unknown> {
  kind: string
  payload: P
  signer?: Address | undefined
}

export interface OutboxRow {
  id: number
  chain: string
  kind: string
  key: string
  payload: unknown
  /** The signing account; null for the operator's. */
  signer: Address | null
  status: OutboxStatus
  txHash: Hex | null
  rawTx: Hex | null
  nonce: number | null
  blockNumber: number | null
  blockHash: Hex | null
  error: string | null
  attempts: number
  /** What the effect's `mined` hook returned (e.g. a task id read from the receipt). */
  result: unknown
  /** Whether the command that decided it has reported it (markReported). */
  reported: boolean
}

/** What the sender needs: the chain, the deployment, the log (its proofs and its appends). */
export interface OutboxContext {
  db: Db
  client: ChainClient
  deployment: Deployment
  /** RFC 9162 consistency proof between two sizes of the log, for checkpoint anchoring. */
  consistencyProof(size1: number, size2: number): Buffer[]
  /** Appends log entries (for `mined` hooks that log what only the receipt tells); returns the first index. */
  appendLog?(leaves: Buffer[]): number
}

/** A contract call, as viem takes it. */
export interface ContractCall {
  address: Address
  abi: Abi
  functionName: string
  args: readonly unknown[]
}

/**
 * One kind of chain write, registered by the domain that owns it (registerOutboxEffect).
 * `key` is its idempotency key (unique per chain: deciding the same write twice is one
 * row); `applied` tests on-chain whether it took effect (the row is given: an effect with
 * no state of its own to test, like creating a task, tests its signed transaction);
 * `call` is the contract call; `mined`, if any, runs in the database transaction that
 * records the receipt and returns what the caller needs from it (stored as the row's result).
 */
export interface OutboxEffect<P> {
  kind: string
  key(payload: P): string
  applied(ctx: OutboxContext, payload: P, row: Pick<OutboxRow, 'txHash'> | undefined): Promise<boolean>
  call(ctx: OutboxContext, payload: P): Promise<ContractCall>
  mined?(ctx: OutboxContext, payload: P, receipt: TransactionReceipt | undefined, row: OutboxRow): unknown
}

/** A registered effect: its definition, and `write` to build a decided write of it. */
export type RegisteredEffect<P> = OutboxEffect<P> & { write(payload: P, signer?: Address): OutboxWrite<P> }

const effects = new Map<string, OutboxEffect<unknown>>()

/**
 * Registers a kind of chain write with the one outbox. Each domain registers its own
 * (access: claim, grant, revoke, erasure announcement; fl: task, commit, finalise, cancel;
 * here: asset, checkpoint, member). Registering a kind twice is an error.
 */
export function registerOutboxEffect<P>(effect: OutboxEffect<P>): RegisteredEffect<P> {
  if (effects.has(effect.kind)) throw chainErrors.outboxFailed(`outbox effect "${effect.kind}" is registered twice`)
  effects.set(effect.kind, effect as OutboxEffect<unknown>)
  return { ...effect, write: (payload: P, signer?: Address) => ({ kind: effect.kind, payload, ...(signer ? { signer } : {}) }) }
}

/** The kinds registered so far. */
export function outboxKinds(): string[] {
  return [...effects.keys()]
}

function effectOf(kind: string): OutboxEffect<unknown> {
  const e = effects.get(kind)
  if (!e) throw chainErrors.outboxFailed(`no outbox effect "${kind}" is registered in this process`)
  return e
}

/** The idempotency key of a write. */
export function outboxKey(w: OutboxWrite): string {
  return effectOf(w.kind).key(w.payload)
}

/**
 * Records a decided chain write (call inside the domain's transaction). Idempotent:
 * returns the existing row's id when the same write was decided before; a write that
 * failed (the chain refused it) and is decided again is retried.
 */
export function enqueueOutbox(db: Db, chain: string, write: OutboxWrite, now = Date.now()): number {
  const key = outboxKey(write)
  db.prepare(
    `INSERT INTO chain_outbox (chain, kind, key, payload, signer, status, reported, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, 'decided', 0, ?, ?)
     ON CONFLICT (chain, key) DO UPDATE SET payload = excluded.payload, status = 'decided', reported = 0, tx_hash = NULL, raw_tx = NULL, nonce = NULL, error = NULL, updated_at = excluded.updated_at
       WHERE chain_outbox.status = 'failed'`,
  ).run(chain, write.kind, key, JSON.stringify(write.payload), write.signer?.toLowerCase() ?? null, now, now)
  return db.prepare('SELECT id FROM chain_outbox WHERE chain = ? AND key = ?').pluck().get(chain, key) as number
}

/**
 * Runs `decide` (the domain change and its enqueueOutbox calls) in one database
 * transaction, then passes the fault point "outbox:after-decided" (crash tests).
 */
export function decideWrites<T>(db: Db, decide: () => T): T {
  const before = db.prepare('SELECT coalesce(max(id), 0) FROM chain_outbox').pluck().get() as number
  const r = db.transaction(decide)()
  for (const kind of db.prepare('SELECT DISTINCT kind FROM chain_outbox WHERE id > ?').pluck().all(before) as string[]) faultPoint('outbox:after-decided', kind)
  return r
}

/**
 * Records that the command that decided these writes (or its rerun) has reported them.
 * Until then a rerun after a crash finds them (`reported: false`) and reports them
 * instead of deciding the same operation again.
 */
export function markReported(db: Db, chain: string, keys: readonly string[]): void {
  const mark = db.prepare('UPDATE chain_outbox SET reported = 1 WHERE chain = ? AND key = ?')
  for (const key of keys) mark.run(chain, key)
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
  return findOutboxByKey(db, chain, outboxKey(write))
}

/** The outbox row of an idempotency key, if decided. */
export function findOutboxByKey(db: Db, chain: string, key: string): OutboxRow | undefined {
  const row = db.prepare('SELECT * FROM chain_outbox WHERE chain = ? AND key = ?').get(chain, key) as RawRow | undefined
  return row && fromRaw(row)
}

/** Rows of a kind whose key starts with `prefix`, oldest first. */
export function listOutboxByKeyPrefix(db: Db, chain: string, kind: string, prefix: string): OutboxRow[] {
  const rows = db.prepare("SELECT * FROM chain_outbox WHERE chain = ? AND kind = ? AND substr(key, 1, length(?)) = ? ORDER BY id").all(chain, kind, prefix, prefix) as RawRow[]
  return rows.map(fromRaw)
}

const latestAnchored = async (ctx: OutboxContext) =>
  (await ctx.client.publicClient.readContract({ address: ctx.deployment.CheckpointAnchor, abi: CheckpointAnchorAbi, functionName: 'latest' })) as readonly [bigint, Hex]

/** The operator's own writes: a registered asset, an anchored checkpoint, a member added. */
export const assetEffect = registerOutboxEffect<AssetPayload>({
  kind: 'asset',
  key: (p) => `asset:${p.id}`,
  applied: async (ctx, p) =>
    (await ctx.client.publicClient.readContract({ address: ctx.deployment.AssetRegistry, abi: AssetRegistryAbi, functionName: 'isRegistered', args: [p.id] })) as boolean,
  call: async (ctx, p) => ({
    address: ctx.deployment.AssetRegistry,
    abi: AssetRegistryAbi as Abi,
    functionName: 'register',
    args: [p.id, ASSET_KINDS.indexOf(p.kind), p.root, p.metadataDigest, p.parents],
  }),
})

export const memberEffect = registerOutboxEffect<MemberPayload>({
  kind: 'member',
  key: (p) => `member:${p.address.toLowerCase()}:${p.role}`,
  applied: async (ctx, p) =>
    (await ctx.client.publicClient.readContract({ address: ctx.deployment.AccessPolicy, abi: AccessPolicyAbi, functionName: 'hasRole', args: [keccak256(toHex(p.role)), p.address] })) as boolean,
  call: async (ctx, p) => ({
    address: ctx.deployment.AccessPolicy,
    abi: AccessPolicyAbi as Abi,
    functionName: 'addMember',
    args: [p.address, keccak256(toHex(p.role))],
  }),
})

const REGISTRAR_ROLE = keccak256(toHex('REGISTRAR_ROLE'))

/** The consortium admin makes a member node's operator a registrar of the shared AssetRegistry. */
export const registrarEffect = registerOutboxEffect<RegistrarPayload>({
  kind: 'registrar',
  key: (p) => `registrar:${p.address.toLowerCase()}`,
  applied: async (ctx, p) =>
    (await ctx.client.publicClient.readContract({ address: ctx.deployment.AssetRegistry, abi: AssetRegistryAbi, functionName: 'hasRole', args: [REGISTRAR_ROLE, p.address] })) as boolean,
  call: async (ctx, p) => ({
    address: ctx.deployment.AssetRegistry,
    abi: AssetRegistryAbi as Abi,
    functionName: 'grantRole',
    args: [REGISTRAR_ROLE, p.address],
  }),
})

export const checkpointEffect = registerOutboxEffect<CheckpointPayload>({
  kind: 'checkpoint',
  key: (p) => `checkpoint:${p.treeSize}`,
  // The operator's checkpoints only grow: a larger anchored size covers this one.
  applied: async (ctx, p) => Number((await latestAnchored(ctx))[0]) >= p.treeSize,
  call: async (ctx, p) => {
    const from = Number((await latestAnchored(ctx))[0])
    const proof = from === 0 ? [] : ctx.consistencyProof(from, p.treeSize)
    return {
      address: ctx.deployment.CheckpointAnchor,
      abi: CheckpointAnchorAbi as Abi,
      functionName: 'anchor',
      args: [BigInt(p.treeSize), p.rootHash, p.mapRoot, proof.map((h) => `0x${h.toString('hex')}` as Hex), p.signature, p.cosignatures ?? '0x'],
    }
  },
})

/** The 4-byte key ids (hex) of packed cosignatures, in order. */
export function packedKeyIds(packed: Hex): string[] {
  const raw = packed.slice(2)
  const out: string[] = []
  for (let i = 0; i + 152 <= raw.length; i += 152) out.push(raw.slice(i, i + 8))
  return out
}

export const cosignaturesEffect = registerOutboxEffect<CosignaturesPayload>({
  kind: 'cosignatures',
  // One row per checkpoint and set of witnesses: the same late cosignatures are added once.
  key: (p) => `cosignatures:${p.treeSize}:${packedKeyIds(p.cosignatures).sort().join(',')}`,
  // An event only: its own mined transaction; a checkpoint anchored since covers it (the
  // contract takes cosignatures for the latest one only, and the quorum counts that one).
  applied: async (ctx, p, row) => Number((await latestAnchored(ctx))[0]) > p.treeSize || isRowTransactionMined(ctx, row),
  call: async (ctx, p) => ({
    address: ctx.deployment.CheckpointAnchor,
    abi: CheckpointAnchorAbi as Abi,
    functionName: 'addCosignatures',
    args: [BigInt(p.treeSize), p.cosignatures],
  }),
})

/**
 * Whether the transaction a row signed is mined and succeeded: the on-chain test of an
 * effect that leaves no state of its own to read (a row not signed yet sent nothing).
 */
export async function isRowTransactionMined(ctx: OutboxContext, row: Pick<OutboxRow, 'txHash'> | undefined): Promise<boolean> {
  if (!row?.txHash) return false
  const receipt = await ctx.client.publicClient.getTransactionReceipt({ hash: row.txHash }).catch(() => undefined)
  return receipt?.status === 'success'
}

/**
 * Test hook: PROVENA_FAULT=<point> kills the process with SIGKILL at that point, or
 * PROVENA_FAULT=<point>:<kind> only there for a write of that kind (e.g.
 * `outbox:after-broadcast:grant`). Points: outbox:after-decided (the domain change and its
 * row committed), outbox:after-sent (the signed transaction recorded, not broadcast),
 * outbox:after-broadcast (broadcast, receipt not recorded).
 */
export function faultPoint(point: string, kind?: string): void {
  const fault = process.env.PROVENA_FAULT
  if (fault && (fault === point || (kind !== undefined && fault === `${point}:${kind}`))) process.kill(process.pid, 'SIGKILL')
}

function update(db: Db, id: number, fields: Partial<Record<'status' | 'tx_hash' | 'raw_tx' | 'nonce' | 'block_number' | 'block_hash' | 'error' | 'result', unknown>>): void {
  const keys = Object.keys(fields)
  db.prepare(`UPDATE chain_outbox SET ${keys.map((k) => `${k} = ?`).join(', ')}, updated_at = ? WHERE id = ?`).run(...Object.values(fields), Date.now(), id)
}

/** The contract revert inside a viem error, if that is what it is. */
export function revertOf(error: unknown): ContractFunctionRevertedError | undefined {
  if (!(error instanceof BaseError)) return undefined
  const found = error.walk((e) => e instanceof ContractFunctionRevertedError)
  return found instanceof ContractFunctionRevertedError ? found : undefined
}

/** The client that signs a row: the operator's, or an unlocked identity's among `signers`. */
function signerOf(ctx: OutboxContext, signer: string | null | undefined, signers: readonly ChainClient[]): ChainClient | undefined {
  if (!signer || signer.toLowerCase() === ctx.client.account.address.toLowerCase()) return ctx.client
  return signers.find((c) => c.account.address.toLowerCase() === signer.toLowerCase())
}

/**
 * Simulates the write of a decided row: throws CHAIN_REVERTED (naming the contract's
 * custom error) when it would revert. Used before committing a domain change, so that a
 * write the chain refuses is never half-done. `signer` is the client of the write's
 * signer (default: the operator).
 */
export async function simulateWrite(ctx: OutboxContext, write: OutboxWrite, signer: ChainClient = ctx.client): Promise<void> {
  const effect = effectOf(write.kind)
  if (await effect.applied(ctx, write.payload, undefined)) return
  const call = await effect.call(ctx, write.payload)
  try {
    await ctx.client.publicClient.simulateContract({ ...call, account: signer.account } as never)
  } catch (error) {
    const revert = revertOf(error)
    if (revert) throw chainErrors.reverted(`${write.kind} ${outboxKey(write)}`, revert.data?.errorName, revert.data?.args, error)
    throw chainErrors.unreachable(ctx.client.rpcUrl, error)
  }
}

async function send(ctx: OutboxContext, row: OutboxRow, client: ChainClient): Promise<void> {
  const { db } = ctx
  const effect = effectOf(row.kind)
  const call = await effect.call(ctx, row.payload)
  // One round trip fills nonce, gas and fees (eth_fillTransaction; viem falls back to
  // separate calls on nodes without it). Its gas estimate executes the call, so a write
  // the chain would refuse fails here; only then is it simulated, to name the contract's
  // error and mark the row failed.
  let request: { nonce?: number }
  try {
    request = (await client.publicClient.prepareTransactionRequest({
      account: client.account,
      chain: client.chain,
      to: call.address,
      data: encodeFunctionData({ abi: call.abi, functionName: call.functionName, args: call.args } as never),
    } as never)) as { nonce?: number }
  } catch (error) {
    try {
      await client.publicClient.simulateContract({ ...call, account: client.account } as never)
    } catch (simulated) {
      const revert = revertOf(simulated)
      if (!revert) throw chainErrors.unreachable(client.rpcUrl, simulated)
      const failure = chainErrors.reverted(`${row.kind} ${row.key}`, revert.data?.errorName, revert.data?.args, simulated)
      update(db, row.id, { status: 'failed', error: failure.message })
      throw failure
    }
    throw error
  }
  const nonce = request.nonce
  if (typeof nonce !== 'number') throw chainErrors.outboxFailed(`the node filled no nonce for ${row.kind} ${row.key}`)
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
  faultPoint('outbox:after-sent', row.kind)
  await client.publicClient.sendRawTransaction({ serializedTransaction: raw })
  faultPoint('outbox:after-broadcast', row.kind)
  await awaitReceipt(ctx, row, hash)
}

/** Records a row mined, running its effect's `mined` hook in the same transaction. */
function markMined(ctx: OutboxContext, row: OutboxRow, receipt: TransactionReceipt | undefined): void {
  const effect = effectOf(row.kind)
  ctx.db.transaction(() => {
    const result = effect.mined ? effect.mined(ctx, row.payload, receipt, row) : undefined
    update(ctx.db, row.id, {
      status: 'mined',
      error: null,
      ...(receipt ? { block_number: Number(receipt.blockNumber), block_hash: receipt.blockHash } : {}),
      ...(result !== undefined ? { result: JSON.stringify(result) } : {}),
    })
  })()
}

async function awaitReceipt(ctx: OutboxContext, row: OutboxRow, hash: Hex): Promise<void> {
  const receipt = await waitForReceipt(ctx.client.publicClient, hash, { timeout: 120_000 })
  if (receipt.status === 'success') markMined(ctx, { ...row, txHash: hash }, receipt)
  else {
    update(ctx.db, row.id, { status: 'failed', error: `transaction ${hash} reverted in block ${receipt.blockNumber}` })
    throw chainErrors.reverted(`transaction ${hash}`, undefined, undefined)
  }
}

/** Re-sends a row that was signed and recorded but whose receipt was never recorded. */
async function resume(ctx: OutboxContext, row: OutboxRow, client: ChainClient | undefined): Promise<boolean> {
  const receipt = await ctx.client.publicClient.getTransactionReceipt({ hash: row.txHash! }).catch(() => undefined)
  if (receipt) {
    await awaitReceipt(ctx, row, row.txHash!)
    return true
  }
  // Whose account: the signed bytes need no key, only the nonce check of its account.
  const address = row.signer ?? ctx.client.account.address
  const chainNonce = await ctx.client.publicClient.getTransactionCount({ address, blockTag: 'pending' })
  if (row.rawTx && row.nonce === chainNonce) {
    // The same signed bytes: if the first broadcast did land after all, this one is refused.
    await ctx.client.publicClient.sendRawTransaction({ serializedTransaction: row.rawTx }).catch(() => undefined)
    await awaitReceipt(ctx, row, row.txHash!)
    return true
  }
  // Its nonce was used by another transaction (or the chain lost state): sign afresh.
  if (!client) return false
  await send(ctx, row, client)
  return true
}

/** A chain write that waits for its signer to be unlocked. */
export interface WaitingWrite {
  id: number
  kind: string
  key: string
  signer: Address
}

/** The flush in progress per database: one at a time in a process (see flushOutbox). */
const flushing = new WeakMap<object, Promise<unknown>>()

/**
 * Sends every pending row of the chain, in order, and waits for each receipt. A row whose
 * effect is already on-chain is marked mined without sending. A row signed by an
 * identity other than the operator is signed with that identity's client from `signers`
 * (its key unlocked in this process); without it the row waits (returned in `waiting`),
 * unless it was signed already (its raw transaction is rebroadcast without the key).
 * Rows of a kind this process did not register are left for one that did. Returns the
 * rows processed.
 */
export async function flushOutbox(ctx: OutboxContext, opts: { signers?: readonly ChainClient[] } = {}): Promise<OutboxRow[] & { waiting?: WaitingWrite[] }> {
  // One flush at a time per database: two at once (a node's anchoring schedule and a
  // request's write) would both read a row as decided and both send it, the second
  // reverting (a checkpoint's size not growing). A flush waits for the one in progress,
  // then reads the rows again.
  const previous = flushing.get(ctx.db) ?? Promise.resolve()
  const run = previous.catch(() => undefined).then(() => flushOnce(ctx, opts))
  flushing.set(ctx.db, run)
  try {
    return await run
  } finally {
    if (flushing.get(ctx.db) === run) flushing.delete(ctx.db)
  }
}

async function flushOnce(ctx: OutboxContext, opts: { signers?: readonly ChainClient[] }): Promise<OutboxRow[] & { waiting?: WaitingWrite[] }> {
  const done: OutboxRow[] & { waiting?: WaitingWrite[] } = []
  const waiting: WaitingWrite[] = []
  const signers = opts.signers ?? []
  for (const row of listOutbox(ctx.db, ctx.client.chainKey, ['decided', 'sent'])) {
    const effect = effects.get(row.kind)
    if (!effect) continue
    const client = signerOf(ctx, row.signer, signers)
    if (await effect.applied(ctx, row.payload, row)) {
      const receipt = row.txHash ? await ctx.client.publicClient.getTransactionReceipt({ hash: row.txHash }).catch(() => undefined) : undefined
      markMined(ctx, row, receipt)
    } else if (row.status === 'sent' && row.txHash) {
      if (!(await resume(ctx, row, client))) waiting.push({ id: row.id, kind: row.kind, key: row.key, signer: row.signer! })
    } else if (client) {
      await send(ctx, row, client)
    } else {
      waiting.push({ id: row.id, kind: row.kind, key: row.key, signer: row.signer! })
      continue
    }
    done.push(findById(ctx.db, row.id))
  }
  if (waiting.length) done.waiting = waiting
  return done
}

/** Pending rows signed by an identity other than the operator, not sent yet: they wait for it to be unlocked. */
export function listWaitingWrites(ctx: OutboxContext): WaitingWrite[] {
  return listOutbox(ctx.db, ctx.client.chainKey, ['decided', 'sent'])
    .filter((r) => r.signer && r.signer.toLowerCase() !== ctx.client.account.address.toLowerCase())
    .map((r) => ({ id: r.id, kind: r.kind, key: r.key, signer: r.signer! }))
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
  const hashes = new Map<number, Hex | undefined>()
  const blockHash = async (n: number) => {
    if (!hashes.has(n)) hashes.set(n, (await ctx.client.publicClient.getBlock({ blockNumber: BigInt(n) }).catch(() => undefined))?.hash ?? undefined)
    return hashes.get(n)
  }
  let reset = 0
  for (const row of listOutbox(ctx.db, ctx.client.chainKey, ['mined'])) {
    const recent = row.blockNumber === null || row.blockNumber > head - 1024
    if (!recent) continue
    if (row.blockNumber !== null && row.blockHash) {
      // Its block is still there: kept. Gone: lost, whatever the state says now (a revoke
      // whose grant was lost too reads as "not granted" and must be sent again after it).
      if ((await blockHash(row.blockNumber)) === row.blockHash) continue
    } else {
      const effect = effects.get(row.kind)
      if (!effect || (await effect.applied(ctx, row.payload, row))) continue
    }
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
  kind: string
  key: string
  payload: string
  signer: Address | null
  status: OutboxStatus
  tx_hash: Hex | null
  raw_tx: Hex | null
  nonce: number | null
  block_number: number | null
  block_hash: Hex | null
  error: string | null
  attempts: number
  result: string | null
  reported: number
}

function fromRaw(r: RawRow): OutboxRow {
  return {
    id: r.id,
    chain: r.chain,
    kind: r.kind,
    key: r.key,
    payload: JSON.parse(r.payload) as unknown,
    signer: r.signer,
    status: r.status,
    txHash: r.tx_hash,
    rawTx: r.raw_tx,
    nonce: r.nonce,
    blockNumber: r.block_number,
    blockHash: r.block_hash,
    error: r.error,
    attempts: r.attempts,
    result: r.result === null ? null : (JSON.parse(r.result) as unknown),
    reported: r.reported !== 0,
  }
}
