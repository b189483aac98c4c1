export { findByContent, getAsset, listAssets, MIN_ID_PREFIX, normaliseId, type Asset } from './assets.js'
export { commitRecord, commitRecordAt, RECORD_DOMAIN } from './commitment.js'
export { CommitmentBuilder, workerCount } from './commitParallel.js'
export { ASSET_REGISTERED, type AssetRegisteredEvent, type RegistryContext, type RegistryWriteContext } from './context.js'
export {
  commitDataset,
  datasetManifest,
  registerDataset,
  storeDatasetRegistration,
  verifyDataset,
  type CommittedDataset,
  type DatasetManifest,
  type DatasetRegistration,
  type DatasetVerification,
  type OnProgress,
} from './dataset.js'
export { registryErrors } from './errors.js'
export { formatLineage, lineageOf, type Lineage } from './lineage.js'
export { registerModel, TRAINING_BUILD_TYPE, type ModelRegistration, type ProvenanceStatement } from './model.js'
export { openDataset, recordBytes, splitCsv, type DatasetFormat, type DatasetSource, type RecordBatch, type SourceRecord } from './readDataset.js'
export { CHUNK_RECORDS, datasetCommitments, destroySalts, ERASED_SALT, readRecordChunks, recordLine, type StoredRecords } from './recordChunks.js'
export { memberReader } from './recordMember.js'
