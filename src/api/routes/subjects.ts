import type { FastifyInstance } from 'fastify'
import { requireController } from '../../service/index.js'
import { ProvenaError } from '../../errors.js'
import { eraseSubject } from '../../service/index.js'
import { actingIdentity } from '../acting.js'
import type { ApiContext } from '../context.js'

/** POST /v1/subjects/{subject}/erase: crypto-shredding, as `provena subject erase`. */
export async function subjectRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  app.post<{ Params: { subject: string }; Body: { as?: string } | undefined }>(
    '/v1/subjects/:subject/erase',
    {
      config: { auth: { scope: 'subjects:erase', roles: ['controller'] } },
      schema: {
        operationId: 'eraseSubject',
        summary: "Erase a subject: destroy their data key and salts, log it, announce it on-chain (AccessPolicy.SubjectErased)",
        description: "By the controller identity the credential acts as (the node operator's: `as`, default the only controller). Erasing an erased subject again reports the first erasure.",
        tags: ['subjects'],
        params: {
          type: 'object',
          required: ['subject'],
          additionalProperties: false,
          properties: { subject: { type: 'string', minLength: 1, maxLength: 256, description: "the controller's own subject id (pseudonymised before use), URL-encoded" } },
        },
        body: {
          type: 'object',
          additionalProperties: false,
          properties: { as: { type: 'string', minLength: 1, maxLength: 256, description: "the node operator's credential only: the controller identity (name or DID)" } },
        },
        response: {
          200: {
            type: 'object',
            additionalProperties: true,
            required: ['pseudonym', 'datasets', 'records', 'logIndex', 'checkpoint'],
            properties: {
              pseudonym: { type: 'string' },
              datasets: { type: 'array', items: { type: 'string' } },
              records: { type: 'integer' },
              logIndex: { type: 'integer' },
              announcement: { type: ['string', 'null'] },
              checkpoint: { type: 'object', additionalProperties: true },
            },
          },
        },
      },
    },
    async (request) => {
      if (!ctx.plane) throw new ProvenaError('INTERNAL', 'this server was started without a block store: it cannot erase')
      const controller = actingIdentity(ctx, request.principal, request.body?.as)
      requireController(controller)
      return eraseSubject({ p: ctx.p, chain: ctx.chain, plane: ctx.plane }, request.params.subject, controller)
    },
  )
}
