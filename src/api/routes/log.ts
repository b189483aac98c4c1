import type { FastifyInstance } from 'fastify'
import { logStatus } from '../../service/index.js'
import type { ApiContext } from '../context.js'

/** GET /v1/log (`provena log show`): the log's size, its latest signed checkpoint and what is anchored on-chain. */
export async function logRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  app.get(
    '/v1/log',
    {
      config: { auth: { scope: 'log:read' } },
      schema: {
        operationId: 'getLog',
        summary: "The log: size, latest signed checkpoint (C2SP signed note), anchored size and root",
        tags: ['log'],
        response: {
          200: {
            type: 'object',
            required: ['origin', 'treeSize', 'checkpoint', 'anchored'],
            properties: {
              origin: { type: 'string' },
              treeSize: { type: 'integer', description: 'entries in the log now' },
              checkpoint: {
                type: ['object', 'null'],
                description: 'the latest checkpoint the node signed (null before the first)',
                required: ['treeSize', 'rootHash', 'note'],
                properties: { treeSize: { type: 'integer' }, rootHash: { type: 'string' }, note: { type: 'string' }, createdAt: { type: 'string', format: 'date-time' } },
              },
              anchored: {
                type: 'object',
                description: "CheckpointAnchor.latest() on the chain, read now",
                required: ['treeSize', 'rootHash', 'anchor', 'chainId'],
                properties: { treeSize: { type: 'integer' }, rootHash: { type: 'string' }, anchor: { type: 'string' }, chainId: { type: 'integer' } },
              },
            },
          },
        },
      },
    },
    async () => logStatus(ctx.p, ctx.chain),
  )
}
