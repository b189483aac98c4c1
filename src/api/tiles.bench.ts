// Tile serving (issue 13): random tile and entry-bundle reads from 16 concurrent clients on
// loopback, against the node's Fastify route (tilesRoutes over SQLite) and against a plain
// static file server (node:http + fs.createReadStream) serving the same tiles written to a
// temp dir, alternating in the same run. Target: >= 0.8× the static server's throughput.
import { createReadStream, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { Agent, createServer, get, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { dirname, join, normalize } from 'node:path'
import { performance } from 'node:perf_hooks'
import Fastify from 'fastify'
import { progress, report } from '../bench/harness.js'
import { generateEd25519 } from '../crypto/index.js'
import { openDatabase } from '../db/index.js'
import { formatTilePath, LogTiles, partialTileWidth, recordCheckpoint, SqliteLog, type TilePath } from '../log/index.js'
import { tilesRoutes } from './tiles.js'

const N = Number(process.env.TILES_BENCH_N ?? 200_000)
const CLIENTS = 16
const SECONDS = Number(process.env.TILES_BENCH_SECONDS ?? 3)

const dir = mkdtempSync(join(tmpdir(), 'provena-bench-tiles-'))
const db = openDatabase(join(dir, 'provena.db'))
const log = new SqliteLog(db)
const key = generateEd25519()
progress(`a log of ${N} entries`)
for (let i = 0; i < N; i += 10_000) log.append(Array.from({ length: Math.min(10_000, N - i) }, (_, j) => Buffer.from(JSON.stringify({ type: 'bench.entry', index: i + j, at: '2026-12-02T00:00:00Z' }))))
recordCheckpoint(db, log, { origin: 'bench.example/log', privateKey: key.privateKey, publicKey: key.publicKeyBytes })

// Every tile of the tree, and its bundles.
const paths: string[] = []
for (let level = 0; 256 ** level <= N; level++) {
  const full = Math.floor(N / 256 ** (level + 1))
  const w = partialTileWidth(N, level)
  const tiles: TilePath[] = Array.from({ length: full }, (_, index) => ({ kind: 'hashes', level, index, width: 256 }))
  if (w > 0) tiles.push({ kind: 'hashes', level, index: full, width: w })
  for (const t of tiles) {
    paths.push(formatTilePath(t))
    if (level === 0) paths.push(formatTilePath({ ...t, kind: 'entries' }))
  }
}
const files = join(dir, 'static')
const reader = new LogTiles(db)
for (const p of paths) {
  const file = join(files, p)
  mkdirSync(dirname(file), { recursive: true })
  writeFileSync(file, reader.read(p).bytes)
}
progress(`${paths.length} tiles and bundles written to ${files}`)

const app = Fastify()
await app.register(tilesRoutes, { db })
const fastifyUrl = await app.listen({ host: '127.0.0.1', port: 0 })
// The same route without its tile cache: one SQLite range query per request.
const uncachedApp = Fastify()
await uncachedApp.register(tilesRoutes, { db, tiles: new LogTiles(db, { cacheBytes: 0 }) })
const uncachedUrl = await uncachedApp.listen({ host: '127.0.0.1', port: 0 })

// The baseline: a plain static file server, as a CDN origin would be.
const staticServer: Server = createServer((req, res) => {
  const rel = normalize(decodeURIComponent((req.url ?? '/').split('?')[0]!)).replace(/^\/log\//, '')
  const file = join(files, rel)
  if (rel.startsWith('..') || !existsSync(file)) {
    res.writeHead(404).end()
    return
  }
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'cache-control': 'public, max-age=31536000, immutable' })
  createReadStream(file).pipe(res)
})
await new Promise<void>((resolve) => staticServer.listen(0, '127.0.0.1', resolve))
const staticUrl = `http://127.0.0.1:${(staticServer.address() as { port: number }).port}`

/** 16 clients GET random tiles for `SECONDS`; returns requests per second and latency percentiles (ms). */
async function load(base: string): Promise<{ rate: number; p50: number; p99: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS })
  const u = new URL(base)
  const latencies: number[] = []
  const until = performance.now() + SECONDS * 1000
  let seed = 1313
  const next = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), paths[seed % paths.length]!)
  const one = (path: string) =>
    new Promise<void>((resolve, reject) => {
      get({ host: u.hostname, port: u.port, path: `/log/${path}`, agent }, (res) => {
        if (res.statusCode !== 200) reject(new Error(`${base}/log/${path}: HTTP ${res.statusCode}`))
        res.on('data', () => undefined)
        res.on('end', resolve)
      }).on('error', reject)
    })
  const t0 = performance.now()
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (performance.now() < until) {
        const s = performance.now()
        await one(next())
        latencies.push(performance.now() - s)
      }
    }),
  )
  const seconds = (performance.now() - t0) / 1000
  agent.destroy()
  latencies.sort((a, b) => a - b)
  return { rate: latencies.length / seconds, p50: latencies[Math.floor(latencies.length * 0.5)]!, p99: latencies[Math.floor(latencies.length * 0.99)]! }
}

try {
  // Warm both (the page cache for one, the tile cache for the other), then alternate.
  await load(staticUrl)
  await load(fastifyUrl)
  await load(uncachedUrl)
  const runs = { static: [] as Awaited<ReturnType<typeof load>>[], fastify: [] as Awaited<ReturnType<typeof load>>[], uncached: [] as Awaited<ReturnType<typeof load>>[] }
  for (let round = 0; round < 3; round++) {
    runs.static.push(await load(staticUrl))
    runs.fastify.push(await load(fastifyUrl))
    runs.uncached.push(await load(uncachedUrl))
    progress(`round ${round + 1}: static ${Math.round(runs.static.at(-1)!.rate)}/s, fastify ${Math.round(runs.fastify.at(-1)!.rate)}/s, fastify without tile cache ${Math.round(runs.uncached.at(-1)!.rate)}/s`)
  }
  const best = (r: Awaited<ReturnType<typeof load>>[]) => r.reduce((a, b) => (b.rate > a.rate ? b : a))
  const s = best(runs.static)
  const f = best(runs.fastify)
  report({
    name: `tile reads, ${CLIENTS} clients (GET /log/tile/…, random of ${paths.length})`,
    value: f.rate,
    unit: 'req/s',
    baseline: { name: 'node:http + fs.createReadStream, same files', value: s.rate, unit: 'req/s' },
    ratio: f.rate / s.rate,
    target: '>= 0.8×',
    note: `p50/p99 latency: tiles route ${f.p50.toFixed(2)}/${f.p99.toFixed(2)} ms, static server ${s.p50.toFixed(2)}/${s.p99.toFixed(2)} ms; a log of ${N} entries, best of 3 alternating ${SECONDS}-s rounds`,
  })
  const u = best(runs.uncached)
  report({
    name: `tile reads, ${CLIENTS} clients, route without its tile cache (one SQLite range query a request)`,
    value: u.rate,
    unit: 'req/s',
    baseline: { name: 'node:http + fs.createReadStream, same files', value: s.rate, unit: 'req/s' },
    ratio: u.rate / s.rate,
    note: `p50/p99 latency ${u.p50.toFixed(2)}/${u.p99.toFixed(2)} ms`,
  })
} finally {
  await app.close()
  await uncachedApp.close()
  staticServer.close()
  db.close()
  rmSync(dir, { recursive: true, force: true })
}
