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
export { clearErasedFromWal, controllerSecrets, datasetController, type ConsentDecision, datasetSubjects, erasedAmong, decryptRecords, eraseSubject, subjectRecords, eraseSubjects, exportDataset, importDataset, pseudonymOf, type DataPlaneContext, type ErasureReport, type ExportReport } from './dataPlane.js'
export { announceErasure, claimDataset, datasetOwner, grantAccess, isAllowed, memberClient, purposeId, revokeAccess } from './policy.js'
export { CsvRows, csvField, OutputFile, parseFlatRecord } from './exportWriter.js'
export { placeOf, readPlaces, type RecordPlace } from './recordPlaces.js'
