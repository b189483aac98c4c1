// The witness's HTTP interface (c2sp.org/tlog-witness): POST /witness/add-checkpoint and the
// monitoring GET /witness/<origin hash>/checkpoint. Text bodies in, text bodies out; the
// statuses are the spec's. There is no authentication beyond the checkpoint's signature by
// a log key the pinned consortium file lists (as the spec says).
import type {} from '@fastify/swagger' // its FastifySchema fields: summary, tags, consumes, produces
import type { FastifyInstance } from 'fastify'
import { addCheckpointResponse, witnessedCheckpoint, type WitnessContext } from '../node/index.js'

export interface WitnessRoutesOptions {
  /** The witness's state and keys; a function when they may change while serving (a consortium update). */
  witness: WitnessContext | (() => WitnessContext)
  /** Largest request body, bytes (default 16 KiB: 63 proof lines and a checkpoint with many signatures fit). */
  bodyLimit?: number
}

/** 63 proof lines of 45 bytes, a checkpoint and a few dozen signature lines. */
export const WITNESS_BODY_LIMIT = 16 * 1024

/**
 * Fastify plugin serving the witness. Register it encapsulated (`app.register(witnessRoutes,
 * opts)`, not through fastify-plugin): it replaces the content-type parsers of its own
 * context so that any request body is read as text (the spec names no request content type).
 *
 * @example
 * await app.register(witnessRoutes, { witness: { db: p.db, key: deriveWitnessKey(p.signer.privateKey), logKey: (o) => logs.get(o) } })
 * // POST /witness/add-checkpoint  'old 0\n\n<checkpoint>' → 200 '— provena.witness/… …\n'
 */
export async function witnessRoutes(app: FastifyInstance, opts: WitnessRoutesOptions): Promise<void> {
  const context = typeof opts.witness === 'function' ? opts.witness : () => opts.witness as WitnessContext
  const bodyLimit = opts.bodyLimit ?? WITNESS_BODY_LIMIT
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit }, (_req, body, done) => done(null, body))

  app.post(
    '/witness/add-checkpoint',
    {
      bodyLimit,
      schema: {
        summary: 'C2SP tlog-witness add-checkpoint: cosign a checkpoint that extends the last one cosigned',
        tags: ['witness'],
        consumes: ['text/plain'],
        produces: ['text/plain', 'text/x.tlog.size'],
        body: { type: 'string', maxLength: bodyLimit },
      },
    },
    async (req, reply) => {
      const r = addCheckpointResponse(context(), typeof req.body === 'string' ? req.body : '')
      if (r.status !== 200) req.log.warn({ status: r.status, refusal: r.body.trim() }, 'witness refused a checkpoint')
      return reply.code(r.status).type(r.contentType).send(r.body)
    },
  )

  app.get<{ Params: { originHash: string } }>(
    '/witness/:originHash/checkpoint',
    {
      schema: {
        summary: 'the last checkpoint this witness cosigned for a log, by SHA-256 of its origin (hex)',
        tags: ['witness'],
        produces: ['text/plain'],
        params: { type: 'object', properties: { originHash: { type: 'string', pattern: '^[0-9a-f]{64}$' } }, required: ['originHash'] },
      },
    },
    async (req, reply) => {
      const note = witnessedCheckpoint(context().db, req.params.originHash)
      if (note === undefined) return reply.code(404).type('text/plain; charset=utf-8').send('this witness has cosigned no checkpoint of that log\n')
      return reply.type('text/plain; charset=utf-8').send(note)
    },
  )
}
