import { gzipSync } from 'node:zlib'
import type { FastifyInstance, FastifyReply } from 'fastify'
import type { Db } from '../db/index.js'
import { errorInfo } from '../errorCatalogue.js'
import { isProvenaError } from '../errors.js'
import { LogTiles, type SqliteLog } from '../log/index.js'
import { cosignedNote } from '../node/index.js'

/** Options of the tiles plugin. */
export interface TilesRoutesOptions {
  /** The node's database: its log tables and signed checkpoints. */
  db: Db
  /** The node's log (unused: tiles are read from `db` with range queries; kept for symmetry with other routes). */
  log?: SqliteLog
  /** A LogTiles to share (its cache) with other readers; one is made from `db` otherwise. */
  tiles?: LogTiles
  /** Where the log is served when the plugin is not registered under a prefix already (default "/log"). */
  prefix?: string
}

/** Full tiles and bundles never change: cacheable for a year (C2SP tlog-tiles: "immutable"). */
export const IMMUTABLE = 'public, max-age=31536000, immutable'
/** Partial tiles are replaced by wider ones as the log grows. */
export const PARTIAL = 'public, max-age=60'
/** The checkpoint is mutable: "SHOULD prevent caching beyond a few seconds". */
export const CHECKPOINT = 'public, max-age=2'

/**
 * Serves the log read-only as C2SP tlog-tiles: GET <prefix>/checkpoint (the latest signed
 * checkpoint note), <prefix>/tile/<L>/<N>[.p/<W>] and <prefix>/tile/entries/<N>[.p/<W>],
 * up to the latest signed checkpoint's tree. 400 for a path that is not canonical, 404 for
 * a tile beyond that tree (RFC 9457 problem details with the catalogue's code).
 *
 * @example
 * await app.register(tilesRoutes, { db: p.db })            // GET /log/checkpoint, /log/tile/0/000 …
 * await app.register(tilesRoutes, { db, prefix: '/logs/a' }) // GET /logs/a/checkpoint …
 */
export async function tilesRoutes(app: FastifyInstance, opts: TilesRoutesOptions): Promise<void> {
  const tiles = opts.tiles ?? new LogTiles(opts.db)
  // Registered with { prefix }, Fastify prefixes the routes itself.
  const base = app.prefix ? '' : (opts.prefix ?? '/log').replace(/\/+$/, '')
  const tags = ['log']
  // Bundles gzipped once each (their bytes never change), the most recent 512 kept.
  const gz = new Map<string, Buffer>()
  const gzipped = (path: string, bytes: Buffer): Buffer => {
    let z = gz.get(path)
    if (!z) {
      z = gzipSync(bytes)
      gz.set(path, z)
      if (gz.size > 512) gz.delete(gz.keys().next().value!)
    }
    return z
  }
  const problems = {
    400: { description: 'not a canonical tile path (LOG_TILE_BAD_PATH)', content: { 'application/problem+json': { schema: { type: 'object' } } } },
    404: { description: 'beyond the latest signed checkpoint, or no checkpoint yet (LOG_TILE_NOT_FOUND, LOG_TILE_NO_CHECKPOINT)', content: { 'application/problem+json': { schema: { type: 'object' } } } },
  }

  app.get(
    `${base}/checkpoint`,
    {
      schema: {
        tags,
        summary: 'The latest signed checkpoint (C2SP tlog-checkpoint signed note), with the witnesses\' cosignatures gathered for it (c2sp.org/tlog-cosignature)',
        response: { 200: { description: 'the signed note', content: { 'text/plain': { schema: { type: 'string' } } } }, 404: problems[404] },
      },
    },
    async (_req, reply) => {
      try {
        // With the cosignatures gathered for it (more signature lines of the note): a mirror
        // checks the quorum from this endpoint alone, with the witness keys it pins.
        const c = tiles.checkpoint()
        return reply.header('cache-control', CHECKPOINT).type('text/plain; charset=utf-8').send(cosignedNote(opts.db, c))
      } catch (e) {
        return problem(reply, e)
      }
    },
  )

  app.get(
    `${base}/tile/*`,
    {
      schema: {
        tags,
        summary: 'A tile of Merkle tree hashes, tile/<L>/<N>[.p/<W>], or an entry bundle, tile/entries/<N>[.p/<W>] (C2SP tlog-tiles)',
        params: { type: 'object', properties: { '*': { type: 'string', description: 'the rest of the tile path, e.g. 0/x001/234.p/5' } } },
        response: {
          200: { description: '32-byte hashes, or entries each with a big-endian uint16 length', content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } },
          ...problems,
        },
      },
    },
    async (req, reply) => {
      try {
        const path = `tile/${(req.params as { '*': string })['*']}`
        const { bytes, isFull } = tiles.read(path)
        reply.header('cache-control', isFull ? IMMUTABLE : PARTIAL).type('application/octet-stream')
        // Entry bundles SHOULD be compressed at the HTTP layer (tlog-tiles); hashes do not compress.
        if (path.startsWith('tile/entries/')) {
          reply.header('vary', 'accept-encoding')
          if (/\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) return reply.header('content-encoding', 'gzip').send(gzipped(path, bytes))
        }
        return reply.send(bytes)
      } catch (e) {
        return problem(reply, e)
      }
    },
  )
}

/**
 * An RFC 9457 problem with the catalogue's code and HTTP status, shaped as the API's
 * (type urn:provena:error:<CODE>, title, status, detail, instance, code, hint): answered
 * here so the plugin behaves the same on a bare Fastify instance.
 */
function problem(reply: FastifyReply, e: unknown): FastifyReply {
  if (!isProvenaError(e)) throw e
  const { http: status, description: title } = errorInfo(e.code)
  const body = { type: `urn:provena:error:${e.code}`, title, status, detail: e.message, instance: reply.request.url.split('?')[0], code: e.code, ...(e.hint ? { hint: e.hint } : {}) }
  return reply.code(status).header('cache-control', 'no-store').type('application/problem+json').send(JSON.stringify(body))
}
