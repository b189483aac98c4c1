import type { FastifyInstance } from 'fastify'
import { verifyNode } from '../../service/index.js'
import type { ApiContext } from '../context.js'

/** GET /v1/verify: the node's log against its chain, as `provena verify` on its data dir. */
export async function verifyRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  app.get<{ Querystring: { quorum?: string } }>(
    '/v1/verify',
    {
      config: { auth: { scope: 'log:read' } },
      schema: {
        operationId: 'verifyLog',
        summary: "Check the node's log against the chain: checkpoints consistent and anchored, assets logged, consent map roots replayed (the report of `provena verify --json`)",
        description: 'A failed check is a 200 whose report says `ok: false` and lists the failures (the CLI exits 3).',
        tags: ['log'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { quorum: { type: 'string', pattern: '^[1-9][0-9]{0,3}$', description: 'K: the latest checkpoint must carry K valid cosignatures by distinct witnesses of the pinned consortium file' } },
        },
        response: {
          200: {
            type: 'object',
            additionalProperties: true,
            required: ['ok', 'entries', 'failures'],
            properties: { ok: { type: 'boolean' }, entries: { type: 'integer' }, failures: { type: 'array', items: { type: 'object', additionalProperties: true } } },
          },
        },
      },
    },
    async (request) => verifyNode(ctx.p, ctx.chain, { quorum: request.query.quorum === undefined ? undefined : Number(request.query.quorum) }),
  )
}
