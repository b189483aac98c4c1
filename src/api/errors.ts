import { ProvenaError } from '../errors.js'

/** The API's errors: request shape, credentials, authorisation, the served data dir. */
export const apiErrors = {
  badRequest: (message: string, details?: Record<string, unknown>) =>
    new ProvenaError('API_BAD_REQUEST', message, { hint: 'see the route in /openapi.json', details }),
  notFound: (method: string, url: string) => new ProvenaError('API_NOT_FOUND', `no route ${method} ${url}`, { hint: 'the routes are listed in /openapi.json' }),
  bodyTooLarge: (limit: number) => new ProvenaError('API_BODY_TOO_LARGE', `the request body exceeds ${limit} bytes`, { details: { limit } }),
  unsupportedMediaType: (type: string | undefined) =>
    new ProvenaError('API_UNSUPPORTED_MEDIA_TYPE', `the body's content type ${type ? `"${type}"` : '(none)'} is not one this route takes`, { hint: 'send Content-Type: application/json' }),
  unauthenticated: () => new ProvenaError('API_UNAUTHENTICATED', 'this route needs a credential and the request carries none', { hint: 'send Authorization: Bearer pvn_… (provena token create)' }),
  tokenInvalid: (why: string, id?: string) => new ProvenaError('API_TOKEN_INVALID', `the API token ${why}`, { details: id ? { token: id } : undefined }),
  tokenExpired: (id: string, at: number) => new ProvenaError('API_TOKEN_EXPIRED', `API token ${id} expired at ${new Date(at).toISOString()}`, { hint: 'create another: provena token create', details: { token: id } }),
  tokenRevoked: (id: string, at: number) => new ProvenaError('API_TOKEN_REVOKED', `API token ${id} was revoked at ${new Date(at).toISOString()}`, { details: { token: id } }),
  scopeDenied: (scope: string, has: readonly string[]) =>
    new ProvenaError('API_SCOPE_DENIED', `this route needs the scope ${scope}; the credential has ${has.length ? has.join(', ') : 'none'}`, { details: { scope, scopes: has } }),
  roleDenied: (role: string, allowed: readonly string[]) =>
    new ProvenaError('API_ROLE_DENIED', `this route is for ${allowed.join(' or ')}; the credential's role is ${role}`, { details: { role, allowed } }),
  // A signed member request (memberAuth.ts), besides the signature's own codes (API_SIGNATURE_*).
  memberNoConsortium: (dir: string, did: string | undefined) =>
    new ProvenaError('API_MEMBER_NO_CONSORTIUM', `this node pins no consortium file (${dir}/consortium.json): it accepts no signed member requests`, {
      hint: 'a node takes member requests once it created or joined a consortium (provena consortium create, provena init --join FILE); people and scripts use API tokens',
      details: { did },
    }),
  memberNoOrigin: (did: string | undefined) =>
    new ProvenaError('API_MEMBER_NO_ORIGIN', 'this node does not know its public URL (ApiContext.origin): it cannot tell a request signed for it from one signed for another node', {
      hint: 'provena serve sets it to the URL it listens at',
      details: { did },
    }),
  memberRoleRevoked: (did: string, name: string, role: string, address: string) =>
    new ProvenaError('API_MEMBER_ROLE_REVOKED', `member ${name} (${did}) no longer holds ${role.toUpperCase()}_ROLE on-chain (AccessPolicy, account ${address}), though the consortium file lists it as ${role}`, {
      hint: 'the consortium admin removed it; it is refused until the role is granted again',
      details: { did, role, address },
    }),
  nodeServed: (url: string, pid: number, through?: readonly string[]) =>
    new ProvenaError(
      'API_NODE_SERVED',
      `a node serves this data dir at ${url} (pid ${pid}): one writer at a time${through ? `; this command has no route, these go through the node: ${through.join(', ')}` : ''}`,
      {
        hint: `send the change to ${url}, or stop that node (kill ${pid}) and run the command again`,
        details: { url, pid },
      },
    ),
  unknownToken: (id: string) => new ProvenaError('API_UNKNOWN_TOKEN', `no API token ${id} in this data dir`, { hint: 'see provena token list' }),
  badScope: (scope: string, known: readonly string[]) => new ProvenaError('API_BAD_SCOPE', `unknown scope "${scope}" (known: ${known.join(', ')})`),
  badExpiry: (text: string) => new ProvenaError('API_BAD_EXPIRY', `--expires "${text}" is not a duration such as 30d, 12h or 90m, at most 365d`),
  listenFailed: (host: string, port: number, cause: unknown) =>
    new ProvenaError('API_LISTEN_FAILED', `cannot listen on ${host}:${port}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}`, {
      hint: 'choose another --port (0: any free one) or --host',
      cause,
    }),
}
