// Who calls, and may they: each route declares what it needs (`config.auth`), an
// authenticator turns a request's credential into a Principal, and `authorize` decides.
// Credentials are pluggable: API tokens today (tokenAuthenticator); RFC 9421 signed
// requests from members are one more Authenticator in ApiContext.authenticators.
import type { FastifyRequest } from 'fastify'
import type { ApiContext } from './context.js'
import { apiErrors } from './errors.js'
import type { ApiScope } from './scopes.js'
import { checkToken, OPERATOR_ROLE, SERVE_TOKEN_NAME } from './tokens.js'

/** What a route needs: 'public' (anyone), or a scope (tokens) and the roles allowed (any credential). */
export type RouteAuth = 'public' | { scope: ApiScope; roles?: readonly string[] }

/** Who a request is from, once its credential held. */
export interface Principal {
  /** The kind of credential: 'token', or another authenticator's ('signature'). */
  kind: string
  /** The credential's id (a token id; a member's DID for a signature): logged with a refusal. */
  id: string
  name: string
  did: string | null
  role: string
  /** The route groups the credential may use; 'all' for credentials without scopes (a member, whose role decides). */
  scopes: readonly string[] | 'all'
  /**
   * For a credential that covers the body (RFC 9421 with Content-Digest): checks the raw
   * body bytes once they are read, before the body is validated or used; throws a
   * ProvenaError (401) when they are not what was signed. Headers are checked before.
   */
  checkBody?: ((raw: Buffer) => void | Promise<void>) | undefined
}

/**
 * One kind of credential: undefined when the request carries none of this kind; a
 * Principal when it holds; throws a ProvenaError (401) when it is present but bad. Runs
 * when the request's headers are in, before its body is read (a refused request's body is
 * never parsed): a credential over the body returns `checkBody`.
 */
export type Authenticator = (request: FastifyRequest, ctx: ApiContext) => Promise<Principal | undefined> | Principal | undefined

/** `Authorization: Bearer pvn_…`: an API token of this data dir (see tokens.ts). */
export const tokenAuthenticator: Authenticator = (request, ctx) => {
  const header = request.headers.authorization
  if (header === undefined) return undefined
  const m = /^Bearer +(\S+)\s*$/i.exec(header)
  if (!m) return undefined // another scheme: another authenticator's, or none
  const t = checkToken(ctx.p.db, m[1]!, ctx.now?.() ?? Date.now())
  return { kind: 'token', id: t.id, name: t.name, did: t.did, role: t.role, scopes: t.scopes }
}

/** The first principal an authenticator finds; API_UNAUTHENTICATED when none finds a credential. */
export async function authenticate(request: FastifyRequest, ctx: ApiContext, authenticators: readonly Authenticator[]): Promise<Principal> {
  for (const a of authenticators) {
    const principal = await a(request, ctx)
    if (principal) return principal
  }
  throw apiErrors.unauthenticated()
}

/** Throws API_SCOPE_DENIED or API_ROLE_DENIED (403) when `principal` may not use a route that needs `auth`. */
export function authorize(principal: Principal, auth: Exclude<RouteAuth, 'public'>): void {
  if (principal.scopes !== 'all' && !principal.scopes.includes(auth.scope)) throw apiErrors.scopeDenied(auth.scope, principal.scopes)
  // The node's operator (its serve token, for the CLI on the served data dir) passes every role check.
  const operator = principal.kind === 'token' && principal.name === SERVE_TOKEN_NAME && principal.role === OPERATOR_ROLE
  if (auth.roles && !operator && !auth.roles.includes(principal.role)) throw apiErrors.roleDenied(principal.role, auth.roles)
}
