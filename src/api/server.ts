// `provena serve`'s HTTP server (Fastify 5). Routes declare JSON schemas (one source for
// validation and for the OpenAPI 3.1 document at /openapi.json) and what credential they
// need (`config.auth`); errors are RFC 9457 problem details carrying the catalogue's code.
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import fastifySwagger from '@fastify/swagger'
import fastifySwaggerUi from '@fastify/swagger-ui'
import Fastify, { type FastifyInstance, type FastifyRequest, type RouteOptions } from 'fastify'
import { canonicalJson } from '../crypto/index.js'
import { errorInfo } from '../errorCatalogue.js'
import { isProvenaError, ProvenaError } from '../errors.js'
import { LOG_EVENT, type ApiRefusedEvent } from '../log/index.js'
import { authenticate, authorize, tokenAuthenticator, type Principal, type RouteAuth } from './auth.js'
import type { ApiContext } from './context.js'
import { apiErrors } from './errors.js'
import { MEMBER_SIGNATURE_SCHEME, memberAuthenticator } from './memberAuth.js'
import { ApiMetrics } from './metrics.js'
import { asProvenaError, PROBLEM_CONTENT_TYPE, PROBLEM_SCHEMA, problemOf } from './problem.js'
import { accessRoutes } from './routes/access.js'
import { consentRoutes } from './routes/consent.js'
import { datasetRoutes } from './routes/datasets.js'
import { flRoutes } from './routes/fl.js'
import { datasetWriteRoutes } from './routes/datasetWrite.js'
import { logRoutes } from './routes/log.js'
import { subjectRoutes } from './routes/subjects.js'
import { verifyRoutes } from './routes/verify.js'
import { systemRoutes } from './routes/system.js'
import { API_SCOPES } from './scopes.js'
import { tilesRoutes } from './tiles.js'
import { witnessRoutes } from './witness.js'
import { witnessContextFor } from '../node/index.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** Who the request is from, once authenticated (null on public routes). */
    principal: Principal | null
    /** The body's bytes as received (JSON bodies), for a credential that covers them. */
    rawBody: Buffer | null
  }
  interface FastifyContextConfig {
    /** What the route needs: 'public', or a scope and roles (auth.ts). Every route declares it. */
    auth?: RouteAuth
  }
}

/** A group of routes: registered with the server's ApiContext. The integrator adds tiles and the witness here. */
export type RoutePlugin = (app: FastifyInstance, ctx: ApiContext) => Promise<void>

/**
 * The route groups every server has (besides /healthz, /metrics, /openapi.json and /docs):
 * the API; the log as C2SP tlog-tiles at /log/ and the witness (C2SP tlog-witness) at
 * /witness/, both public: a mirror or a member's log reads and posts without a credential
 * (what they serve is signed; what they take is checked against the pinned logs' keys).
 */
export const ROUTE_PLUGINS: RoutePlugin[] = [
  datasetRoutes,
  consentRoutes,
  logRoutes,
  accessRoutes,
  flRoutes,
  datasetWriteRoutes,
  subjectRoutes,
  verifyRoutes,
  withDefaultAuth('public', (app, ctx) => tilesRoutes(app, { db: ctx.p.db, log: ctx.p.log })),
  // The witness key derives from the operator key: unlocked at the first add-checkpoint, not at start.
  withDefaultAuth('public', (app, ctx) => {
    let witness: ReturnType<typeof witnessContextFor> | undefined
    return witnessRoutes(app, { witness: () => (witness ??= witnessContextFor(ctx.p)) })
  }),
]

/** The default request body limit: 1 MiB. */
export const DEFAULT_BODY_LIMIT = 1 << 20

const DEFAULT_AUTH = Symbol('provena.defaultAuth')

/**
 * Registers `plugin` so that its routes that declare no `config.auth` get `auth`: for
 * plugins written without this server in mind (tiles: 'public'). Other routes must declare it.
 */
export function withDefaultAuth(auth: RouteAuth, plugin: RoutePlugin): RoutePlugin {
  return async (app, ctx) => {
    await app.register(async (child) => {
      ;(child as unknown as Record<symbol, RouteAuth>)[DEFAULT_AUTH] = auth
      await plugin(child, ctx)
    })
  }
}

const VERSION = (() => {
  try {
    return (JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'package.json'), 'utf8')) as { version: string }).version
  } catch {
    return '0.0.0'
  }
})()

