// The events Provena writes to its log, as one typed union that writers and the verifier
// share. Each entry is RFC 8785 JSON with a string `type`; readers decide what an entry is
// by that parsed field, never by a substring of its bytes (a dataset may be named
// `provena.consent.record/notes.csv`). The types live here, at the bottom of the layer
// table, because every domain writes to the log and the verifier (audit) reads them all.
import type { DsseEnvelope } from '../crypto/index.js'

/** Every event type in the log, by name. A new event gets its name here and its shape below. */
export const LOG_EVENT = {
  identityCreated: 'provena.identity.created/v1',
  assetRegistered: 'provena.asset.registered/v1',
  consentRecord: 'provena.consent.record/v2',
  /** Consent records logged before the ISO/IEC TS 27560 additions: still read and verified. */
  consentRecordV1: 'provena.consent.record/v1',
  consentManifest: 'provena.consent.manifest/v1',
  accessGranted: 'provena.access.granted/v1',
  accessRevoked: 'provena.access.revoked/v1',
  accessExport: 'provena.access.export/v1',
  accessRequested: 'provena.access.requested/v1',
  accessReleased: 'provena.access.released/v1',
  subjectErased: 'provena.subject.erased/v1',
  flTask: 'provena.fl.task/v1',
  flUpdateCommitted: 'provena.fl.update-committed/v1',
  flUpdateRefused: 'provena.fl.update-refused/v1',
  flRound: 'provena.fl.round/v1',
  consortiumCreated: 'provena.consortium.created/v1',
  consortiumJoined: 'provena.consortium.joined/v1',
  consortiumMemberAdded: 'provena.consortium.member-added/v1',
  consortiumUpdated: 'provena.consortium.updated/v1',
  flTaskCancelled: 'provena.fl.task-cancelled/v1',
  apiRefused: 'provena.api.refused/v1',
} as const

export type LogEventType = (typeof LOG_EVENT)[keyof typeof LOG_EVENT]

interface EventBase<T extends LogEventType> {
  type: T
  /** The DID that acted. */
  actor: string
  /** ISO 8601. */
  time: string
}

export interface IdentityCreatedEvent extends EventBase<typeof LOG_EVENT.identityCreated> {
  identity: { name: string; role: string; did: string; x25519PublicKey: string; address: string }
}

/** The log entry of a registration. */
export interface AssetRegisteredEvent extends EventBase<typeof LOG_EVENT.assetRegistered> {
  asset: {
    id: string
    kind: string
    name: string
    root: string
    metadataDigest: string
    parents: string[]
    records?: number
  }
  /**
   * For a model or artifact: its signed provenance (a DSSE envelope of an in-toto
   * Statement), whose SHA-256 over RFC 8785 JSON is the metadata digest. In the log so that
   * an outsider checks lineage from the exported entries alone.
   */
  statement?: DsseEnvelope
}

/**
 * A consent record (consent/records.ts has all its ISO/IEC TS 27560 fields): what the log
 * and the verifier rely on is its subject and purpose, the consent map's key. It has no
 * actor or time of its own (`controller`, `recordedAt`).
 */
export interface ConsentRecordEvent {
  type: typeof LOG_EVENT.consentRecord | typeof LOG_EVENT.consentRecordV1
  subject: string
  purpose: { id: string }
  [field: string]: unknown
}

export interface ConsentManifestEvent extends EventBase<typeof LOG_EVENT.consentManifest> {
  manifest: string
  dataset: string
  purpose: string
  at: string
  checkpoint: number
  included: number
  excluded: Record<string, number>
}

export interface AccessGrantedEvent extends EventBase<typeof LOG_EVENT.accessGranted> {
  dataset: string
  grantee: string
  purpose: string
  expiresAt: number | null
  /** Entries before issue 12 name the transaction; since, the entry lands with the outbox row, before any transaction exists. */
  transaction?: string
}

export interface AccessRevokedEvent extends EventBase<typeof LOG_EVENT.accessRevoked> {
  dataset: string
  grantee: string
  purposes: string[]
}

/** An export: granted (records written), refused or failed (none). */
export interface AccessExportEvent extends EventBase<typeof LOG_EVENT.accessExport> {
  dataset: string
  /** Null for the controller's own export of its data (no purpose: a backup). */
  purpose: string | null
  records: number
  /** Records left out because their subject was erased (also in `excluded`). */
  erased: number
  /** Records left out, by reason: `erased`, or why the subject's consent does not hold (`refused`, `withdrawn`, `no-consent`, …). */
  excluded: Record<string, number>
  outcome: string
  /** For an export from a key release: the release message's digest (SHA-256 of its RFC 8785 JSON). */
  release?: string
}

