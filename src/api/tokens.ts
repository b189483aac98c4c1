// API tokens for people and scripts: `pvn_<id>_<secret>`, the id 16 hex digits (the row's
// key, safe to log), the secret 32 random bytes in base64url, of which only the SHA-256 is
// stored. A token is bound to a name (an identity of the data dir when one has that name
// or DID: its DID is kept), a role and scopes, and expires; revoking it keeps the row.
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { accessErrors, findIdentity, ROLES, type Role } from '../access/index.js'
import { sha256 } from '../crypto/index.js'
import type { Db } from '../db/index.js'
import { isProvenaError } from '../errors.js'
import { apiErrors } from './errors.js'
import { API_SCOPES, isApiScope } from './scopes.js'

/** An API token's public facts (never its secret). */
export interface ApiToken {
  id: string
  name: string
  /** The identity's did:key when the token acts as an identity of the data dir; null for a bare name. */
  did: string | null
  /** An identity's role, or OPERATOR_ROLE for the serve token. */
  role: Role | typeof OPERATOR_ROLE
  scopes: string[]
  createdAt: number
  expiresAt: number
  revokedAt: number | null
}

const TOKEN_RE = /^pvn_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/
const NAME_RE = /^[A-Za-z0-9._-]{1,64}$/
/** The longest lifetime a token can have. */
export const MAX_TOKEN_LIFETIME_MS = 365 * 86_400_000

