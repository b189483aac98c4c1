// Messages between nodes (issue 12, ARCHITECTURE.md "Parties are nodes"): a DSSE envelope
// signed by the sender's did:key (Ed25519), whose payload is the RFC 8785 JSON of a header
// — type, sender, recipient, purpose, time window, a 32-byte nonce — and a body. The
// receiver trusts nothing in it before `verifyMessage` has checked, in this order: the
// envelope's shape, the signature under the key inside `from` (a did:key names its own
// key), the type, the recipient (one of its own identities), the sender (a pinned member,
// or one of its own identities on a lone node), the time window (5 minutes of clock skew),
// the purpose, and last the nonce (never seen before from that sender: a replay is named).
import { randomBytes } from 'node:crypto'
import { canonicalJsonBytes, ed25519FromDidKey, sha256Hex, signDsse, verifyDsse, type DsseEnvelope, type Ed25519KeyPair } from '../crypto/index.js'
import type { Db } from '../db/index.js'
import { ProvenaError } from '../errors.js'

/** The DSSE payload type of every message between nodes. */
export const MESSAGE_PAYLOAD_TYPE = 'application/vnd.provena.message+json'

/** How far a sender's clock may run ahead of the receiver's. */
export const CLOCK_SKEW_MS = 5 * 60_000

/** The header every message carries; its body adds fields beside these. */
export interface MessageHeader {
  /** What the message is, e.g. `provena.access.request/v1`. */
  _type: string
  /** did:key of the sender (its Ed25519 key signs the envelope). */
  from: string
  /** did:key of the recipient. */
  to: string
  /** The purpose the message is for (a DPV purpose of a data use). */
  purpose: string
  /** ISO 8601 times. */
  issuedAt: string
  expiresAt: string
  /** 32 random bytes, hex: the receiver refuses a nonce it has seen from this sender. */
  nonce: string
}

export type Message<Body extends object = Record<string, unknown>> = MessageHeader & Body

/** Who signs: an identity's DID and its Ed25519 key pair. */
export interface MessageSigner {
  did: string
  signing: Ed25519KeyPair
}

/** Why a message is refused (the error codes, stable for scripts). */
export const MESSAGE_ERRORS = {
  malformed: 'MESSAGE_MALFORMED',
  badSignature: 'MESSAGE_BAD_SIGNATURE',
  wrongType: 'MESSAGE_WRONG_TYPE',
  wrongRecipient: 'MESSAGE_WRONG_RECIPIENT',
  notMember: 'MESSAGE_NOT_MEMBER',
  notYetValid: 'MESSAGE_NOT_YET_VALID',
  expired: 'MESSAGE_EXPIRED',
  wrongPurpose: 'MESSAGE_WRONG_PURPOSE',
  replayed: 'MESSAGE_REPLAYED',
} as const

const refuse = (code: (typeof MESSAGE_ERRORS)[keyof typeof MESSAGE_ERRORS], message: string, hint?: string, details?: Record<string, unknown>) =>
  new ProvenaError(code, message, { hint, details })

const HEX32 = /^[0-9a-f]{64}$/

/**
 * Signs a message: the header (a fresh nonce, issuedAt = now, expiresAt = now + ttlMs) and
 * `body`, as RFC 8785 JSON in a DSSE envelope signed with the sender's did:key.
 *
 * @example
 * signMessage(lab, { _type: 'provena.access.request/v1', to: hospitalDid, purpose: 'dpv:ScientificResearch', body: { dataset } }, { ttlMs: 3_600_000 })
 * // { payloadType: 'application/vnd.provena.message+json', payload: 'eyJfdHlwZSI6…', signatures: [{ keyid: 'did:key:z6Mk…', sig: '…' }] }
 */
