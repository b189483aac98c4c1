import type { Command } from 'commander'
import { anchorIfDue, anchorLateCosignatures, anchorNow, openChain, openProvena, resolveDataDir } from '../../app/index.js'
import { apiErrors, claimDataDir, createServeToken, memberAuthenticator, refuseIfServed, renewServeToken, revokeServeTokens, revokeToken, tokenAuthenticator, type ApiContext } from '../../api/index.js'
import { ProvenaError } from '../../errors.js'
import { cosignCheckpoint, flAutoAggregator, flNodeContext, missingCosigners } from '../../service/index.js'
import { integer } from '../args.js'
import { emit, type CommonOptions } from '../output.js'
import { askPassphrase } from '../passphrase.js'
import { openStore } from '../../store/index.js'
import { registryContext } from '../../service/index.js'
import { action, common } from '../session.js'

interface ServeOptions extends CommonOptions {
  port: number
  host: string
  bodyLimit?: number
  publicUrl?: string
}

/** The origin of --public-url (http or https, no path, query or credentials): what members sign their requests for. */
function publicOrigin(text: string): string {
  let u: URL
  try {
    u = new URL(text)
  } catch {
    throw new ProvenaError('CLI_BAD_ARGUMENT', `--public-url ${text} is not a URL (e.g. https://node.example.org)`)
  }
  if ((u.protocol !== 'https:' && u.protocol !== 'http:') || u.username || u.password || u.search || u.hash || u.pathname !== '/') {
    throw new ProvenaError('CLI_BAD_ARGUMENT', `--public-url ${text}: an http(s) origin is expected, with no path, query or credentials (e.g. https://node.example.org)`)
  }
  return u.origin
}

/** How often a node looks for federated rounds it aggregates that are ready (every participant delivered, or the deadline passed). */
const FL_TICK_MS = 1500
/** The lifetime of the operator's token in serve.json: renewed when half of it is left. */
const SERVE_TOKEN_LIFETIME_MS = 24 * 3_600_000

/** How often a node asks again the witnesses that have not cosigned its newest checkpoint. */
const RECOSIGN_MS = 10_000

/** Whether `host` is a loopback address (plain HTTP stays on the machine). */
const isLoopback = (host: string) => host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host)

/** The URL of a listening address: an IPv6 host in brackets. */
const urlOf = (host: string, port: number) => `http://${host.includes(':') ? `[${host}]` : host}:${port}`