/** A lifetime such as `30d`, `12h`, `90m` in ms; API_BAD_EXPIRY otherwise (or above 365 days). */
export function parseLifetime(text: string): number {
  const m = /^([1-9][0-9]{0,5})([mhd])$/.exec(text)
  if (!m) throw apiErrors.badExpiry(text)
  const ms = Number(m[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'm' | 'h' | 'd']
  if (ms > MAX_TOKEN_LIFETIME_MS) throw apiErrors.badExpiry(text)
  return ms
}

interface TokenRow {
  id: string
  secret_hash: Buffer
  name: string
  did: string | null
  role: string
  scopes: string
  created_at: number
  expires_at: number
  revoked_at: number | null
}

const fromRow = (r: TokenRow): ApiToken => ({
  id: r.id,
  name: r.name,
  did: r.did,
  role: r.role as ApiToken['role'],
  scopes: JSON.parse(r.scopes) as string[],
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  revokedAt: r.revoked_at,
})

/**
 * Creates a token and returns it with its secret, the only time the secret exists outside
 * the caller. `as` is an identity of the data dir (name or DID: the token acts as it, and
 * its role must be the identity's) or a bare name for a script (no identity).
 */
export function createToken(
  db: Db,
  dir: string,
  opts: { as: string; role: string; scopes: string[]; lifetimeMs: number; now?: number },
): { token: string; info: ApiToken } {
  if (!(ROLES as readonly string[]).includes(opts.role)) throw accessErrors.badRole(opts.role)
  if (opts.scopes.length === 0) throw apiErrors.badScope('(none)', API_SCOPES)
  for (const s of opts.scopes) if (!isApiScope(s)) throw apiErrors.badScope(s, API_SCOPES)
  let name = opts.as
  let did: string | null = null
  try {
    const identity = findIdentity(dir, opts.as)
    if (identity.role !== opts.role) throw apiErrors.badRequest(`${identity.name} is a ${identity.role}, not a ${opts.role}: a token acting as an identity has its role`)
    name = identity.name
    did = identity.did
  } catch (e) {
    if (!isProvenaError(e, 'ACCESS_UNKNOWN_IDENTITY')) throw e
    if (!NAME_RE.test(opts.as)) throw apiErrors.badRequest(`--as "${opts.as}" is neither an identity of this data dir nor a name of 1-64 letters, digits, ".", "_" or "-"`)
  }
  const now = opts.now ?? Date.now()
  const id = randomBytes(8).toString('hex')
  const secret = randomBytes(32).toString('base64url')
  const info: ApiToken = { id, name, did, role: opts.role as Role, scopes: [...new Set(opts.scopes)], createdAt: now, expiresAt: now + opts.lifetimeMs, revokedAt: null }
  db.prepare('INSERT INTO api_tokens (id, secret_hash, name, did, role, scopes, created_at, expires_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)').run(
    id,
    sha256(Buffer.from(secret, 'utf8')),
    name,
    did,
    info.role,
    JSON.stringify(info.scopes),
    info.createdAt,
    info.expiresAt,
  )
  return { token: `pvn_${id}_${secret}`, info }
}

/** Every token of the data dir, newest first. */
export function listTokens(db: Db): ApiToken[] {
  return (db.prepare('SELECT * FROM api_tokens ORDER BY created_at DESC, id').all() as TokenRow[]).map(fromRow)
}

/** Revokes a token (idempotent: a revoked token keeps its first revocation time); API_UNKNOWN_TOKEN when there is none. */
export function revokeToken(db: Db, id: string, now = Date.now()): ApiToken {
  const row = /^[0-9a-f]{16}$/.test(id) ? (db.prepare('SELECT * FROM api_tokens WHERE id = ?').get(id) as TokenRow | undefined) : undefined
  if (!row) throw apiErrors.unknownToken(id)
  if (row.revoked_at === null) {
    db.prepare('UPDATE api_tokens SET revoked_at = ? WHERE id = ?').run(now, id)
    row.revoked_at = now
  }
  return fromRow(row)
}

/** The lookup of every request, prepared once per database (preparing costs more than the query). */
const SELECT_TOKEN = new WeakMap<Db, ReturnType<Db['prepare']>>()
function selectToken(db: Db): ReturnType<Db['prepare']> {
  let stmt = SELECT_TOKEN.get(db)
  if (!stmt) SELECT_TOKEN.set(db, (stmt = db.prepare('SELECT * FROM api_tokens WHERE id = ?')))
  return stmt
}

/** A stored hash to compare an unknown id's secret against, so that a miss costs what a hit does. */
const DUMMY_HASH = sha256(Buffer.from('provena: no such token', 'utf8'))

/**
 * The token a bearer credential names, if its secret matches (SHA-256 compared in constant
 * time), it is not revoked and not expired; else API_TOKEN_INVALID, API_TOKEN_REVOKED or
 * API_TOKEN_EXPIRED (the id, never the secret, in details).
 */
export function checkToken(db: Db, presented: string, now = Date.now()): ApiToken {
  const m = TOKEN_RE.exec(presented)
  if (!m) throw apiErrors.tokenInvalid('is not of the form pvn_<16 hex>_<43 base64url>')
  const [, id, secret] = m as unknown as [string, string, string]
  const row = selectToken(db).get(id) as TokenRow | undefined
  const given = sha256(Buffer.from(secret, 'utf8'))
  const matches = timingSafeEqual(given, row?.secret_hash ?? DUMMY_HASH)
  if (!row || !matches) throw apiErrors.tokenInvalid('is unknown, or its secret does not match', id) // one answer for both: a probe learns nothing
  if (row.revoked_at !== null) throw apiErrors.tokenRevoked(id, row.revoked_at)
  if (now >= row.expires_at) throw apiErrors.tokenExpired(id, row.expires_at)
  return fromRow(row)
}

/** The name of the token `provena serve` creates for its operator at start and revokes at stop. */
export const SERVE_TOKEN_NAME = 'provena-serve'

/**
 * The token of the node's operator that `provena serve` writes into its serve.json (0600,
 * in the 0700 data dir) for the CLI on the same data dir: every scope, role controller,
 * acting as the operator (who may act as any identity of the data dir: see acting.ts).
 * `provena serve` revokes it at stop, and, once it holds the data dir, those of an earlier
 * serve killed before it could (revokeServeTokens).
 */
/**
 * The role of the operator's serve token (the CLI on the served data dir): the node's own
 * operator, who may use every route; a route that acts as an identity acts as the one the
 * request names (`as`), whose own keys and on-chain role then count. `token create` cannot
 * make it (its --role takes the identities' roles only).
 */
export const OPERATOR_ROLE = 'operator' as const

export function createServeToken(db: Db, operatorDid: string, lifetimeMs: number, now = Date.now()): { token: string; info: ApiToken } {
  const id = randomBytes(8).toString('hex')
  const secret = randomBytes(32).toString('base64url')
  const info: ApiToken = { id, name: SERVE_TOKEN_NAME, did: operatorDid, role: OPERATOR_ROLE, scopes: [...API_SCOPES], createdAt: now, expiresAt: now + lifetimeMs, revokedAt: null }
  db.prepare('INSERT INTO api_tokens (id, secret_hash, name, did, role, scopes, created_at, expires_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)').run(
    id,
    sha256(Buffer.from(secret, 'utf8')),
    info.name,
    info.did,
    info.role,
    JSON.stringify(info.scopes),
    info.createdAt,
    info.expiresAt,
  )
  return { token: `pvn_${id}_${secret}`, info }
}

/** Revokes the operator's serve tokens still active (but `except`); returns how many. */
export function revokeServeTokens(db: Db, operatorDid: string, now = Date.now(), except: readonly string[] = []): number {
  return Number(
    db.prepare("UPDATE api_tokens SET revoked_at = ? WHERE name = ? AND did = ? AND revoked_at IS NULL AND id NOT IN (SELECT value FROM json_each(?))").run(now, SERVE_TOKEN_NAME, operatorDid, JSON.stringify(except)).changes,
  )
}
