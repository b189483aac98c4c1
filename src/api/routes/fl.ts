// Federated learning over HTTP (issue 13, PROTOCOL.md §4). On the coordinator's node: the
// participants' nodes read their task message and the global models and deliver their own
// sealed update and manifest, each request signed by the participant's member key (RFC 9421);
// people and scripts create tasks, aggregate and read the status with API tokens. On a
// hospital's node: a token triggers a round of the node's own client against the
// coordinator's node. HTTP is only a carrier: what crosses is checked as the exchange
// directory's files are (the task message's signature, the models' digests on-chain, the
// updates against their commitments).
import type { FastifyInstance, FastifyReply } from 'fastify'
import { listIdentities, type UnlockedIdentity } from '../../access/index.js'
import { ProvenaError } from '../../errors.js'
import { AGGREGATION_RULES, taskStatus, type AggregationRule, type FlContext } from '../../fl/index.js'
import {
  acceptDelivery,
  aggregateAcrossNodes,
  createTaskAcrossNodes,
  FL_UPDATE_BODY_LIMIT,
  flNodeContext,
  httpExchange,
  modelForParticipant,
  mayReadTask,
  nodeExchangeDir,
  runClientAcrossNodes,
  serialised,
  taskForParticipant,
  taskSpecOf,
} from '../../service/index.js'
import { actingIdentity } from '../acting.js'
import { OPERATOR_ROLE } from '../tokens.js'
import type { Principal, RouteAuth } from '../auth.js'
import type { ApiContext } from '../context.js'

/** A participant's node (signed member request): its task message, the models, its own update. */
const participant: RouteAuth = { scope: 'fl:train', roles: ['controller', 'processor', 'trainer'] }
/** The coordinator's people and scripts (API token of the aggregator identity). */
const coordinate: RouteAuth = { scope: 'fl:coordinate', roles: ['processor'] }
/** A hospital's people and scripts (API token of the participant identity). */
const train: RouteAuth = { scope: 'fl:train', roles: ['controller', 'processor', 'trainer'] }

// Path parameters are strings (types are not coerced): positive decimal integers.
const TASK_PARAM = { type: 'object', required: ['task'], properties: { task: { type: 'string', pattern: '^[1-9][0-9]{0,14}$', description: 'the task number' } } } as const
const ROUND_PARAMS = { type: 'object', required: ['task', 'round'], properties: { ...TASK_PARAM.properties, round: { type: 'string', pattern: '^[1-9][0-9]{0,8}$', description: 'the round number' } } } as const
const BINARY = { description: 'the model (safetensors); its SHA-256 is checked by the client against the chain', content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } }
const BASE64 = (what: string) => ({ type: 'string', minLength: 1, maxLength: FL_UPDATE_BODY_LIMIT, pattern: '^[A-Za-z0-9+/]*={0,2}$', description: `${what}, base64` }) as const
const ADDRESS = { type: 'string', pattern: '^0x[0-9a-fA-F]{40}$' } as const
const OBJECT = { type: 'object', additionalProperties: true } as const

interface CreateBody {
  model: Record<string, unknown>
  features: number
  classes?: number
  label?: string
  purpose: string
  participants: string[]
  rounds: number
  minClients?: number
  roundTimeout?: number
  aggregation?: AggregationRule
  maxUpdateNorm?: number
  dp?: { epsilon: number; delta?: number; clip?: number }
  as?: string
}

/** The origin of an http(s) URL, or undefined. */
const originOf = (url: string): string | undefined => {
  try {
    const u = new URL(url)
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.origin : undefined
  } catch {
    return undefined
  }
}

/**
 * `url` when its origin is the `endpoint` a member advertises in the node's pinned
 * consortium file; FL_COORDINATOR_NOT_PINNED otherwise (the node would otherwise send
 * requests signed with its member key wherever a token holder pointed it).
 */
function pinnedEndpoint(ctx: ApiContext, url: string): string {
  const origin = originOf(url)
  const pinned = (ctx.p.consortium?.members ?? []).find((m) => m.endpoint !== undefined && originOf(m.endpoint) === origin)
  if (!origin || !pinned) {
    throw new ProvenaError('FL_COORDINATOR_NOT_PINNED', `${url} is not the node of a member of this node's consortium file: it talks only to the endpoints the file pins`, {
      hint: "the coordinator advertises its URL in its card (provena identity show NAME --endpoint URL; the admin: consortium create --endpoint URL), then each node runs provena consortium update",
      details: { coordinator: url },
    })
  }
  return url
}

