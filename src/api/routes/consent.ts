import type { FastifyInstance } from 'fastify'
import type { BulkChange, ConsentState } from '../../consent/index.js'
import { ProvenaError } from '../../errors.js'
import { ConsentGroupCommit, requireController } from '../../service/index.js'
import { actingIdentity } from '../acting.js'
import type { ApiContext } from '../context.js'
import { apiErrors } from '../errors.js'

/** The most changes one request carries (a bigger import is several requests, or `consent import`). */
export const MAX_CONSENT_CHANGES = 10_000

const STATES: Record<string, ConsentState> = { grant: 'given', withdraw: 'withdrawn', refuse: 'refused' }

interface ChangeBody {
  subject: string
  purpose: string
  action: 'grant' | 'withdraw' | 'refuse'
  expires?: string
  dataset?: string
  signer?: string
  issued?: string
  signature?: string
}

const CHANGE = {
  type: 'object',
  additionalProperties: false,
  required: ['subject', 'purpose', 'action'],
  properties: {
    subject: { type: 'string', minLength: 1, maxLength: 256, pattern: '\\S', description: "the controller's own subject id (pseudonymised before use)" },
    purpose: { type: 'string', minLength: 1, maxLength: 256, description: 'a W3C DPV purpose (dpv:ScientificResearch) or one of the node\'s own' },
    action: { type: 'string', enum: ['grant', 'withdraw', 'refuse'] },
    expires: { type: 'string', format: 'date-time', description: 'when a grant ends (default: until withdrawn)' },
    dataset: { type: 'string', pattern: '^[0-9a-fA-F]{6,64}$', description: 'limit the consent to one dataset (id or unique prefix)' },
    signer: { type: 'string', pattern: '^did:key:z[1-9A-HJ-NP-Za-km-z]{1,128}$', description: "the subject's did:key, when the subject signed the statement" },
    issued: { type: 'string', format: 'date-time' },
    signature: { type: 'string', pattern: '^[A-Za-z0-9+/=_-]{1,256}$', description: "the subject's Ed25519 signature of the consent statement (base64)" },
  },
} as const

/**
 * POST /v1/consent: a batch of consent changes, as `consent import` takes them, recorded by
 * the controller identity the credential acts as: all or none, in one transaction. The
 * checkpoint carrying the new map root is anchored on the node's schedule. Requests that
 * arrive together share one commit (ConsentGroupCommit), each still all or none; the answer
 * comes once its changes are committed.
 */
export async function consentRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  // Requests that arrive together are committed together: one transaction, one disk sync.
  const commits = new ConsentGroupCommit(ctx)

  app.post<{ Body: { changes: ChangeBody[]; as?: string } }>(
    '/v1/consent',
    {
      config: { auth: { scope: 'consent:write', roles: ['controller'] } },
      schema: {
        operationId: 'recordConsent',
        summary: 'Record a batch of consent changes (all or none)',
        description: 'Errors about one change name it as body/changes:N (N from 0).',
        tags: ['consent'],
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['changes'],
          properties: {
            changes: { type: 'array', minItems: 1, maxItems: MAX_CONSENT_CHANGES, items: CHANGE },
            as: { type: 'string', minLength: 1, maxLength: 256, description: "the node operator's credential only: the controller identity (name or DID; default the only controller)" },
          },
        },
        response: {
          200: {
            type: 'object',
            required: ['changes', 'unchanged', 'byState', 'firstLogIndex', 'treeSize'],
            properties: {
              changes: { type: 'integer', description: 'changes logged' },
              unchanged: { type: 'integer', description: 'changes that state what is recorded already: not logged again' },
              byState: { type: 'object', additionalProperties: { type: 'integer' } },
              firstLogIndex: { type: 'integer' },
              treeSize: { type: 'integer', description: 'the log size after the batch; anchored on the node\'s schedule (GET /v1/log)' },
            },
          },
        },
      },
    },
    async (request) => {
      const controller = actingIdentity(ctx, request.principal, request.body.as)
      requireController(controller)
      request.body.changes.forEach((c, i) => {
        // A subject's signature is three fields together (JSON Schema's dependentRequired, checked here: Ajv's draft-07 lacks it).
        const given = [c.signer, c.issued, c.signature].filter((v) => v !== undefined).length
        if (given !== 0 && given !== 3) {
          const field = `body/changes/${i}/${c.signer === undefined ? 'signer' : c.issued === undefined ? 'issued' : 'signature'}`
          throw apiErrors.badRequest(`${field}: missing (a subject signature needs signer, issued and signature together)`, { field })
        }
      })
      const rows: BulkChange[] = request.body.changes.map((c, i) => ({
        line: i,
        subjectId: c.subject,
        purpose: c.purpose,
        state: STATES[c.action]!,
        expires: c.expires ?? null,
        dataset: c.dataset ?? null,
        signature: c.signer ? { signer: c.signer, issued: c.issued!, signature: c.signature! } : undefined,
      }))
      const b = await commits.apply(controller, rows, 'body/changes')
      return { changes: b.count, unchanged: b.unchanged, byState: b.byState, firstLogIndex: b.firstLogIndex, treeSize: b.treeSize }
    },
  )
}