export function signMessage<Body extends object>(
  sender: MessageSigner,
  message: { _type: string; to: string; purpose: string; body: Body },
  opts: { ttlMs: number; now?: number; nonce?: string },
): { envelope: DsseEnvelope; message: Message<Body> } {
  const now = opts.now ?? Date.now()
  const header: MessageHeader = {
    _type: message._type,
    from: sender.did,
    to: message.to,
    purpose: message.purpose,
    issuedAt: new Date(now).toISOString(),
    expiresAt: new Date(now + opts.ttlMs).toISOString(),
    nonce: opts.nonce ?? randomBytes(32).toString('hex'),
  }
  for (const k of Object.keys(message.body)) if (k in header) throw new TypeError(`a message body may not set the header field ${k}`)
  const full = { ...message.body, ...header } as Message<Body>
  return { envelope: signDsse(MESSAGE_PAYLOAD_TYPE, canonicalJsonBytes(full), sender.did, sender.signing.privateKey), message: full }
}

/**
 * The header of an envelope as it claims to be, unverified: for naming a refused message
 * in a log entry. Undefined when the envelope has no readable header.
 * WARNING: nothing in it is authenticated.
 */
export function claimedHeader(envelope: unknown): Partial<MessageHeader> | undefined {
  try {
    const e = envelope as DsseEnvelope
    const value = JSON.parse(Buffer.from(e.payload, 'base64').toString('utf8')) as Record<string, unknown>
    if (value === null || typeof value !== 'object') return undefined
    const out: Partial<MessageHeader> = {}
    for (const k of ['_type', 'from', 'to', 'purpose', 'issuedAt', 'expiresAt', 'nonce'] as const) if (typeof value[k] === 'string') out[k] = value[k]
    return out
  } catch {
    return undefined
  }
}

/** What the receiver checks a message against. */
export interface MessageExpectations {
  /** The message type the operation takes. */
  type: string
  /** Whether `did` is one of the receiving node's own identities (the recipient must be). */
  isOwn: (did: string) => boolean
  /** Whether `did` is a pinned member of the consortium (on a lone node: one of its own identities). */
  isMember: (did: string) => boolean
  /** The purpose the operation is for, when it is fixed (e.g. the request's, for its release). */
  purpose?: string | undefined
  /** The sender the operation expects, when it is fixed (e.g. the dataset's controller). */
  from?: string | undefined
  /** Seen nonces: checked last, when every other check passed, and recorded then. */
  nonces: NonceTable
  /**
   * Whether to record the nonce now (default). An operation that may fail after the checks
   * for reasons of its own (a segment missing) passes false, and records it once done.
   */
  recordNonce?: boolean | undefined
  now?: number | undefined
}

/** The digest that names a message: SHA-256 of the RFC 8785 JSON of its envelope (hex). */
export function messageDigest(envelope: DsseEnvelope): string {
  return sha256Hex(canonicalJsonBytes(envelope))
}

/**
 * Verifies a message (see the file comment for the order of the checks) and returns its
 * payload. Throws a ProvenaError whose code is one of MESSAGE_ERRORS, naming what failed.
 * The nonce is recorded as seen only when every check passed.
 */
