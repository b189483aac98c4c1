// The service layer (ARCHITECTURE.md): one function per operation, owning the transaction,
// the outbox write and the anchoring. The CLI is a thin adapter over it; the HTTP API will be another.
export { grantAccess, revokeAccess, type Grantee, type GrantReport, type RevokeReport } from './accessGrants.js'
export { type ServiceContext } from './context.js'
export { eraseSubject, type EraseReport } from './eraseSubject.js'
export { exportForPurpose } from './exportForPurpose.js'
