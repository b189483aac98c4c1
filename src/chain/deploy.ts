import { toFunctionSelector, type AbiFunction, type Address, type Hex } from 'viem'
import type { Db } from '../db/index.js'
import { ProvenaError } from '../errors.js'
import type { ChainClient } from './connect.js'
import { CONTRACTS, CheckpointAnchorAbi, type ContractName, type Deployment } from './contracts.js'
import { chainErrors } from './errors.js'
import { waitForReceipt } from './waitForReceipt.js'

/** The log identity a CheckpointAnchor is deployed for. */
export interface LogIdentity {
  /** Ed25519 public key that signs the checkpoint notes (32 bytes, hex). */
  logKey: Hex
  origin: string
}

/** Deploys one contract and waits for its receipt. */
export async function deployContract(client: ChainClient, name: ContractName, args: readonly unknown[]): Promise<{ address: Address; hash: Hex; blockNumber: bigint }> {
  const { abi, bytecode } = CONTRACTS[name]
  const hash = await client.walletClient.deployContract({ abi, bytecode, args, account: client.account, chain: client.chain })
  const receipt = await waitForReceipt(client.publicClient, hash)
  if (receipt.status !== 'success' || !receipt.contractAddress) throw chainErrors.reverted(`deployment of ${name}`, undefined, undefined)
  return { address: receipt.contractAddress, hash, blockNumber: receipt.blockNumber }
}

/** The core contracts, in deployment order. */
const CORE = ['AssetRegistry', 'CheckpointAnchor', 'AccessPolicy', 'ConsentVerifier', 'FederatedTraining'] as const
type CoreName = (typeof CORE)[number]

/**
 * The contracts a consortium shares, pinned in its file: a member node uses these and
 * deploys only its own CheckpointAnchor and ConsentVerifier.
 */
export type PinnedContracts = Record<'AssetRegistry' | 'AccessPolicy' | 'FederatedTraining', Address>

/**
 * Core contracts that read another one: the getter that names it, and which it is. A
 * contract comes before those that depend on it (AccessPolicy before FederatedTraining).
 */
const DEPENDS_ON: Partial<Record<CoreName, { getter: string; on: CoreName }>> = {
  AccessPolicy: { getter: 'registry', on: 'AssetRegistry' },
  ConsentVerifier: { getter: 'anchor', on: 'CheckpointAnchor' },
  FederatedTraining: { getter: 'policy', on: 'AccessPolicy' },
}

function constructorArgs(client: ChainClient, log: LogIdentity, name: CoreName, live: Map<CoreName, { address: Address }>): readonly unknown[] {
  if (name === 'CheckpointAnchor') return [client.account.address, log.logKey, log.origin]
  if (name === 'ConsentVerifier') return [live.get('CheckpointAnchor')!.address]
  if (name === 'FederatedTraining') return [live.get('AccessPolicy')!.address]
  if (name === 'AccessPolicy') return [client.account.address, live.get('AssetRegistry')!.address]
  return [client.account.address]
}

/**
 * Whether deployed `code` dispatches every function of `name`'s current ABI: a contract of
 * an earlier version (one lacking a function, e.g. ConsentVerifier before verifyPresent)
 * is stale and deployed anew. A selector is looked for without its leading zero bytes
 * (the compiler pushes it with fewer bytes).
 */
function hasEveryFunction(code: Hex, name: CoreName): boolean {
  const body = code.toLowerCase()
  return CONTRACTS[name].abi.filter((x): x is AbiFunction => x.type === 'function').every((f) => body.includes(toFunctionSelector(f).slice(2).replace(/^(00)+/, '')))
}

