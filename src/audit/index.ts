export { readChainEvidence } from './readChainEvidence.js'
export { verifyLog, type VerifyFailure, type VerifyInput, type VerifyReport } from './verifyLog.js'
export { subjectReport, type LoggedEvent, type SubjectReport } from './subjectReport.js'
