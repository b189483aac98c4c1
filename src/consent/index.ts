export { readConsentFile, type BulkChange } from './bulk.js'
export { consentErrors } from './errors.js'
export { buildManifest, checkRecords, compactConsentRecords, consentVerdicts, expandConsentRecords, manifestsIncluding, MANIFEST_TYPE, MANIFEST_TYPE_V1, recordManifest, SHARED_RECORD_FIELDS, type CompactConsentRecord, type AnchoredState, type ExclusionReason, type GateDataset, type TrainingManifest } from './gate.js'
export { checkOwnPurpose, DPV_PURPOSES, resolvePurpose, type OwnPurposes, type Purpose } from './purposes.js'
export {
  checkSubjectSignature,
  CONSENT_RECORD_CONTEXT,
  CONSENT_RECORD_SCHEMA,
  CONSENT_RECORD_TYPE,
  CONSENT_RECORD_TYPE_V1,
  CONSENT_STATUS,
  consentKey,
  consentStatusAt,
  DEFAULT_CONSENT_TERMS,
  isConsentRecordType,
  encodeRecord,
  recordJson,
  stateAt,
  statementBytes,
  type ConsentRecord,
  type ConsentRecordV1,
  type ConsentRecordV2,
  type ConsentState,
  type ConsentStatusIri,
  type ConsentTerms,
} from './records.js'
export { applyConsentChanges, applyConsentChangesListed, currentRecord, recordAt, subjectPurposes, recordHistory, type AppliedBatch, type AppliedChange, type ConsentChange, type ConsentContext } from './store.js'
export { checkManifestTrust, verifyManifest, type ManifestChainFacts, type ManifestReport, type ManifestTrustRoots } from './verifyManifest.js'
export { toSolidityMapProof, verifyAbsent, verifyAbsentOnChain, verifyOnChain, verifyPresent, verifyPresentOnChain, type SolidityMapProof } from './onchain.js'
