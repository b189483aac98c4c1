import type { Address, Hex, PublicClient } from 'viem'
import { parseAbiItem } from 'viem'
import { ASSET_KINDS, AssetRegistryAbi, CheckpointAnchorAbi, type AssetKind } from './contracts.js'

/** A checkpoint as anchored on-chain, with the note signature from its event. */
export interface AnchoredCheckpoint {
  index: number
  treeSize: number
  rootHash: Buffer
  mapRoot: Buffer
  timestamp: number
  noteSignature: Buffer | undefined
  /**
   * The witnesses' cosignatures emitted for it (with the anchoring, then added by
   * addCosignatures), 76 bytes each: key id ‖ timestamp ‖ signature, names not included.
   */
  cosignatures: Buffer[]
  blockNumber: bigint | undefined
  transactionHash: Hex | undefined
}

/** An AssetRegistered event. */
export interface RegisteredAsset {
  id: Hex
  owner: Address
  kind: AssetKind
  root: Hex
  metadataDigest: Hex
  parents: Hex[]
  blockNumber: bigint
  transactionHash: Hex
}

const unhex = (h: Hex) => Buffer.from(h.slice(2), 'hex')

const ANCHORED_EVENT = parseAbiItem('event CheckpointAnchored(uint256 indexed index, uint64 treeSize, bytes32 rootHash, bytes32 mapRoot, bytes noteSignature, bytes cosignatures)')
const COSIGNATURES_ADDED_EVENT = parseAbiItem('event CosignaturesAdded(uint256 indexed index, uint64 treeSize, bytes cosignatures)')

/** Bytes of one packed cosignature on-chain: key id (4) ‖ timestamp (8) ‖ signature (64). */
export const PACKED_COSIGNATURE_BYTES = 76

/** Packed cosignatures from an event, 76 bytes each (a trailing fragment is dropped: the contract refuses one). */
function splitCosignatures(packed: Hex | undefined): Buffer[] {
  const raw = packed ? unhex(packed) : Buffer.alloc(0)
  const out: Buffer[] = []
  for (let i = 0; i + PACKED_COSIGNATURE_BYTES <= raw.length; i += PACKED_COSIGNATURE_BYTES) out.push(raw.subarray(i, i + PACKED_COSIGNATURE_BYTES))
  return out
}

/** The log identity recorded in a CheckpointAnchor. */
export async function readLogInfo(client: PublicClient, anchor: Address): Promise<{ operator: Address; logKey: Buffer; origin: string }> {
  const [operator, logKey, origin] = (await client.readContract({ address: anchor, abi: CheckpointAnchorAbi, functionName: 'logInfo' })) as [Address, Hex, string]
  return { operator, logKey: unhex(logKey), origin }
}

/** `latest()` of a CheckpointAnchor: the anchored tree size and root. */
export async function readLatestAnchor(client: PublicClient, anchor: Address): Promise<{ treeSize: number; rootHash: Buffer }> {
  const [treeSize, rootHash] = (await client.readContract({ address: anchor, abi: CheckpointAnchorAbi, functionName: 'latest' })) as [bigint, Hex]
  return { treeSize: Number(treeSize), rootHash: unhex(rootHash) }
}