/** A request for a key release, signed and sent by this node (logged on the requester's node). */
export interface AccessRequestedEvent extends EventBase<typeof LOG_EVENT.accessRequested> {
  dataset: string
  /** The controller's DID the request is addressed to. */
  to: string
  purpose: string
  /** The request message's digest and nonce. */
  request: string
  nonce: string
  expiresAt: string
}

/** A key release, or its refusal (logged on the controller's node). */
export interface AccessReleasedEvent extends EventBase<typeof LOG_EVENT.accessReleased> {
  dataset: string | null
  /** The requester's DID (as claimed, when the request was refused before its signature held). */
  requester: string | null
  purpose: string | null
  /** The request message's digest; the release's, when released. */
  request: string
  release: string | null
  records: number
  excluded: Record<string, number>
  /** `released`, or `refused: CODE`. */
  outcome: string
  /** Whether the request's signature, sender, recipient, time and nonce held; false: requester and purpose are what an unverified request claims. */
  verified: boolean
}

export interface SubjectErasedEvent extends EventBase<typeof LOG_EVENT.subjectErased> {
  pseudonym: string
  records: number
  datasets: string[]
}

/** Federated-learning events: the coordinator writes their fields (fl/coordinator.ts). */
export interface FlEvent extends EventBase<typeof LOG_EVENT.flTask | typeof LOG_EVENT.flUpdateCommitted | typeof LOG_EVENT.flUpdateRefused | typeof LOG_EVENT.flRound | typeof LOG_EVENT.flTaskCancelled> {
  [field: string]: unknown
}

/**
 * Consortium events (service/consortium.ts): created, joined and updated carry the RFC 8785
 * SHA-256 of the consortium file (`hash`); member-added the member entry without its card.
 */
export interface ConsortiumEvent extends EventBase<typeof LOG_EVENT.consortiumCreated | typeof LOG_EVENT.consortiumJoined | typeof LOG_EVENT.consortiumMemberAdded | typeof LOG_EVENT.consortiumUpdated> {
  [field: string]: unknown
}

/**
 * A request the HTTP API refused for its credential (401) or authorisation (403), logged by
 * the node (`actor`: its operator). Names the credential by id (a token id, a member's DID),
 * never its secret.
 */
export interface ApiRefusedEvent extends EventBase<typeof LOG_EVENT.apiRefused> {
  method: string
  /** The route pattern (`/v1/datasets/:id`), not the request's path. */
  route: string
  status: 401 | 403
  /** The error code: API_UNAUTHENTICATED, API_TOKEN_EXPIRED, API_SCOPE_DENIED, … */
  reason: string
  /** The credential's id when one was presented and parsed (a token id), else null. */
  credential: string | null
  /** The DID the credential acts as, when known. */
  did: string | null
}

/** Every event in the log. */
export type LogEvent =
  | IdentityCreatedEvent
  | AssetRegisteredEvent
  | ConsentRecordEvent
  | ConsentManifestEvent
  | AccessGrantedEvent
  | AccessRevokedEvent
  | AccessExportEvent
  | AccessRequestedEvent
  | AccessReleasedEvent
  | SubjectErasedEvent
  | FlEvent
  | ConsortiumEvent
  | ApiRefusedEvent

const KNOWN = new Set<string>(Object.values(LOG_EVENT))

/** Whether `type` names an event of the union. */
export function isLogEventType(type: unknown): type is LogEventType {
  return typeof type === 'string' && KNOWN.has(type)
}

/**
 * A log entry as an event of the union, by its parsed `type`; undefined when the entry is
 * a JSON object of another (or no) type. Throws SyntaxError when it is not JSON. The shape
 * beyond `type` is the writer's promise, not checked here: a reader checks the fields it uses.
 *
 * @example
 * parseLogEvent(Buffer.from('{"asset":{"name":"provena.consent.record/x"},"type":"provena.asset.registered/v1"}'))?.type // 'provena.asset.registered/v1'
 */
export function parseLogEvent(leaf: Uint8Array): LogEvent | undefined {
  const value = JSON.parse(Buffer.from(leaf.buffer, leaf.byteOffset, leaf.byteLength).toString('utf8')) as { type?: unknown } | null
  return value !== null && typeof value === 'object' && isLogEventType(value.type) ? (value as LogEvent) : undefined
}
