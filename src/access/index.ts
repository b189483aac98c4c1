export { accessErrors } from './errors.js'
export {
  controllerName,
  createIdentity,
  findIdentity,
  keystorePath,
  listIdentities,
  openKeystore,
  prepareIdentity,
  ROLES,
  unlockIdentities,
  unlockIdentity,
  type Identity,
  type Role,
  type UnlockedIdentity,
} from './identities.js'
export { kdfDerivations, Keystore, type KeystoreFile } from './keystore.js'
export {
  clearErasedFromWal,
  controllerSecrets,
  datasetController,
  type ConsentDecision,
  datasetSubjects,
  erasedAmong,
  decryptRecords,
  eraseSubject,
  subjectRecords,
  eraseSubjects,
  exportDataset,
  importDataset,
  importedDataset,
  logExportEvent,
  pseudonymOf,
  selectRecords,
  type DataPlaneContext,
  type ErasureReport,
  type ExportReport,
  type ImportedDataset,
  type RecordSelection,
} from './dataPlane.js'
export {
  ACCESS_RELEASE_TYPE,
  ACCESS_REQUEST_TYPE,
  buildKeyRelease,
  openKeyRelease,
  publishSegments,
  releaseAad,
  segmentsFromDir,
  segmentsFromStore,
  writeReleasedRecords,
  type AccessRequestBody,
  type KeyReleaseBody,
  type OpenedRelease,
  type SegmentSource,
} from './release.js'
export { announceErasure, claimDataset, datasetOwner, grantAccess, isAllowed, memberClient, purposeId, revokeAccess } from './policy.js'
export { CsvRows, csvField, OutputFile, parseFlatRecord } from './exportWriter.js'
export { placeOf, readPlaces, type RecordPlace } from './recordPlaces.js'
