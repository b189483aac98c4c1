export { connectChain, ensureFunded, type ChainClient } from './connect.js'
export { AccessPolicyAbi, ASSET_KINDS, AssetRegistryAbi, CheckpointAnchorAbi, ConsentVerifierAbi, CONTRACTS, FederatedTrainingAbi, PerEntryLogAbi, type AssetKind, type Deployment } from './contracts.js'
export { deployContract, ensureDeployment, findDeployment, type LogIdentity, type PinnedContracts } from './deploy.js'
export {
  acquireEmbeddedNode,
  anvilBinary,
  EMBEDDED_CHAIN_ID,
  readNodeInfo,
  startEmbeddedNode,
  stopEmbeddedNode,
  type EmbeddedNodeInfo,
  type EmbeddedNodeLease,
} from './embeddedNode.js'
export { chainErrors } from './errors.js'
export {
  countLostWrites,
  enqueueOutbox,
  findOutbox,
  flushOutbox,
  listOutbox,
  LOST_FROM_CHAIN,
  outboxKey,
  recoverOutbox,
  revertOf,
  simulateWrite,
  type AssetPayload,
  type CheckpointPayload,
  type MemberPayload,
  type RegistrarPayload,
  type OutboxContext,
  type OutboxRow,
  type OutboxWrite,
} from './outbox.js'
export { readAnchoredCheckpoints, readAssetRoot, readCheckpointAt, readLatestAnchor, readLatestCheckpoint, readLogInfo, readRegisteredAssets, type AnchoredCheckpoint, type RegisteredAsset } from './reader.js'
export { sendContract } from './send.js'
