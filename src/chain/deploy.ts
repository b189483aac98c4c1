import type { Address, Hex } from 'viem'
import type { Db } from '../db/index.js'
import type { ChainClient } from './connect.js'
import { CONTRACTS, CheckpointAnchorAbi, type ContractName, type Deployment } from './contracts.js'
import { chainErrors } from './errors.js'

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
  const receipt = await client.publicClient.waitForTransactionReceipt({ hash })
  if (receipt.status !== 'success' || !receipt.contractAddress) throw chainErrors.reverted(`deployment of ${name}`, undefined, undefined)
  return { address: receipt.contractAddress, hash, blockNumber: receipt.blockNumber }
}

/** The recorded deployment on this chain, if its contracts still have code there. */
export async function findDeployment(db: Db, client: ChainClient, log: LogIdentity): Promise<Deployment | undefined> {
  const rows = db.prepare('SELECT name, address, block_number FROM chain_deployments WHERE chain = ?').all(client.chainKey) as {
    name: string
    address: Address
    block_number: number | null
  }[]
  const byName = new Map(rows.map((r) => [r.name, r]))
  const registry = byName.get('AssetRegistry')
  const anchor = byName.get('CheckpointAnchor')
  if (!registry || !anchor) return undefined
  for (const r of [registry, anchor]) {
    const code = await client.publicClient.getCode({ address: r.address })
    if (!code || code === '0x') return undefined
  }
  const [operator, logKey, origin] = (await client.publicClient.readContract({ address: anchor.address, abi: CheckpointAnchorAbi, functionName: 'logInfo' })) as [Address, Hex, string]
  if (operator.toLowerCase() !== client.account.address.toLowerCase() || logKey.toLowerCase() !== log.logKey.toLowerCase() || origin !== log.origin) return undefined
  return {
    chainId: client.chainId,
    AssetRegistry: registry.address,
    CheckpointAnchor: anchor.address,
    fromBlock: BigInt(Math.min(registry.block_number ?? 0, anchor.block_number ?? 0)),
  }
}

/**
 * Deploys AssetRegistry and CheckpointAnchor for this log and operator, and records
 * them as this data dir's deployment on the chain (replacing a stale record).
 */
export async function deployCore(db: Db, client: ChainClient, log: LogIdentity): Promise<Deployment> {
  const registry = await deployContract(client, 'AssetRegistry', [client.account.address])
  const anchor = await deployContract(client, 'CheckpointAnchor', [client.account.address, log.logKey, log.origin])
  const insert = db.prepare(
    'INSERT OR REPLACE INTO chain_deployments (chain, chain_id, name, address, tx_hash, block_number, deployed_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
  )
  db.transaction(() => {
    insert.run(client.chainKey, client.chainId, 'AssetRegistry', registry.address, registry.hash, Number(registry.blockNumber), Date.now())
    insert.run(client.chainKey, client.chainId, 'CheckpointAnchor', anchor.address, anchor.hash, Number(anchor.blockNumber), Date.now())
  })()
  return { chainId: client.chainId, AssetRegistry: registry.address, CheckpointAnchor: anchor.address, fromBlock: registry.blockNumber }
}

/** The data dir's deployment on this chain: found, or deployed now ("deployed on first use"). */
export async function ensureDeployment(db: Db, client: ChainClient, log: LogIdentity): Promise<{ deployment: Deployment; deployedNow: boolean }> {
  const found = await findDeployment(db, client, log)
  if (found) return { deployment: found, deployedNow: false }
  return { deployment: await deployCore(db, client, log), deployedNow: true }
}
