// The HTTP API (ARCHITECTURE.md, layer `api`): provena serve's server, its credentials and routes.
export { authenticate, authorize, tokenAuthenticator, type Authenticator, type Principal, type RouteAuth } from './auth.js'
export { type ApiContext } from './context.js'
export { apiErrors } from './errors.js'
export { ApiMetrics, renderMetrics } from './metrics.js'
export { PROBLEM_CONTENT_TYPE, problemOf, type Problem } from './problem.js'
export { API_SCOPES, isApiScope, type ApiScope } from './scopes.js'
export { buildServer, DEFAULT_BODY_LIMIT, ROUTE_PLUGINS, withDefaultAuth, type RoutePlugin } from './server.js'
export { checkToken, createToken, listTokens, MAX_TOKEN_LIFETIME_MS, parseLifetime, revokeToken, type ApiToken } from './tokens.js'
