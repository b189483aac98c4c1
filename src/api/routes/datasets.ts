import type { FastifyInstance } from 'fastify'
import { assetListing, showAsset } from '../../service/index.js'
import type { RouteAuth } from '../auth.js'
import type { ApiContext } from '../context.js'

const auth: RouteAuth = { scope: 'datasets:read' }

/** A dataset as listed (service/assets.ts: AssetSummary of a dataset). */
const DATASET = {
  type: 'object',
  required: ['id', 'name', 'kind', 'root', 'records', 'registeredAt', 'logIndex', 'owner'],
  properties: {
    id: { type: 'string', pattern: '^[0-9a-f]{64}$' },
    name: { type: 'string' },
    kind: { type: 'string', const: 'dataset' },
    root: { type: 'string' },
    records: { type: ['integer', 'null'] },
    format: { type: 'string' },
    encrypted: { type: 'boolean', description: 'imported encrypted under its subjects\' keys (true) or registered in clear' },
    registeredAt: { type: 'string', format: 'date-time' },
    logIndex: { type: 'integer', description: 'the log entry of its registration' },
    owner: { type: 'object', required: ['name', 'did'], properties: { name: { type: ['string', 'null'] }, did: { type: 'string' } } },
  },
} as const

/** GET /v1/datasets, GET /v1/datasets/{id}: the registry, read-only. */
export async function datasetRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  app.get(
    '/v1/datasets',
    {
      config: { auth },
      schema: {
        operationId: 'listDatasets',
        summary: 'The registered datasets',
        tags: ['datasets'],
        response: { 200: { type: 'object', required: ['datasets'], properties: { datasets: { type: 'array', items: DATASET } } } },
      },
    },
    async () => ({ datasets: assetListing(ctx.p, 'dataset') }),
  )

  app.get<{ Params: { id: string } }>(
    '/v1/datasets/:id',
    {
      config: { auth },
      schema: {
        operationId: 'getDataset',
        summary: 'One dataset, by id or a unique prefix of 6+ hex digits, with its manifest',
        tags: ['datasets'],
        params: {
          type: 'object',
          required: ['id'],
          additionalProperties: false,
          properties: { id: { type: 'string', pattern: '^[0-9a-fA-F]{6,64}$', description: 'dataset id (SHA-256 of its manifest) or a unique prefix' } },
        },
        response: {
          200: { ...DATASET, required: [...DATASET.required, 'manifest'], properties: { ...DATASET.properties, manifest: { type: ['object', 'null'], additionalProperties: true } } },
        },
      },
    },
    async (request) => showAsset(ctx.p, request.params.id, 'dataset'),
  )
}