export function registerServe(program: Command): void {
  common(program.command('serve').description('run this data dir as a node: the HTTP API (OpenAPI at /openapi.json, docs at /docs), anchoring on its schedule; the CLI on this data dir goes through it while it runs (commands it has no route for refuse)'))
    .option('--port <port>', 'TCP port (0: any free one)', integer('--port'), 8080)
    .option('--host <host>', 'address to listen on (put TLS in front for anything but loopback)', '127.0.0.1')
    .option('--body-limit <bytes>', 'largest request body (default 1 MiB)', integer('--body-limit', 1))
    .option('--public-url <url>', "the URL other members reach this node at, when it is not the one it listens at (TLS in front): their signed requests must be signed for it; the proxy passes the Host header on")
    .action(
      action(async (opts: ServeOptions) => {
        if (opts.port > 65535) throw new ProvenaError('CLI_BAD_ARGUMENT', `--port ${opts.port} is not a TCP port (0-65535)`)
        const origin = opts.publicUrl === undefined ? undefined : publicOrigin(opts.publicUrl)
        const dir = resolveDataDir(opts.dir)
        refuseIfServed(dir)
        const passphrase = await askPassphrase()
        const p = openProvena(dir, { passphrase })
        let release = () => {}
        const serveTokens: string[] = []
        let renewTimer: NodeJS.Timeout | undefined
        let closeStore = async () => {}
        try {
          const chain = await openChain(p, { rpcUrl: opts.rpcUrl })
          try {
            const { buildServer } = await import('../../api/server.js') // Fastify: loaded by this command only
            const store = await openStore(p.dir, p.config.store ?? { backend: 'fs' })
            closeStore = async () => void (await store.close?.())
            const plane = { ...registryContext({ p, chain }), store }
            // Who may call: API tokens (people, scripts) and signed requests from consortium members (their role read on-chain).
            const ctx: ApiContext = { p, chain, dir, passphrase, bodyLimit: opts.bodyLimit, plane, authenticators: [tokenAuthenticator, memberAuthenticator] }
            const app = await buildServer(ctx)
            try {
              await app.listen({ host: opts.host, port: opts.port }).catch((e: unknown) => {
                throw apiErrors.listenFailed(opts.host, opts.port, e)
              })
              const address = app.server.address()
              const port = typeof address === 'object' && address ? address.port : opts.port
              const url = urlOf(opts.host, port)
              // Set before any request is read (no await since listen resumed): a member's request must be signed for this URL.
              ctx.origin = origin ?? url
              // The operator's token for the CLI on this data dir (in serve.json), renewed before it expires; revoked at stop.
              const first = createServeToken(p.db, p.operatorDid, SERVE_TOKEN_LIFETIME_MS)
              serveTokens.push(first.info.id)
              release = claimDataDir(dir, url, first.token)
              revokeServeTokens(p.db, p.operatorDid, Date.now(), serveTokens) // an earlier serve's, killed before it could
              let tokenExpires = first.info.expiresAt
              renewTimer = setInterval(() => {
                if (tokenExpires - Date.now() > SERVE_TOKEN_LIFETIME_MS / 2) return
                const next = createServeToken(p.db, p.operatorDid, SERVE_TOKEN_LIFETIME_MS)
                serveTokens.push(next.info.id)
                tokenExpires = next.info.expiresAt
                renewServeToken(dir, next.token) // the previous one expires on its own
              }, 600_000).unref()
              // Anchors on provena.json's schedule, one anchoring at a time (the last one is awaited before the final anchor at stop).
              // After each anchoring of something new (and once at start), the other members'
              // witnesses are asked to cosign (one round at a time, in the background: requests
              // are answered meanwhile; a witness that fails is one stderr line, never fatal,
              // repeated only when its failure changes). While one has not cosigned the newest
              // checkpoint, it is asked again every RECOSIGN_MS (a witness back after an outage).
              let cosigning: Promise<void> | null = null
              let cosignAgain = false
              let lastCosign = 0
              const lastFailure = new Map<string, string>()
              const cosign = () => {
                if (cosigning) return void (cosignAgain = true)
                lastCosign = Date.now()
                cosigning = cosignCheckpoint(p)
                  .then(
                    (r) => {
                      for (const x of r?.cosigned ?? []) lastFailure.delete(x.witness)
                      for (const f of r?.failed ?? []) {
                        if (lastFailure.get(f.witness) === f.message) continue
                        lastFailure.set(f.witness, f.message)
                        process.stderr.write(`provena serve: witness ${f.member || f.witness} (${f.endpoint}): ${f.message}\n`)
                      }
                    },
                    (e: unknown) => void process.stderr.write(`provena serve: cosigning: ${(e as Error).message}\n`),
                  )
                  .finally(() => {
                    cosigning = null
                    if (cosignAgain) {
                      cosignAgain = false
                      cosign()
                    }
                  })
              }
              // Anchoring on the schedule asks the witnesses first (at most 5 s, in parallel) and
              // anchors the checkpoint with their cosignatures; those gathered later (the round
              // above, or a witness back after an outage) are added on-chain by the next tick
              // (addCosignatures, one event), inside the same one-at-a-time anchoring.
              let anchoring: Promise<void> | null = null
              const tick = (first = false) => {
                anchoring ??= anchorIfDue(p, chain, Date.now(), { cosign: true })
                  .then(async (a) => {
                    await anchorLateCosignatures(p, chain)
                    return a
                  })
                  .then(
                    (a) => {
                      const missing = () => missingCosigners(p).length > 0
                      if (first || (a?.anchoredNow && missing()) || (Date.now() - lastCosign >= RECOSIGN_MS && missing())) cosign()
                    },
                    (e: unknown) => void process.stderr.write(`provena serve: anchoring: ${(e as Error).message}\n`),
                  )
                  .finally(() => (anchoring = null))
              }
              tick(true) // what the log holds already and is due; then the witnesses
              const timer = setInterval(() => tick(), Math.max(250, Math.min(p.config.checkpoint.everyMs, 5000)))
              // Federated rounds this node aggregates, finalised by themselves once ready (one tick at a time).
              const flTick = flAutoAggregator(p, flNodeContext(p, chain, store), { passphrase })
              let flRunning: Promise<void> | null = null
              const flTimer = setInterval(() => {
                flRunning ??= flTick()
                  .then(
                    (r) => {
                      for (const x of r.reports) process.stderr.write(`provena serve: federated task ${x.task}: round ${x.round} finalised (${x.accepted.length} accepted, ${x.rejected.length} rejected)${x.done ? ', done' : ''}\n`)
                      for (const e of r.errors) process.stderr.write(`provena serve: federated task ${e.task} round ${e.round}: ${e.message}\n`)
                    },
                    (e: unknown) => void process.stderr.write(`provena serve: federated rounds: ${(e as Error).message}\n`),
                  )
                  .finally(() => (flRunning = null))
              }, FL_TICK_MS)
              const info = { url, ...(origin ? { publicUrl: origin } : {}), did: p.operatorDid, origin: p.signer.origin, pid: process.pid, openapi: `${url}/openapi.json`, docs: `${url}/docs`, dir }
              if (!isLoopback(opts.host)) process.stderr.write(`provena serve: WARNING: listening on ${opts.host} in plain HTTP: put TLS in front (a reverse proxy) before anything leaves this machine\n`)
              if (opts.json) process.stdout.write(JSON.stringify(info) + '\n') // one line: a supervisor reads it as soon as the node listens
              else emit(opts, info, () => `Serving ${dir} at ${url} (operator ${p.operatorDid})\n  OpenAPI ${info.openapi}, docs ${info.docs}\n  stop with Ctrl-C or SIGTERM`)
              const signal = await new Promise<NodeJS.Signals>((resolve) => {
                process.once('SIGTERM', () => resolve('SIGTERM'))
                process.once('SIGINT', () => resolve('SIGINT'))
              })
              if (!opts.json) process.stderr.write(`provena serve: ${signal}: stopping\n`)
              clearInterval(timer)
              clearInterval(flTimer)
              await app.close() // answers in flight finish; new connections are refused
              await flRunning
              await anchoring
              cosignAgain = false
              await cosigning
              // What the log gained since the last anchor is anchored before the node stops.
              if (p.log.size() > 0) await anchorNow(p, chain).then(() => anchorLateCosignatures(p, chain)).catch((e: unknown) => process.stderr.write(`provena serve: last anchor: ${(e as Error).message}\n`))
            } finally {
              await app.close()
            }
          } finally {
            await closeStore()
            await chain.close()
          }
        } finally {
          clearInterval(renewTimer)
          release()
          // Revoked once serve.json is gone: a CLI run that read it gets API_TOKEN_REVOKED, never a half-stopped node.
          for (const id of serveTokens) revokeToken(p.db, id)
          p.close()
        }
      }),
    )
}