/** Every anchored checkpoint, oldest first, from contract storage plus the events' signatures. */
export async function readAnchoredCheckpoints(client: PublicClient, anchor: Address, fromBlock = 0n): Promise<AnchoredCheckpoint[]> {
  const count = Number(await client.readContract({ address: anchor, abi: CheckpointAnchorAbi, functionName: 'checkpointCount' }))
  const [events, added] = await Promise.all([
    client.getLogs({ address: anchor, event: ANCHORED_EVENT, fromBlock, toBlock: 'latest' }),
    client.getLogs({ address: anchor, event: COSIGNATURES_ADDED_EVENT, fromBlock, toBlock: 'latest' }),
  ])
  const byIndex = new Map(events.map((e) => [Number(e.args.index), e]))
  const later = new Map<number, Buffer[]>()
  for (const e of added) later.set(Number(e.args.index), [...(later.get(Number(e.args.index)) ?? []), ...splitCosignatures(e.args.cosignatures)])
  const out: AnchoredCheckpoint[] = []
  for (let i = 0; i < count; i++) {
    const c = (await client.readContract({ address: anchor, abi: CheckpointAnchorAbi, functionName: 'checkpointAt', args: [BigInt(i)] })) as {
      treeSize: bigint
      timestamp: bigint
      rootHash: Hex
      mapRoot: Hex
    }
    const e = byIndex.get(i)
    out.push({
      index: i,
      treeSize: Number(c.treeSize),
      rootHash: unhex(c.rootHash),
      mapRoot: unhex(c.mapRoot),
      timestamp: Number(c.timestamp),
      noteSignature: e?.args.noteSignature ? unhex(e.args.noteSignature) : undefined,
      cosignatures: [...splitCosignatures(e?.args.cosignatures), ...(later.get(i) ?? [])],
      blockNumber: e?.blockNumber ?? undefined,
      transactionHash: e?.transactionHash ?? undefined,
    })
  }
  return out
}

/** Every AssetRegistered event of a registry. */
export async function readRegisteredAssets(client: PublicClient, registry: Address, fromBlock = 0n): Promise<RegisteredAsset[]> {
  const events = await client.getContractEvents({ address: registry, abi: AssetRegistryAbi, eventName: 'AssetRegistered', fromBlock, toBlock: 'latest' })
  return events.map((e) => {
    const a = e.args as { id: Hex; owner: Address; kind: number; root: Hex; metadataDigest: Hex; parents: readonly Hex[] }
    return {
      id: a.id,
      owner: a.owner,
      kind: ASSET_KINDS[a.kind]!,
      root: a.root,
      metadataDigest: a.metadataDigest,
      parents: [...a.parents],
      blockNumber: e.blockNumber,
      transactionHash: e.transactionHash,
    }
  })
}

/** Anchored checkpoint number `index`, or undefined when there is none. */
export async function readCheckpointAt(client: PublicClient, anchor: Address, index: number): Promise<{ treeSize: number; rootHash: Buffer; mapRoot: Buffer; timestamp: number } | undefined> {
  const count = Number(await client.readContract({ address: anchor, abi: CheckpointAnchorAbi, functionName: 'checkpointCount' }))
  if (!Number.isInteger(index) || index < 0 || index >= count) return undefined
  const c = (await client.readContract({ address: anchor, abi: CheckpointAnchorAbi, functionName: 'checkpointAt', args: [BigInt(index)] })) as { treeSize: bigint; timestamp: bigint; rootHash: Hex; mapRoot: Hex }
  return { treeSize: Number(c.treeSize), rootHash: unhex(c.rootHash), mapRoot: unhex(c.mapRoot), timestamp: Number(c.timestamp) }
}

/** The root an asset is registered with in AssetRegistry, or undefined when not registered. */
export async function readAssetRoot(client: PublicClient, registry: Address, id: string): Promise<Buffer | undefined> {
  const hexId = `0x${id.replace(/^0x/, '')}` as Hex
  if (!(await client.readContract({ address: registry, abi: AssetRegistryAbi, functionName: 'isRegistered', args: [hexId] }))) return undefined
  const a = (await client.readContract({ address: registry, abi: AssetRegistryAbi, functionName: 'getAsset', args: [hexId] })) as { root: Hex }
  return unhex(a.root)
}

/** The latest anchored checkpoint with its index, or undefined before the first. */
export async function readLatestCheckpoint(client: PublicClient, anchor: Address): Promise<{ index: number; treeSize: number; rootHash: Buffer; mapRoot: Buffer; timestamp: number } | undefined> {
  const count = Number(await client.readContract({ address: anchor, abi: CheckpointAnchorAbi, functionName: 'checkpointCount' }))
  if (count === 0) return undefined
  const c = await readCheckpointAt(client, anchor, count - 1)
  return c && { index: count - 1, ...c }
}