/** The 401/403 codes: refusals, counted (and logged when the credential verified: see `refused`). */
const isRefusal = (code: string) => {
  const http = errorInfo(code).http
  return code.startsWith('API_') && (http === 401 || http === 403)
}

/** The route pattern of a request (`/v1/datasets/:id`), `unmatched` for a 404: bounded label values. */
const routeOf = (request: FastifyRequest) => (request.is404 ? 'unmatched' : (request.routeOptions.url ?? 'unmatched'))

/**
 * Appends a refusal to the node's log (provena.api.refused/v1): the route, the method, the
 * code, and the credential's id or DID when one was presented, never its secret.
 */
function logRefusal(ctx: ApiContext, request: FastifyRequest, error: ProvenaError, principal: Principal | null): void {
  const details = error.details ?? {}
  const event: ApiRefusedEvent = {
    type: LOG_EVENT.apiRefused,
    actor: ctx.p.operatorDid,
    time: new Date(ctx.now?.() ?? Date.now()).toISOString(),
    method: request.method,
    route: routeOf(request),
    status: errorInfo(error.code).http as 401 | 403,
    reason: error.code,
    // A refused signature: the DID it claimed (memberAuth.ts puts it in details.did).
    credential: principal?.id ?? (typeof details.token === 'string' ? details.token : typeof details.did === 'string' ? details.did : null),
    did: principal?.did ?? (typeof details.did === 'string' ? details.did : null),
  }
  ctx.p.log.append([Buffer.from(canonicalJson(event), 'utf8')])
}

/** The responses every documented route may give besides its own: problems. */
const PROBLEM_RESPONSES = {
  '4XX': { description: 'a problem with the request (RFC 9457)', content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: 'Problem#' } } } },
  '5XX': { description: 'a problem of the node (RFC 9457)', content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: 'Problem#' } } } },
}

/**
 * The HTTP server of a node, not yet listening. Routes: ROUTE_PLUGINS (or `plugins`),
 * /healthz, /metrics, /openapi.json and /docs.
 *
 * @example
 * const app = await buildServer({ p, chain, dir })
 * await app.listen({ host: '127.0.0.1', port: 0 })
 */
