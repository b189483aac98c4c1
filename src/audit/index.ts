export { readChainEvidence } from './readChainEvidence.js'
export { verifyLog, type VerifyFailure, type VerifyInput, type VerifyReport } from './verifyLog.js'
export { subjectReport, type LoggedEvent, type SubjectReport } from './subjectReport.js'
export { mirrorDir, mirroredRootAt, mirrorLog, type MirrorOptions, type MirrorReport } from './mirror.js'
export {
  fetchCheckpoint,
  fetchEntries,
  fullTileRoot,
  httpTileFetch,
  isConsistent,
  isConsistentFromTiles,
  leafHashOf,
  openNoteCheckpoint,
  parseNoteVerifier,
  tileClientErrors,
  tilePathFor,
  TreeTiles,
  verifyTreeRoot,
  type NoteVerifier,
  type TileFetch,
  type VerifiedCheckpoint,
} from './tileClient.js'
