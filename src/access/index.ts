export { accessErrors } from './errors.js'
export {
  controllerName,
  createIdentity,
  findIdentity,
  keystorePath,
  listIdentities,
  prepareIdentity,
  ROLES,
  unlockIdentity,
  type Identity,
  type Role,
  type UnlockedIdentity,
} from './identities.js'
export { Keystore, type KeystoreFile } from './keystore.js'
export { clearErasedFromWal, controllerSecrets, datasetController, type ConsentDecision, datasetSubjects, erasedAmong, decryptRecords, eraseSubject, subjectRecords, eraseSubjects, type EraseOptions, exportDataset, importDataset, pseudonymOf, type DataPlaneContext, type ErasureReport, type ExportReport } from './dataPlane.js'
export {
  activeGrantPurposes,
  claimDataset,
  claimEffect,
  currentGrant,
  datasetOwner,
  erasureEffect,
  grantEffect,
  grantWrite,
  isAllowed,
  lastGrantRow,
  memberClient,
  purposeId,
  revokeEffect,
  revokeRows,
  revokeWrite,
  type ClaimPayload,
  type ErasurePayload,
  type GrantPayload,
  type RevokePayload,
} from './policy.js'
export { CsvRows, csvField, OutputFile, parseFlatRecord } from './exportWriter.js'
export { placeOf, readPlaces, type RecordPlace } from './recordPlaces.js'
