import { keccak256, toHex, type Abi, type Address, type Hex } from 'viem'
import {
  AccessPolicyAbi,
  connectChain,
  decideWrites,
  enqueueOutbox,
  ensureFunded,
  findOutbox,
  flushOutbox,
  listOutboxByKeyPrefix,
  registerOutboxEffect,
  simulateWrite,
  type ChainClient,
  type Deployment,
  type OutboxContext,
  type OutboxWrite,
} from '../chain/index.js'
import type { UnlockedIdentity } from './identities.js'

/** A purpose (a W3C DPV concept like dpv:ScientificResearch, or the controller's own id) as AccessPolicy stores it. */
export const purposeId = (purpose: string): Hex => keccak256(toHex(purpose))

const memberClients = new WeakMap<ChainClient, Map<string, Promise<ChainClient>>>()

/**
 * A chain client that signs as a member's own EVM account (funded on a development
 * node). Connected and funded once per operator session: a federated round asks for it
 * at every commitment.
 */
export function memberClient(operator: ChainClient, member: UnlockedIdentity): Promise<ChainClient> {
  let clients = memberClients.get(operator)
  if (!clients) memberClients.set(operator, (clients = new Map()))
  const key = member.address.toLowerCase()
  let client = clients.get(key)
  if (!client) {
    client = (async () => {
      const c = await connectChain(operator.rpcUrl, member.evmPrivateKey, { embedded: operator.chainKey === 'embedded' })
      await ensureFunded(c)
      return c
    })()
    client.catch(() => clients.delete(key))
    clients.set(key, client)
  }
  return client
}

const bytes32 = (hex: string) => `0x${hex.replace(/^0x/, '')}` as Hex
const lower = (a: string) => a.toLowerCase()

async function grantOf(ctx: OutboxContext, dataset: string, grantee: Address, purpose: Hex) {
  return (await ctx.client.publicClient.readContract({ address: ctx.deployment.AccessPolicy, abi: AccessPolicyAbi, functionName: 'grantOf', args: [bytes32(dataset), grantee, purpose] })) as {
    grantedAt: bigint
    expiresAt: bigint
    active: boolean
  }
}

// The access domain's chain writes, registered with the one outbox (chain/outbox.ts).

/** The registrant (the operator) names a dataset's controller in AccessPolicy. */
export interface ClaimPayload {
  dataset: string
  controller: Address
}
export const claimEffect = registerOutboxEffect<ClaimPayload>({
  kind: 'claim',
  key: (p) => `claim:${p.dataset}`,
  applied: async (ctx, p) => lower(await datasetOwner(ctx.client, ctx.deployment, p.dataset)) === lower(p.controller),
  call: async (ctx, p) => ({ address: ctx.deployment.AccessPolicy, abi: AccessPolicyAbi as Abi, functionName: 'claimDataset', args: [bytes32(p.dataset), p.controller] }),
})

/**
 * A controller's grant, signed by the controller. `seq` counts the grants decided before
 * for the same dataset, grantee and purpose: a grant again after a revoke is a new write.
 */
export interface GrantPayload {
  dataset: string
  grantee: Address
  purpose: string
  expiresAt: number
  seq: number
}
const grantPrefix = (dataset: string, grantee: Address, purpose: Hex) => `grant:${dataset}:${lower(grantee)}:${purpose}:`
export const grantEffect = registerOutboxEffect<GrantPayload>({
  kind: 'grant',
  key: (p) => `${grantPrefix(p.dataset, p.grantee, purposeId(p.purpose))}${p.expiresAt}:${p.seq}`,
  applied: async (ctx, p) => {
    const g = await grantOf(ctx, p.dataset, p.grantee, purposeId(p.purpose))
    return g.active && Number(g.expiresAt) === p.expiresAt
  },
  call: async (ctx, p) => ({
    address: ctx.deployment.AccessPolicy,
    abi: AccessPolicyAbi as Abi,
    functionName: 'grant',
    args: [bytes32(p.dataset), p.grantee, purposeId(p.purpose), BigInt(p.expiresAt)],
  }),
})

/** A controller's revocation of one purpose's grant; `seq` counts the revocations before it. */
export interface RevokePayload {
  dataset: string
  grantee: Address
  /** The purpose id (bytes32), as AccessPolicy keys grants. */
  purpose: Hex
  seq: number
}
const revokePrefix = (dataset: string, grantee: Address, purpose?: Hex) => `revoke:${dataset}:${lower(grantee)}:${purpose ? `${purpose}:` : ''}`
export const revokeEffect = registerOutboxEffect<RevokePayload>({
  kind: 'revoke',
  key: (p) => `${revokePrefix(p.dataset, p.grantee, p.purpose)}${p.seq}`,
  applied: async (ctx, p) => !(await grantOf(ctx, p.dataset, p.grantee, p.purpose)).active,
  call: async (ctx, p) => ({ address: ctx.deployment.AccessPolicy, abi: AccessPolicyAbi as Abi, functionName: 'revoke', args: [bytes32(p.dataset), p.grantee, p.purpose] }),
})

/** A controller's announcement of an erasure (AccessPolicy.SubjectErased), once per subject. */
export interface ErasurePayload {
  controller: Address
  pseudonym: string
  datasets: string[]
  /** The erasure's own facts, for a rerun to report what was erased. */
  records: number
  logIndex: number
}
export const erasureEffect = registerOutboxEffect<ErasurePayload>({
  kind: 'erasure',
  key: (p) => `erasure:${lower(p.controller)}:${p.pseudonym}`,
  applied: async (ctx, p) =>
    (
      await ctx.client.publicClient.getContractEvents({
        address: ctx.deployment.AccessPolicy,
        abi: AccessPolicyAbi,
        eventName: 'SubjectErased',
        args: { controller: p.controller, pseudonym: bytes32(p.pseudonym) },
        fromBlock: ctx.deployment.fromBlock,
      })
    ).length > 0,
  call: async (ctx, p) => ({ address: ctx.deployment.AccessPolicy, abi: AccessPolicyAbi as Abi, functionName: 'announceErasure', args: [bytes32(p.pseudonym), p.datasets.map(bytes32)] }),
})

