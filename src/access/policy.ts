import { keccak256, toHex, type Abi, type Address, type Hex } from 'viem'
import { AccessPolicyAbi, chainErrors, connectChain, ensureFunded, revertOf, type ChainClient, type Deployment } from '../chain/index.js'
import type { UnlockedIdentity } from './identities.js'

/** A purpose (a W3C DPV concept like dpv:ScientificResearch, or the controller's own id) as AccessPolicy stores it. */
export const purposeId = (purpose: string): Hex => keccak256(toHex(purpose))

/** A chain client that signs as a member's own EVM account (funded on a development node). */
export async function memberClient(operator: ChainClient, member: UnlockedIdentity): Promise<ChainClient> {
  const client = await connectChain(operator.rpcUrl, member.evmPrivateKey, { embedded: operator.chainKey === 'embedded' })
  await ensureFunded(client)
  return client
}

/** Sends an AccessPolicy call as `client`'s account: simulated first (a revert is named), then mined. */
async function send(client: ChainClient, deployment: Deployment, functionName: string, args: readonly unknown[]): Promise<Hex> {
  try {
    const { request } = await client.publicClient.simulateContract({ address: deployment.AccessPolicy, abi: AccessPolicyAbi as Abi, functionName, args, account: client.account } as never)
    const hash = await client.walletClient.writeContract(request as never)
    const receipt = await client.publicClient.waitForTransactionReceipt({ hash })
    if (receipt.status !== 'success') throw chainErrors.reverted(`AccessPolicy.${functionName}`, undefined, undefined)
    return hash
  } catch (error) {
    const revert = revertOf(error)
    if (revert) throw chainErrors.reverted(`AccessPolicy.${functionName}`, revert.data?.errorName, revert.data?.args, error)
    throw error
  }
}

/** The controller that claimed a dataset on-chain (the zero address if none). */
export async function datasetOwner(client: ChainClient, deployment: Deployment, dataset: string): Promise<Address> {
  return (await client.publicClient.readContract({ address: deployment.AccessPolicy, abi: AccessPolicyAbi, functionName: 'ownerOf', args: [`0x${dataset}`] })) as Address
}

/**
 * Names the dataset's controller in AccessPolicy, once. `registrant` signs: the account that
 * registered the dataset in AssetRegistry (the node's operator). Returns the transaction,
 * or null when `controller` owns it already.
 */
export async function claimDataset(registrant: ChainClient, deployment: Deployment, dataset: string, controller: Address): Promise<Hex | null> {
  if ((await datasetOwner(registrant, deployment, dataset)).toLowerCase() === controller.toLowerCase()) return null
  return send(registrant, deployment, 'claimDataset', [`0x${dataset}`, controller])
}

/** Grants `grantee` the dataset for `purpose` until `expiresAt` (seconds; 0 = none). */
export async function grantAccess(client: ChainClient, deployment: Deployment, dataset: string, grantee: Address, purpose: string, expiresAt: number): Promise<Hex> {
  return send(client, deployment, 'grant', [`0x${dataset}`, grantee, purposeId(purpose), BigInt(expiresAt)])
}

/**
 * Revokes the grantee's active grants of the dataset: for `purpose`, or, without one,
 * for every purpose it was ever granted (read from the AccessGranted events).
 * Returns the revoked purpose ids.
 */
export async function revokeAccess(client: ChainClient, deployment: Deployment, dataset: string, grantee: Address, purpose?: string): Promise<Hex[]> {
  let purposes: Hex[]
  if (purpose !== undefined) purposes = [purposeId(purpose)]
  else {
    const events = await client.publicClient.getContractEvents({
      address: deployment.AccessPolicy,
      abi: AccessPolicyAbi,
      eventName: 'AccessGranted',
      args: { dataset: `0x${dataset}`, grantee },
      fromBlock: deployment.fromBlock,
    })
    purposes = [...new Set(events.map((e) => (e.args as { purpose: Hex }).purpose))]
  }
  const revoked: Hex[] = []
  for (const p of purposes) {
    const g = (await client.publicClient.readContract({ address: deployment.AccessPolicy, abi: AccessPolicyAbi, functionName: 'grantOf', args: [`0x${dataset}`, grantee, p] })) as { active: boolean }
    if (!g.active) continue
    await send(client, deployment, 'revoke', [`0x${dataset}`, grantee, p])
    revoked.push(p)
  }
  return revoked
}

/** Whether AccessPolicy allows `account` to use the dataset for `purpose` at this block. */
export async function isAllowed(client: ChainClient, deployment: Deployment, dataset: string, account: string, purpose: string): Promise<boolean> {
  return (await client.publicClient.readContract({
    address: deployment.AccessPolicy,
    abi: AccessPolicyAbi,
    functionName: 'isAllowed',
    args: [`0x${dataset}`, account as Address, purposeId(purpose)],
  })) as boolean
}

/** Announces an erasure on-chain (AccessPolicy.SubjectErased) for grantees to act on. */
export async function announceErasure(client: ChainClient, deployment: Deployment, pseudonym: string, datasets: string[]): Promise<Hex> {
  return send(client, deployment, 'announceErasure', [`0x${pseudonym}`, datasets.map((d) => `0x${d}`)])
}
