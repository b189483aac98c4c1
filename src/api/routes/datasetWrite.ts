import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { findIdentity, unlockIdentity } from '../../access/index.js'
import { isProvenaError, ProvenaError } from '../../errors.js'
import { exportForPurpose, registerDatasetFile, showAsset } from '../../service/index.js'
import { actingIdentity } from '../acting.js'
import type { ApiContext } from '../context.js'

/** The body types POST /v1/datasets takes, and the file extension the registry reads them as. */
const UPLOAD_TYPES: Record<string, string> = { 'text/csv': '.csv', 'application/x-ndjson': '.jsonl', 'application/jsonl': '.jsonl' }

/** The header of an export's response carrying its report (JSON, ASCII). */
export const EXPORT_REPORT_HEADER = 'provena-export-report'

/** JSON with every non-ASCII character escaped: a header value. */
const asciiJson = (v: unknown) => JSON.stringify(v).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)

/** A scratch directory in the data dir (0700), removed by the caller. */
const scratch = (ctx: ApiContext) => mkdtempSync(join(ctx.dir, 'upload-'))

/**
 * POST /v1/datasets: registers a dataset sent as the body (CSV or JSON Lines), as
 * `dataset register`; POST /v1/datasets/{id}/export: the records whose subjects consent to
 * the purpose now, decrypted, as `dataset export --purpose` (the report in a header).
 */
export async function datasetWriteRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  // Within this plugin only: the bytes as sent (at most the server's body limit), kept as rawBody for a credential that covers them.
  app.addContentTypeParser(Object.keys(UPLOAD_TYPES), { parseAs: 'buffer' }, (request, body, done) => {
    request.rawBody = body as Buffer
    done(null, body)
  })

  app.post<{ Body: Buffer; Querystring: { name: string } }>(
    '/v1/datasets',
    {
      config: { auth: { scope: 'datasets:write', roles: ['controller'] } },
      schema: {
        operationId: 'registerDataset',
        summary: 'Register a dataset sent as the body (text/csv with a header, or application/x-ndjson), as `provena dataset register`: committed, logged, registered on-chain and anchored',
        description: 'For this node\'s API tokens only (not members\' signed requests). A body that does not parse is refused (REGISTRY_PARSE, naming the line and field) and nothing is registered. The same content registered before returns the first registration (`existing`).',
        tags: ['datasets'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          required: ['name'],
          properties: { name: { type: 'string', minLength: 1, maxLength: 256, pattern: '^[^\\u0000-\\u001f]+$', description: 'a name for people (the CLI sends the file name)' } },
        },
        consumes: Object.keys(UPLOAD_TYPES),
        body: { description: 'the dataset: CSV with a header, or JSON Lines' },
        response: {
          200: {
            type: 'object',
            additionalProperties: true,
            required: ['id', 'name', 'root', 'records', 'format', 'logIndex', 'existing', 'checkpoint'],
            properties: {
              id: { type: 'string' },
              name: { type: 'string' },
              root: { type: 'string' },
              records: { type: 'integer' },
              format: { type: 'string' },
              logIndex: { type: 'integer' },
              existing: { type: 'boolean' },
              transactionHash: { type: ['string', 'null'] },
              blockNumber: { type: ['integer', 'null'] },
              checkpoint: { type: 'object', additionalProperties: true },
            },
          },
        },
      },
    },
    async (request) => {
      // The node's own people and scripts register (API tokens); a member's signed request never does, whatever its role.
      if (request.principal?.kind !== 'token') {
        throw new ProvenaError('API_ROLE_DENIED', "registering a dataset on this node takes one of its API tokens: a consortium member's signed request does not", { details: { did: request.principal?.did } })
      }
      const type = String(request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase()
      // The upload is the body as sent: JSON (parsed by the server) or any other type is not a dataset file.
      if (!(type in UPLOAD_TYPES) || !Buffer.isBuffer(request.body)) {
        throw new ProvenaError('API_UNSUPPORTED_MEDIA_TYPE', `the body's content type ${type ? `"${type}"` : '(none)'} is not one this route takes`, { hint: `send Content-Type: ${Object.keys(UPLOAD_TYPES).join(' or ')}` })
      }
      const dir = scratch(ctx)
      const file = join(dir, `body${UPLOAD_TYPES[type] ?? '.csv'}`)
      try {
        writeFileSync(file, request.body, { mode: 0o600 })
        return await registerDatasetFile({ p: ctx.p, chain: ctx.chain }, file, { name: request.query.name })
      } catch (e) {
        // The registry names its file: here it is the request body.
        if (isProvenaError(e) && e.message.includes(file)) throw new ProvenaError(e.code, e.message.split(file).join('body line').replace('body line:', 'body line '), { hint: e.hint, details: { ...e.details, file: 'body' } })
        throw e
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    },
  )

  app.post<{ Params: { id: string }; Body: { purpose: string; as?: string } }>(
    '/v1/datasets/:id/export',
    {
      config: { auth: { scope: 'datasets:export' } },
      schema: {
        operationId: 'exportDataset',
        summary: 'Decrypt a dataset for a purpose, as `provena dataset export --purpose`: only the records whose subjects consent to it now; logged',
        description: `The records in the format the dataset was imported in (text/csv or application/x-ndjson); the export's report (records, excluded by reason, log entry) in the \`${EXPORT_REPORT_HEADER}\` header (JSON). The export is by the credential's identity (the node operator's: \`as\`, default the only controller).`,
        tags: ['datasets'],
        params: {
          type: 'object',
          required: ['id'],
          additionalProperties: false,
          properties: { id: { type: 'string', pattern: '^[0-9a-fA-F]{6,64}$', description: 'dataset id or a unique prefix' } },
        },
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['purpose'],
          properties: {
            purpose: { type: 'string', minLength: 1, maxLength: 256, description: 'a W3C DPV purpose or one of the node\'s own (logged)' },
            as: { type: 'string', minLength: 1, maxLength: 256, description: "the node operator's credential only: the identity that exports (name or DID)" },
          },
        },
        response: { 200: { description: 'the records', content: { 'text/csv': { schema: { type: 'string' } }, 'application/x-ndjson': { schema: { type: 'string' } } } } },
      },
    },
    async (request, reply) => {
      if (!ctx.plane) throw new ProvenaError('INTERNAL', 'this server was started without a block store: it cannot export')
      const who = actingIdentity(ctx, request.principal, request.body.as)
      const dir = scratch(ctx)
      try {
        const out = join(dir, 'export')
        const r = await exportForPurpose(
          { p: ctx.p, chain: ctx.chain, plane: ctx.plane },
          {
            dataset: request.params.id,
            as: who,
            purpose: request.body.purpose,
            out,
            unlockController: (did) => (did === who.did ? who : unlockIdentity(ctx.dir, findIdentity(ctx.dir, did).name, ctx.passphrase ?? '')),
          },
        )
        const { out: _out, ...report } = r
        const stream = createReadStream(out)
        stream.on('close', () => rmSync(dir, { recursive: true, force: true }))
        return reply
          .type(showAsset(ctx.p, r.dataset, 'dataset').format === 'jsonl' ? 'application/x-ndjson' : 'text/csv; charset=utf-8')
          .header(EXPORT_REPORT_HEADER, asciiJson(report))
          .header('cache-control', 'private, no-store')
          .send(stream)
      } catch (e) {
        rmSync(dir, { recursive: true, force: true })
        throw e
      }
    },
  )
}
