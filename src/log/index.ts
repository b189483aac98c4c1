export {
  formatCheckpoint,
  isCheckpointSignatureValid,
  noteKeyId,
  noteVerifierKey,
  openCheckpoint,
  signCheckpoint,
  type Checkpoint,
} from './checkpoint.js'
export { checkpointAt, EMPTY_MAP_ROOT, latestCheckpoint, listCheckpoints, recordCheckpoint, type LogSigner, type StoredCheckpoint } from './checkpointStore.js'
export { borderNodes, CompactRange, perfectRoot, rangeNodes, rootOfLeafHashes } from './compactRange.js'
export { describeEntry } from './describeEntry.js'
export {
  isLogEventType,
  LOG_EVENT,
  parseLogEvent,
  type AccessExportEvent,
  type ApiRefusedEvent,
  type AccessReleasedEvent,
  type AccessRequestedEvent,
  type AccessGrantedEvent,
  type AccessRevokedEvent,
  type AssetRegisteredEvent,
  type ConsentManifestEvent,
  type ConsentRecordEvent,
  type FlEvent,
  type ConsortiumEvent,
  type IdentityCreatedEvent,
  type LogEvent,
  type LogEventType,
  type SubjectErasedEvent,
} from './events.js'
export { logErrors } from './errors.js'
export { findLogDifference, type LogDifference } from './findLogDifference.js'
export { digest, EMPTY_ROOT, hashChildren, hashLeaf } from './hasher.js'
export { consistencyProof, inclusionProof, MemoryNodes, subtreeHash, type NodeReader } from './proofs.js'
export { SqliteLog, type LogEntry } from './sqliteLog.js'
export {
  entryBundle,
  formatTileIndex,
  formatTilePath,
  isTileInTree,
  LogTiles,
  MAX_BUNDLED_ENTRY,
  parseTilePath,
  partialTileWidth,
  TILE_HEIGHT,
  TILE_WIDTH,
  tileErrors,
  tileHashes,
  type TilePath,
  type TileResponse,
} from './tiles.js'
export { rootFromInclusionProof, rootsFromConsistencyProof, verifyConsistency, verifyInclusion } from './verify.js'
export {
  encodeMapProof,
  keyBit,
  LeavesNode,
  MAP_EMPTY,
  mapLeafHash,
  mapRootOf,
  proveKey,
  proveKeys,
  rootFromMapProof,
  rootFromMapProofBytes,
  sortLeaves,
  verifyMapMultiProof,
  verifyMapProof,
  verifyMapProofBytes,
  type MapMultiProof,
  type MapNode,
  type MapProof,
} from './sparseMap.js'
export { MemoryMap } from './memoryMap.js'
export { StoredMap, type MapChange } from './storedMap.js'