/**
 * Routes of federated learning between nodes: GET /v1/fl/tasks/{task}, GET
 * /v1/fl/tasks/{task}/rounds/{round}/model, GET /v1/fl/tasks/{task}/model, PUT
 * /v1/fl/tasks/{task}/rounds/{round}/updates (participants, signed); POST /v1/fl/tasks,
 * POST /v1/fl/tasks/{task}/aggregate, GET /v1/fl/tasks/{task}/status (the coordinator's
 * tokens); POST /v1/fl/tasks/{task}/train (a participant node's tokens).
 */
export async function flRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  let fl: FlContext | undefined
  const flCtx = (): FlContext => {
    if (!ctx.plane) throw new ProvenaError('INTERNAL', 'this server was started without a block store: it cannot take part in federated learning')
    return (fl ??= flNodeContext(ctx.p, ctx.chain, ctx.plane.store))
  }
  /**
   * The identity of this node a token acts as (actingIdentity: its own, or for the
   * operator's token of `provena serve` the one `as` names). A member's signed request, or
   * a token of no identity of this node, acts as none here.
   */
  const identityOf = (principal: Principal | null, as?: string): UnlockedIdentity => {
    const did = principal?.did ?? null
    const local = principal?.kind === 'token' && did !== null && (did === ctx.p.operatorDid ? as !== undefined : listIdentities(ctx.dir).some((i) => i.did === did))
    if (!local) {
      throw new ProvenaError('FL_NOT_LOCAL_IDENTITY', `the credential acts as ${did ?? 'no identity'}, not an identity of this node`, { hint: 'create the token --as an identity of this node (provena token create --as NAME)' })
    }
    return actingIdentity(ctx, principal, as)
  }
  const caller = (request: { principal: { did: string | null } | null }) => request.principal?.did ?? null

  app.get<{ Params: { task: string } }>(
    '/v1/fl/tasks/:task',
    {
      config: { auth: participant },
      schema: {
        operationId: 'getFlTask',
        summary: "A participant's task message (signed by the aggregator) and the open round",
        description: 'For the participants of the task only, by a request signed with their member key. The client checks the message as it checks a file of the exchange directory.',
        tags: ['fl'],
        params: TASK_PARAM,
        response: {
          200: {
            type: 'object',
            required: ['task', 'message', 'round', 'rounds', 'done', 'delivered'],
            properties: { task: { type: 'integer' }, message: OBJECT, round: { type: 'integer' }, rounds: { type: 'integer' }, done: { type: 'boolean' }, delivered: { type: 'boolean', description: "the caller's update of the open round is here" } },
          },
        },
      },
    },
    async (request) => taskForParticipant(ctx.p, flCtx(), Number(request.params.task), caller(request)),
  )

  const sendModel = (bytes: Buffer, reply: FastifyReply) => reply.type('application/octet-stream').header('cache-control', 'private, no-store').send(bytes)
  app.get<{ Params: { task: string; round: string } }>(
    '/v1/fl/tasks/:task/rounds/:round/model',
    {
      config: { auth: participant },
      schema: { operationId: 'getFlRoundModel', summary: 'The global model that starts a round', tags: ['fl'], params: ROUND_PARAMS, response: { 200: BINARY } },
    },
    async (request, reply) => sendModel(await modelForParticipant(ctx.p, flCtx(), Number(request.params.task), caller(request), Number(request.params.round)), reply),
  )
  app.get<{ Params: { task: string } }>(
    '/v1/fl/tasks/:task/model',
    {
      config: { auth: participant },
      schema: { operationId: 'getFlFinalModel', summary: 'The final model of a completed task', tags: ['fl'], params: TASK_PARAM, response: { 200: BINARY } },
    },
    async (request, reply) => sendModel(await modelForParticipant(ctx.p, flCtx(), Number(request.params.task), caller(request)), reply),
  )

  app.put<{ Params: { task: string; round: string }; Body: { client: string; sealed: string; manifest: string } }>(
    '/v1/fl/tasks/:task/rounds/:round/updates',
    {
      config: { auth: participant },
      bodyLimit: FL_UPDATE_BODY_LIMIT,
      schema: {
        operationId: 'putFlUpdate',
        summary: "A participant's own sealed update and training manifest of the open round",
        description:
          'Signed by the participant (its member key); `client` must be its own address. Refused: a round that is not open (409), no commitment on-chain for the round, or files other than the committed ones (409). Stored in the node\'s exchange directory for its aggregator.',
        tags: ['fl'],
        params: ROUND_PARAMS,
        body: { type: 'object', additionalProperties: false, required: ['client', 'sealed', 'manifest'], properties: { client: ADDRESS, sealed: BASE64('the sealed update (HPKE to the aggregator)'), manifest: BASE64('the training manifest (JSON)') } },
        response: { 200: { type: 'object', required: ['task', 'round', 'client', 'stored'], properties: { task: { type: 'integer' }, round: { type: 'integer' }, client: { type: 'string' }, stored: { type: 'integer' } } } },
      },
    },
    async (request) =>
      acceptDelivery(ctx.p, flCtx(), {
        task: Number(request.params.task),
        round: Number(request.params.round),
        caller: caller(request),
        client: request.body.client,
        sealed: Buffer.from(request.body.sealed, 'base64'),
        manifest: Buffer.from(request.body.manifest, 'base64'),
      }),
  )

  app.post<{ Body: CreateBody }>(
    '/v1/fl/tasks',
    {
      config: { auth: coordinate },
      schema: {
        operationId: 'createFlTask',
        summary: 'Create a federated task (as `provena fl task create`), aggregated by the token\'s identity',
        description: "The task is created on-chain and published in this node's exchange: each participant's node reads it here. `provena serve` aggregates each round once every participant that committed delivered (or the round's timeout passed).",
        tags: ['fl'],
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['model', 'features', 'purpose', 'participants', 'rounds'],
          properties: {
            model: { type: 'object', required: ['type'], properties: { type: { type: 'string', enum: ['logistic', 'mlp'] } }, additionalProperties: true, description: 'a model spec (type logistic or mlp; epochs, learningRate, batchSize, l2, seed, hidden)' },
            features: { type: 'integer', minimum: 1, maximum: 1_000_000 },
            classes: { type: 'integer', minimum: 2, maximum: 100_000 },
            label: { type: 'string', minLength: 1, maxLength: 256 },
            purpose: { type: 'string', minLength: 1, maxLength: 256 },
            participants: { type: 'array', minItems: 1, maxItems: 1000, items: { type: 'string', minLength: 1, maxLength: 256 }, description: 'member names or DIDs' },
            rounds: { type: 'integer', minimum: 1, maximum: 10_000 },
            minClients: { type: 'integer', minimum: 1 },
            roundTimeout: { type: 'integer', minimum: 1, description: 'seconds' },
            aggregation: { type: 'string', enum: [...AGGREGATION_RULES] },
            maxUpdateNorm: { type: 'number', exclusiveMinimum: 0 },
            dp: { type: 'object', additionalProperties: false, required: ['epsilon'], properties: { epsilon: { type: 'number', exclusiveMinimum: 0 }, delta: { type: 'number', exclusiveMinimum: 0 }, clip: { type: 'number', exclusiveMinimum: 0 } } },
            as: { type: 'string', minLength: 1, maxLength: 256, description: "the identity to act as (the operator's token of provena serve only; another token acts as its own)" },
          },
        },
        response: { 200: { type: 'object', additionalProperties: true, required: ['task'], properties: { task: { type: 'integer' } } } },
      },
    },
    async (request) => {
      const b = request.body
      const aggregator = identityOf(request.principal, b.as)
      const spec = taskSpecOf({
        model: b.model,
        features: b.features,
        classes: b.classes ?? 2,
        label: b.label ?? 'target',
        aggregation: b.aggregation ?? 'fedavg',
        maxUpdateNorm: b.maxUpdateNorm ?? 100,
        dp: b.dp ? { epsilon: b.dp.epsilon, delta: b.dp.delta ?? 1e-5, clip: b.dp.clip ?? 1 } : null,
      })
      const o = { spec, purpose: b.purpose, participants: b.participants, rounds: b.rounds, minClients: b.minClients ?? b.participants.length, roundTimeout: b.roundTimeout ?? 3600 }
      return serialised(ctx.p, () => createTaskAcrossNodes(ctx.p, flCtx(), aggregator, { ...o, exchange: nodeExchangeDir(ctx.dir) }))
    },
  )

  app.post<{ Params: { task: string }; Querystring: { as?: string } }>(
    '/v1/fl/tasks/:task/aggregate',
    {
      config: { auth: coordinate },
      schema: {
        operationId: 'aggregateFlRound',
        summary: 'Aggregate the open round now (as `provena fl aggregate`)',
        tags: ['fl'],
        params: TASK_PARAM,
        querystring: { type: 'object', additionalProperties: false, properties: { as: { type: 'string', minLength: 1, maxLength: 256, description: "the identity to act as (the operator's token of provena serve only; another token acts as its own)" } } },
        response: { 200: { type: 'object', additionalProperties: true, required: ['task', 'round'], properties: { task: { type: 'integer' }, round: { type: 'integer' } } } },
      },
    },
    async (request) => {
      const aggregator = identityOf(request.principal, request.query.as)
      return serialised(ctx.p, () => aggregateAcrossNodes(ctx.p, flCtx(), { task: Number(request.params.task), aggregator, exchange: nodeExchangeDir(ctx.dir) }))
    },
  )

  app.get<{ Params: { task: string } }>(
    '/v1/fl/tasks/:task/status',
    {
      config: { auth: coordinate },
      schema: {
        operationId: 'getFlTaskStatus',
        summary: 'A federated task: round, commitments, deadline, models (as `provena fl status`)',
        tags: ['fl'],
        params: TASK_PARAM,
        response: { 200: { type: 'object', additionalProperties: true, required: ['task', 'round', 'done'], properties: { task: { type: 'integer' }, round: { type: 'integer' }, done: { type: 'boolean' } } } },
      },
    },
    async (request) => {
      const task = Number(request.params.task)
      // The node's operator (the CLI on this data dir) reads every task; anyone else only a task it aggregates or takes part in.
      const p = request.principal
      const operator = p?.kind === 'token' && p.role === OPERATOR_ROLE && p.did === ctx.p.operatorDid
      if (!operator) mayReadTask(flCtx(), task, p?.did ?? null)
      return taskStatus(flCtx(), task)
    },
  )

  app.post<{ Params: { task: string }; Body: { dataset: string; coordinator: string; as?: string } }>(
    '/v1/fl/tasks/:task/train',
    {
      config: { auth: train },
      schema: {
        operationId: 'trainFlRound',
        summary: "Run this node's client for the open round against the coordinator's node (as `provena fl client run --coordinator URL`)",
        description:
          "Acts as the token's identity (a participant of the task, an identity of this node): reads the task and the global model from the coordinator's node over HTTP (signed with the identity's member key) and checks them against the chain, gates its dataset by consent, trains, commits on-chain and delivers its sealed update and manifest to the coordinator's node.",
        tags: ['fl'],
        params: TASK_PARAM,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['dataset', 'coordinator'],
          properties: { dataset: { type: 'string', pattern: '^[0-9a-fA-F]{6,64}$' }, coordinator: { type: 'string', pattern: '^https?://', maxLength: 2048, description: "the coordinator's node base URL" }, as: { type: 'string', minLength: 1, maxLength: 256, description: "the identity to act as (the operator's token of provena serve only; another token acts as its own)" } },
        },
        response: { 200: { type: 'object', additionalProperties: true, required: ['task', 'round'], properties: { task: { type: 'integer' }, round: { type: 'integer' } } } },
      },
    },
    async (request) => {
      const client = identityOf(request.principal, request.body.as)
      // This node talks only to the nodes its consortium file pins: a token cannot make it send signed requests anywhere else.
      const coordinator = pinnedEndpoint(ctx, request.body.coordinator)
      const exchange = httpExchange(coordinator, { keyId: client.did, privateKey: client.signing.privateKey })
      return serialised(ctx.p, () => runClientAcrossNodes(ctx.p, flCtx(), { task: Number(request.params.task), dataset: request.body.dataset, client, exchange }))
    },
  )
}