export async function buildServer(ctx: ApiContext, opts: { plugins?: readonly RoutePlugin[] } = {}): Promise<FastifyInstance> {
  const bodyLimit = ctx.bodyLimit ?? DEFAULT_BODY_LIMIT
  const authenticators = ctx.authenticators ?? [tokenAuthenticator]
  // The credentials a route takes, as OpenAPI security alternatives: tokens, and signed member requests when the server takes them.
  const memberSigned = authenticators.includes(memberAuthenticator)
  const security = memberSigned ? [{ bearer: [] }, { memberSignature: [] }] : [{ bearer: [] }]
  const metrics = new ApiMetrics()
  const app = Fastify({
    logger: false,
    bodyLimit,
    // Unknown fields are refused, not stripped; types are not coerced ("5" is not 5).
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
    // 512: GET /v1/segments/{cid},{cid},… takes up to 8 CIDs of 59 characters.
    routerOptions: { maxParamLength: 512 },
    return503OnClosing: true,
    // A client that sends its request too slowly is cut off (slowloris).
    requestTimeout: 30_000,
  })
  app.decorateRequest('principal', null)
  app.decorateRequest('rawBody', null)
  app.addSchema(PROBLEM_SCHEMA)
  // JSON as Fastify parses it (prototype poisoning refused), the raw bytes kept for a
  // credential that signs the body (Principal.checkBody).
  const parseJson = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    request.rawBody = body as Buffer
    parseJson(request, (body as Buffer).toString('utf8'), done)
  })

  // Every route says what it needs, or inherits it from withDefaultAuth; one that does not
  // is refused at registration (the server does not start), never served open.
  app.addHook('onRoute', function (route: RouteOptions) {
    const auth = route.config?.auth ?? (this as unknown as Record<symbol, RouteAuth | undefined>)[DEFAULT_AUTH]
    if (auth === undefined) throw new ProvenaError('INTERNAL', `route ${String(route.method)} ${route.url} declares no config.auth`)
    route.config = { ...route.config, auth }
    const schema = (route.schema ??= {}) as Record<string, unknown>
    if (schema.hide) return
    schema.response = { ...PROBLEM_RESPONSES, ...(schema.response as object | undefined) }
    if (auth !== 'public' && !schema.security) {
      // Once per schema object: a GET's HEAD route shares it.
      schema.security = security
      const roles = auth.roles ? `; roles: ${auth.roles.join(', ')}` : ''
      schema.description = `${schema.description ? `${String(schema.description)}\n\n` : ''}Needs scope \`${auth.scope}\`${roles}.`
    }
  })

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Provena node API', version: VERSION, description: 'A Provena node: its registry, consent, log and metrics. Errors are RFC 9457 problem details whose `code` is in docs/errors.md.' },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: `An API token, pvn_<id>_<secret> (provena token create). Scopes: ${API_SCOPES.join(', ')}.` },
          ...(memberSigned ? { memberSignature: MEMBER_SIGNATURE_SCHEME } : {}),
        },
      },
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  })
  await withDefaultAuth('public', async (docs) => void (await docs.register(fastifySwaggerUi, { routePrefix: '/docs' })))(app, ctx)

  /**
   * Counts a 401/403 refusal (/metrics, by code), then throws it on. A refusal of a
   * credential that verified (a token or a member's signature that holds, but not for this
   * scope or role: 403) is also an entry of the node's log, naming who was refused. One
   * that never verified (none, an unknown or forged token, a bad signature: 401) is counted
   * only: a stranger must not be able to write into the node's public, anchored log (a
   * flood of entries, text of its choosing, a refusal framed on a member's DID).
   */
  const refused = (request: FastifyRequest, e: unknown, principal: Principal | null, verified: boolean): never => {
    if (isProvenaError(e) && isRefusal(e.code)) {
      metrics.refusals.inc(e.code)
      if (verified) logRefusal(ctx, request, e, principal)
    }
    throw e
  }

  /** Refusals of signed requests that wait for their body's check. */
  const deniedAfterBody = new WeakMap<FastifyRequest, unknown>()

  app.addHook('onRequest', async (request) => {
    if (request.is404) return
    const auth = request.routeOptions.config.auth
    if (auth === 'public') return
    if (auth === undefined) throw new ProvenaError('INTERNAL', `route ${request.routeOptions.url} declares no auth`) // onRoute makes this unreachable
    let principal: Principal | null = null
    try {
      principal = await authenticate(request, ctx, authenticators)
    } catch (e) {
      // A 403 here is a member whose signature held but whose role is gone (read on-chain): logged; a 401 is not.
      refused(request, e, null, isProvenaError(e) && errorInfo(e.code).http === 403)
    }
    try {
      authorize(principal!, auth)
    } catch (e) {
      // A signed request with a body holds only once its body is checked (preValidation):
      // its refusal waits for that, so that only a signature that held is logged.
      if (!principal?.checkBody) refused(request, e, principal, true)
      deniedAfterBody.set(request, e)
    }
    request.principal = principal
  })
  // A credential over the body checks the bytes once read, before validation or the handler.
  app.addHook('preValidation', async (request) => {
    const principal = request.principal
    if (!principal?.checkBody) return
    try {
      await principal.checkBody(request.rawBody ?? Buffer.alloc(0))
    } catch (e) {
      refused(request, e, null, false)
    }
    if (deniedAfterBody.has(request)) refused(request, deniedAfterBody.get(request), principal, true)
  })

  app.addHook('onResponse', async (request, reply) => {
    metrics.requests.inc(routeOf(request), request.method, String(reply.statusCode))
  })

  app.setErrorHandler(async (error, request, reply) => {
    const e = asProvenaError(error, { bodyLimit, contentType: request.headers['content-type'] })
    if (e.code === 'INTERNAL') process.stderr.write(`provena serve: ${request.method} ${request.url}: ${(error as Error).stack ?? String(error)}\n`)
    const problem = problemOf(e, request.url.split('?')[0]!)
    // RFC 6750 §3: a 401 says which scheme it takes; invalid_token when one was presented and refused.
    if (problem.status === 401) reply.header('www-authenticate', `Bearer realm="provena"${e.code === 'API_UNAUTHENTICATED' ? '' : ', error="invalid_token"'}`)
    return reply.status(problem.status).type(PROBLEM_CONTENT_TYPE).send(problem)
  })
  app.setNotFoundHandler(async (request, reply) => {
    const problem = problemOf(apiErrors.notFound(request.method, request.url.split('?')[0]!), request.url.split('?')[0]!)
    return reply.status(404).type(PROBLEM_CONTENT_TYPE).send(problem)
  })

  await app.register(async (root) => {
    await systemRoutes(metrics)(root, ctx)
    for (const plugin of opts.plugins ?? ROUTE_PLUGINS) await plugin(root, ctx)
  })
  await app.ready()
  return app
}