/** The controller that claimed a dataset on-chain (the zero address if none). */
export async function datasetOwner(client: ChainClient, deployment: Deployment, dataset: string): Promise<Address> {
  return (await client.publicClient.readContract({ address: deployment.AccessPolicy, abi: AccessPolicyAbi, functionName: 'ownerOf', args: [bytes32(dataset)] })) as Address
}

/**
 * Names the dataset's controller in AccessPolicy, once, through the outbox. The operator
 * signs (the account that registered the dataset in AssetRegistry). Returns the
 * transaction, or null when `controller` owned it already.
 */
export async function claimDataset(outbox: OutboxContext, dataset: string, controller: Address): Promise<Hex | null> {
  const write = claimEffect.write({ dataset, controller })
  if (!findOutbox(outbox.db, outbox.client.chainKey, write) && (await claimEffect.applied(outbox, write.payload, undefined))) return null
  await simulateWrite(outbox, write)
  decideWrites(outbox.db, () => enqueueOutbox(outbox.db, outbox.client.chainKey, write))
  await flushOutbox(outbox)
  return findOutbox(outbox.db, outbox.client.chainKey, write)?.txHash ?? null
}

/** The grant AccessPolicy holds now for (dataset, grantee, purpose). */
export async function currentGrant(outbox: OutboxContext, dataset: string, grantee: Address, purpose: string): Promise<{ active: boolean; expiresAt: number }> {
  const g = await grantOf(outbox, dataset, grantee, purposeId(purpose))
  return { active: g.active, expiresAt: Number(g.expiresAt) }
}

/** The decided write of a new grant (the next in its sequence), signed by `controller`. */
export function grantWrite(outbox: OutboxContext, o: Omit<GrantPayload, 'seq'>, controller: Address): OutboxWrite<GrantPayload> {
  const seq = listOutboxByKeyPrefix(outbox.db, outbox.client.chainKey, 'grant', grantPrefix(o.dataset, o.grantee, purposeId(o.purpose))).length
  return grantEffect.write({ ...o, grantee: o.grantee, seq }, controller)
}

/** The latest grant decided for (dataset, grantee, purpose), if any. */
export function lastGrantRow(outbox: OutboxContext, dataset: string, grantee: Address, purpose: string) {
  return listOutboxByKeyPrefix(outbox.db, outbox.client.chainKey, 'grant', grantPrefix(dataset, grantee, purposeId(purpose))).at(-1)
}

/** The decided write of a revocation of one purpose (the next in its sequence), signed by `controller`. */
export function revokeWrite(outbox: OutboxContext, o: Omit<RevokePayload, 'seq'>, controller: Address): OutboxWrite<RevokePayload> {
  const seq = listOutboxByKeyPrefix(outbox.db, outbox.client.chainKey, 'revoke', revokePrefix(o.dataset, o.grantee, o.purpose)).length
  return revokeEffect.write({ ...o, seq }, controller)
}

/** The revocations decided for (dataset, grantee[, purpose]), oldest first. */
export function revokeRows(outbox: OutboxContext, dataset: string, grantee: Address, purpose?: Hex) {
  return listOutboxByKeyPrefix(outbox.db, outbox.client.chainKey, 'revoke', revokePrefix(dataset, grantee, purpose))
}

/**
 * The purposes of the grantee's active grants of the dataset: `purpose` only, or, without
 * one, every purpose it was ever granted (read from the AccessGranted events).
 */
export async function activeGrantPurposes(outbox: OutboxContext, dataset: string, grantee: Address, purpose?: string): Promise<Hex[]> {
  let purposes: Hex[]
  if (purpose !== undefined) purposes = [purposeId(purpose)]
  else {
    const events = await outbox.client.publicClient.getContractEvents({
      address: outbox.deployment.AccessPolicy,
      abi: AccessPolicyAbi,
      eventName: 'AccessGranted',
      args: { dataset: bytes32(dataset), grantee },
      fromBlock: outbox.deployment.fromBlock,
    })
    purposes = [...new Set(events.map((e) => (e.args as { purpose: Hex }).purpose))]
  }
  const active: Hex[] = []
  for (const p of purposes) if ((await grantOf(outbox, dataset, grantee, p)).active) active.push(p)
  return active
}

/** Whether AccessPolicy allows `account` to use the dataset for `purpose` at this block, its grant not past its expiry by `now`. */
export async function isAllowed(client: ChainClient, deployment: Deployment, dataset: string, account: string, purpose: string, now = Date.now()): Promise<boolean> {
  const read = (functionName: 'isAllowed' | 'grantOf') =>
    client.publicClient.readContract({ address: deployment.AccessPolicy, abi: AccessPolicyAbi, functionName, args: [bytes32(dataset), account as Address, purposeId(purpose)] })
  if (!((await read('isAllowed')) as boolean)) return false
  // The contract compares the expiry with its latest block's time, which stands still while
  // nothing is mined (the embedded chain mines on demand): a grant past its expiry by this
  // node's clock is over, whatever that block says.
  const g = (await read('grantOf')) as { expiresAt: bigint; active: boolean }
  return !(g.active && g.expiresAt !== 0n && Number(g.expiresAt) * 1000 <= now)
}
