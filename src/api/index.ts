// The HTTP API (ARCHITECTURE.md, layer `api`): provena serve's server, its credentials and routes.
//
// The server itself (buildServer, ROUTE_PLUGINS, withDefaultAuth) is in ./server.js and is
// NOT re-exported here: Fastify and its OpenAPI plugins take about half a second to import,
// which every CLI command would pay for (the CLI reads tokens and serve.json through this
// door). `provena serve` imports ./server.js when it runs.
export { authenticate, authorize, tokenAuthenticator, type Authenticator, type Principal, type RouteAuth } from './auth.js'
export { type ApiContext } from './context.js'
export { apiErrors } from './errors.js'
export { MEMBER_SIGNATURE_SCHEME, memberAuthenticator, roleId } from './memberAuth.js'
export { ApiMetrics, renderMetrics } from './metrics.js'
export { API_SCOPES, isApiScope, type ApiScope } from './scopes.js'
export { claimDataDir, findServingNode, refuseIfServed, renewServeToken, serveFilePath, type ServeInfo } from './serveFile.js'
export { checkToken, createServeToken, createToken, listTokens, MAX_TOKEN_LIFETIME_MS, OPERATOR_ROLE, parseLifetime, revokeServeTokens, revokeToken, SERVE_TOKEN_NAME, type ApiToken } from './tokens.js'
export { actingIdentity } from './acting.js'
export type { RoutePlugin } from './server.js'
