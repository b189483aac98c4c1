// The service layer (ARCHITECTURE.md): one function per operation, owning the transaction,
// the outbox write and the anchoring. The CLI is a thin adapter over it; the HTTP API will be another.
export { type NodeContext, type ServiceContext } from './context.js'
export { applyConsentBatch, ConsentGroupCommit, consentContext, GROUP_COMMIT_MAX_CHANGES, type GroupedBatch, importConsent, recordConsent, requireController, runTrainingGate, type GateResult, type MapCheckpoint, type SubjectChange } from './consent.js'
export { grantAccess, revokeAccess, type Grantee, type GrantReport, type RevokeReport } from './accessGrants.js'
export { eraseSubject, type EraseReport } from './eraseSubject.js'
export { exportForPurpose } from './exportForPurpose.js'
export { importEncrypted, registerDatasetFile, registerModelFile, registryContext, type AnchoredAt } from './registry.js'
export { exportReleased } from './accessExport.js'
export { nodeMembers, type KnownMember, type MemberDirectory } from './accessMembers.js'
export { releaseAccess, releasedSegment, RELEASE_TTL_MS, type AccessReleaseReport } from './accessRelease.js'
export { requestAccess, REQUEST_TTL_MS, type AccessRequestReport } from './accessRequest.js'
export { addMember, checkEndpoint, createConsortium, createIdentity, isConsortiumAdmin, joinConsortium, manifestTrustRoots, memberEntryOf, openTrustRoots, ownLog, readCardFile, showIdentity, trustRootsOf, updateConsortium, type CreatedIdentity, type NodeAdvert, type TrustRootOptions } from './consortium.js'
export {
  acceptDelivery,
  aggregateAcrossNodes,
  createTaskAcrossNodes,
  FL_UPDATE_BODY_LIMIT,
  flAutoAggregator,
  flMembers,
  flNodeContext,
  httpExchange,
  importTaskFromExchange,
  modelForParticipant,
  nodeExchangeDir,
  participantOf,
  mayReadTask,
  publishTask,
  resolveParticipant,
  runClientAcrossNodes,
  serialised,
  submitAcrossNodes,
  taskForParticipant,
  taskSpecOf,
  TASK_MESSAGE_TTL_MS,
} from './flNodes.js'
export { assetListing, showAsset, type AssetSummary } from './assets.js'
export { exportFromNode } from './accessRemote.js'
export { cosignCheckpoint, cosignCheckpointNow, missingCosigners, type CosignReport } from './cosign.js'
export { checkQuorum, quorumConsortium, verifyNode, type NodeVerifyReport } from './verifyNode.js'
export { logStatus, type LogStatus } from './logStatus.js'
