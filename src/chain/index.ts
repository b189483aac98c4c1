export { connectChain, ensureFunded, type ChainClient } from './connect.js'
export { AccessPolicyAbi, ASSET_KINDS, AssetRegistryAbi, CheckpointAnchorAbi, ConsentVerifierAbi, CONTRACTS, FederatedTrainingAbi, PerEntryLogAbi, type AssetKind, type Deployment } from './contracts.js'
export { deployContract, ensureDeployment, findDeployment, type LogIdentity } from './deploy.js'
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
  assetEffect,
  checkpointEffect,
  countLostWrites,
  decideWrites,
  enqueueOutbox,
  faultPoint,
  findOutbox,
  findOutboxByKey,
  flushOutbox,
  isRowTransactionMined,
  listOutbox,
  listOutboxByKeyPrefix,
  listWaitingWrites,
  markReported,
  memberEffect,
  outboxKinds,
  registerOutboxEffect,
  LOST_FROM_CHAIN,
  outboxKey,
  recoverOutbox,
  revertOf,
  simulateWrite,
  type AssetPayload,
  type CheckpointPayload,
  type ContractCall,
  type MemberPayload,
  type OutboxContext,
  type OutboxEffect,
  type RegisteredEffect,
  type WaitingWrite,
  type OutboxRow,
  type OutboxWrite,
} from './outbox.js'
export { readAnchoredCheckpoints, readAssetRoot, readCheckpointAt, readLatestAnchor, readLatestCheckpoint, readLogInfo, readRegisteredAssets, type AnchoredCheckpoint, type RegisteredAsset } from './reader.js'
