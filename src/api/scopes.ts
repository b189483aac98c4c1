/**
 * The route groups an API token can be scoped to: a route declares the one it needs
 * (`config.auth.scope`). A new group of routes adds its scope here, so that
 * `provena token create --scope` accepts it.
 */
export const API_SCOPES = ['datasets:read', 'consent:write', 'log:read', 'metrics:read', 'access:release', 'datasets:write', 'datasets:export', 'subjects:erase', 'fl:coordinate', 'fl:train'] as const

export type ApiScope = (typeof API_SCOPES)[number]

/** Whether `scope` is one of API_SCOPES. */
export const isApiScope = (scope: string): scope is ApiScope => (API_SCOPES as readonly string[]).includes(scope)
