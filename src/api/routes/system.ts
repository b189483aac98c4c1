import type { FastifyInstance } from 'fastify'
import type { ApiContext } from '../context.js'
import { renderMetrics, type ApiMetrics } from '../metrics.js'

/** GET /healthz (public), GET /metrics (scope metrics:read), GET /openapi.json (public). */
export function systemRoutes(metrics: ApiMetrics) {
  return async (app: FastifyInstance, ctx: ApiContext): Promise<void> => {
    app.get(
      '/healthz',
      {
        config: { auth: 'public' },
        schema: {
          operationId: 'getHealth',
          summary: 'Liveness: the node answers and its database reads',
          tags: ['system'],
          response: { 200: { type: 'object', required: ['status', 'treeSize'], properties: { status: { type: 'string', const: 'ok' }, treeSize: { type: 'integer' } } } },
        },
      },
      async () => ({ status: 'ok' as const, treeSize: ctx.p.log.size() }),
    )

    app.get(
      '/metrics',
      {
        config: { auth: { scope: 'metrics:read' } },
        schema: {
          operationId: 'getMetrics',
          summary: 'Prometheus metrics (text exposition format 0.0.4): anchoring lag, outbox depth, requests, refusals',
          tags: ['system'],
          produces: ['text/plain'],
          response: { 200: { type: 'string', description: 'text/plain; version=0.0.4' } },
        },
      },
      async (_request, reply) => reply.type('text/plain; version=0.0.4; charset=utf-8').send(renderMetrics(ctx, metrics, ctx.now?.() ?? Date.now())),
    )

    app.get('/openapi.json', { config: { auth: 'public' }, schema: { hide: true } }, async () => app.swagger())
  }
}