/** Recorded core contracts of this chain that still have code there (and, for the anchor, this log's identity). */
async function liveContracts(db: Db, client: ChainClient, log: LogIdentity, pinned?: PinnedContracts): Promise<Map<CoreName, { address: Address; blockNumber: number | null }>> {
  const rows = db.prepare('SELECT name, address, block_number FROM chain_deployments WHERE chain = ?').all(client.chainKey) as {
    name: CoreName
    address: Address
    block_number: number | null
  }[]
  const live = new Map<CoreName, { address: Address; blockNumber: number | null }>()
  for (const r of rows) {
    if (!(CORE as readonly string[]).includes(r.name)) continue
    if (pinned && r.name in pinned) continue
    const code = await client.publicClient.getCode({ address: r.address })
    if (!code || code === '0x' || !hasEveryFunction(code, r.name)) continue
    if (r.name === 'CheckpointAnchor') {
      const [operator, logKey, origin] = (await client.publicClient.readContract({ address: r.address, abi: CheckpointAnchorAbi, functionName: 'logInfo' })) as [Address, Hex, string]
      if (operator.toLowerCase() !== client.account.address.toLowerCase() || logKey.toLowerCase() !== log.logKey.toLowerCase() || origin !== log.origin) continue
    }
    live.set(r.name, { address: r.address, blockNumber: r.block_number })
  }
  // Pinned contracts are the consortium's whatever this data dir recorded: each must have
  // code of the current version, and they must name each other.
  for (const [name, address] of Object.entries(pinned ?? {}) as [CoreName, Address][]) {
    const code = await client.publicClient.getCode({ address })
    if (!code || code === '0x' || !hasEveryFunction(code, name)) throw pinnedMissing(name, address, client.chainId, Boolean(code && code !== '0x'))
    live.set(name, { address, blockNumber: 0 })
  }
  for (const [name, dep] of Object.entries(DEPENDS_ON) as [CoreName, { getter: string; on: CoreName }][]) {
    if (!pinned || !(name in pinned) || !(dep.on in pinned)) continue
    const target = (await client.publicClient.readContract({ address: pinned[name as keyof PinnedContracts], abi: CONTRACTS[name].abi, functionName: dep.getter })) as Address
    if (target.toLowerCase() !== pinned[dep.on as keyof PinnedContracts].toLowerCase()) {
      throw new ProvenaError('CONSORTIUM_CONTRACT_MISSING', `the consortium's ${name} ${pinned[name as keyof PinnedContracts]} reads ${dep.on} ${target}, not the pinned ${pinned[dep.on as keyof PinnedContracts]}`)
    }
  }
  // A contract that reads another one is live only with the one it was deployed with.
  for (const [name, dep] of Object.entries(DEPENDS_ON) as [CoreName, { getter: string; on: CoreName }][]) {
    const c = live.get(name)
    if (!c) continue
    // A contract of an earlier version may lack the getter: it is replaced like a stale one.
    const target = (await client.publicClient.readContract({ address: c.address, abi: CONTRACTS[name].abi, functionName: dep.getter }).catch(() => undefined)) as Address | undefined
    if (target?.toLowerCase() !== live.get(dep.on)?.address.toLowerCase()) live.delete(name)
  }
  return live
}

function toDeployment(client: ChainClient, live: Map<CoreName, { address: Address; blockNumber: number | null }>): Deployment {
  return {
    chainId: client.chainId,
    AssetRegistry: live.get('AssetRegistry')!.address,
    CheckpointAnchor: live.get('CheckpointAnchor')!.address,
    AccessPolicy: live.get('AccessPolicy')!.address,
    ConsentVerifier: live.get('ConsentVerifier')!.address,
    FederatedTraining: live.get('FederatedTraining')!.address,
    fromBlock: BigInt(Math.min(...[...live.values()].map((c) => c.blockNumber ?? 0))),
  }
}

/** A pinned shared contract that the chain lacks (or holds in another version). */
function pinnedMissing(name: string, address: Address, chainId: number, stale: boolean): ProvenaError {
  return new ProvenaError('CONSORTIUM_CONTRACT_MISSING', `the consortium's ${name} ${address} ${stale ? 'is of another version' : 'has no code'} on chain ${chainId}`, {
    hint: 'is this the consortium chain (--rpc-url)? A chain that lost its state needs the admin to create the consortium again',
    details: { contract: name, address },
  })
}

/**
 * The recorded deployment on this chain, if all its contracts still have code there; with
 * `pinned`, the consortium's shared contracts (CONSORTIUM_CONTRACT_MISSING when one has no code).
 */
export async function findDeployment(db: Db, client: ChainClient, log: LogIdentity, pinned?: PinnedContracts): Promise<Deployment | undefined> {
  const live = await liveContracts(db, client, log, pinned)
  return CORE.every((n) => live.has(n)) ? toDeployment(client, live) : undefined
}

/**
 * The data dir's deployment on this chain: the contracts found, and those missing
 * deployed now and recorded ("deployed on first use"). With `pinned` (a consortium
 * member), the shared contracts are the pinned ones and only the node's own
 * CheckpointAnchor and ConsentVerifier are deployed.
 */
export async function ensureDeployment(db: Db, client: ChainClient, log: LogIdentity, pinned?: PinnedContracts): Promise<{ deployment: Deployment; deployedNow: boolean }> {
  const live = await liveContracts(db, client, log, pinned)
  const missing = CORE.filter((n) => !live.has(n))
  const insert = db.prepare(
    'INSERT OR REPLACE INTO chain_deployments (chain, chain_id, name, address, tx_hash, block_number, deployed_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
  )
  for (const name of missing) {
    const d = await deployContract(client, name, constructorArgs(client, log, name, live))
    insert.run(client.chainKey, client.chainId, name, d.address, d.hash, Number(d.blockNumber), Date.now())
    live.set(name, { address: d.address, blockNumber: Number(d.blockNumber) })
  }
  return { deployment: toDeployment(client, live), deployedNow: missing.length > 0 }
}