export function verifyMessage<Body extends object = Record<string, unknown>>(envelope: unknown, want: MessageExpectations): Message<Body> {
  const e = envelope as DsseEnvelope
  if (e === null || typeof e !== 'object' || e.payloadType !== MESSAGE_PAYLOAD_TYPE || typeof e.payload !== 'string' || !Array.isArray(e.signatures)) {
    throw refuse(MESSAGE_ERRORS.malformed, `not a Provena message: a DSSE envelope of payload type ${MESSAGE_PAYLOAD_TYPE} is expected`)
  }
  const claimed = claimedHeader(e)
  const from = claimed?.from
  if (typeof from !== 'string') throw refuse(MESSAGE_ERRORS.malformed, 'the message names no sender (field "from")')
  let key: Uint8Array
  try {
    key = ed25519FromDidKey(from)
  } catch {
    throw refuse(MESSAGE_ERRORS.malformed, `the sender ${from} is not an Ed25519 did:key`)
  }
  let payload: Buffer
  try {
    payload = verifyDsse(e, key)
  } catch {
    throw refuse(MESSAGE_ERRORS.badSignature, `bad signature: the message is not signed by the key of its sender ${from} (forged or altered)`)
  }
  const m = JSON.parse(payload.toString('utf8')) as Message<Body>
  for (const k of ['_type', 'to', 'purpose', 'issuedAt', 'expiresAt', 'nonce'] as const) {
    if (typeof m[k] !== 'string') throw refuse(MESSAGE_ERRORS.malformed, `the message has no "${k}" string`)
  }
  if (!HEX32.test(m.nonce)) throw refuse(MESSAGE_ERRORS.malformed, 'the message\'s "nonce" is not 32 bytes of lowercase hex')
  const issued = Date.parse(m.issuedAt)
  const expires = Date.parse(m.expiresAt)
  if (Number.isNaN(issued) || Number.isNaN(expires)) throw refuse(MESSAGE_ERRORS.malformed, 'the message\'s "issuedAt" or "expiresAt" is not an ISO 8601 time')
  if (m._type !== want.type) throw refuse(MESSAGE_ERRORS.wrongType, `wrong message type: expected ${want.type}, got ${m._type}`)
  if (!want.isOwn(m.to)) throw refuse(MESSAGE_ERRORS.wrongRecipient, `wrong recipient: the message is addressed to ${m.to}, not an identity of this node`, 'the sender must address it to this node\'s identity (its DID)', { to: m.to })
  if (want.from !== undefined && m.from !== want.from) throw refuse(MESSAGE_ERRORS.notMember, `the message is from ${m.from}, expected ${want.from}`)
  if (!want.isMember(m.from)) throw refuse(MESSAGE_ERRORS.notMember, `not a member: the sender ${m.from} is not a pinned member of the consortium`, 'its node joins with provena consortium add-member', { from: m.from })
  const now = want.now ?? Date.now()
  if (issued > now + CLOCK_SKEW_MS) throw refuse(MESSAGE_ERRORS.notYetValid, `the message was issued at ${m.issuedAt}, more than 5 minutes ahead of this node's clock`)
  if (expires <= now) throw refuse(MESSAGE_ERRORS.expired, `expired: the message was valid until ${m.expiresAt}`, 'ask the sender for a new one')
  if (want.purpose !== undefined && m.purpose !== want.purpose) throw refuse(MESSAGE_ERRORS.wrongPurpose, `wrong purpose: the message is for ${m.purpose}, the operation for ${want.purpose}`)
  if (want.recordNonce === false ? want.nonces.seen(m.from, m.nonce) : !want.nonces.record(m.from, m.nonce, expires, now)) {
    throw refuse(MESSAGE_ERRORS.replayed, `replayed nonce: ${m.from} sent a message with nonce ${m.nonce.slice(0, 16)}… before`, 'a message is used once: ask the sender for a new one')
  }
  return m
}

/** Seen nonces by sender. */
export interface NonceTable {
  seen(sender: string, nonce: string): boolean
  /** Records (sender, nonce); false when it was seen already. */
  record(sender: string, nonce: string, expiresAt: number, now: number): boolean
}

/**
 * The seen-nonce table of a node's database (node_seen_nonces, schema 8). A nonce stays
 * until its message expired (after that the message is refused as expired anyway).
 */
export function dbNonceTable(db: Db): NonceTable {
  const put = db.prepare('INSERT OR IGNORE INTO node_seen_nonces (sender, nonce, expires_at) VALUES (?, ?, ?)')
  const prune = db.prepare('DELETE FROM node_seen_nonces WHERE expires_at < ?')
  const get = db.prepare('SELECT 1 FROM node_seen_nonces WHERE sender = ? AND nonce = ?').pluck()
  return {
    seen: (sender, nonce) => get.get(sender, nonce) !== undefined,
    record(sender, nonce, expiresAt, now) {
      prune.run(now - CLOCK_SKEW_MS)
      return put.run(sender, nonce, expiresAt).changes === 1
    },
  }
}

/** A nonce table in memory (tests, one process). */
export function memoryNonceTable(): NonceTable {
  const seen = new Set<string>()
  return { seen: (sender, nonce) => seen.has(`${sender}:${nonce}`), record: (sender, nonce) => !seen.has(`${sender}:${nonce}`) && (seen.add(`${sender}:${nonce}`), true) }
}
