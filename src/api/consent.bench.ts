// Consent changes through the API (issue 13): 16 concurrent clients on loopback posting to
// POST /v1/consent with an API token, against the same changes applied in-process through
// the service layer, in the same run; one change a request, then ten. Latency p50/p99.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { unlockIdentity } from '../access/index.js'
import { createMemberIdentity, initDataDir, openChain, openProvena } from '../app/index.js'
import { progress, report } from '../bench/harness.js'
import { applyConsentBatch } from '../service/index.js'
import { createToken } from './index.js'
import { buildServer } from './server.js'

const CLIENTS = 16
const REQUESTS = Number(process.env.API_BENCH_REQUESTS ?? 1600)
const P = 'dpv:ScientificResearch'
const dir = mkdtempSync(join(tmpdir(), 'provena-bench-api-'))
initDataDir(dir, 'bench')
const p = openProvena(dir, { passphrase: 'bench' })
const chain = await openChain(p)
await createMemberIdentity(p, chain, 'c', 'controller', 'bench')
const who = unlockIdentity(dir, 'c', 'bench')
const app = await buildServer({ p, chain, dir, passphrase: 'bench' })
await app.listen({ host: '127.0.0.1', port: 0 })
const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
const token = createToken(p.db, dir, { as: 'c', role: 'controller', scopes: ['consent:write'], lifetimeMs: 3_600_000 }).token
try {
  for (const batch of [1, 10]) {
    const changes = (k: string, i: number) => Array.from({ length: batch }, (_, j) => ({ subject: `${k}-${batch}-${i}-${j}`, purpose: P, action: 'grant' as const }))
    progress(`${REQUESTS} requests of ${batch} change(s): in-process`)
    let t0 = performance.now()
    for (let i = 0; i < REQUESTS; i++) {
      const rows = changes('in', i).map((c, j) => ({ line: j + 1, subjectId: c.subject, purpose: c.purpose, state: 'given' as const, expires: null, dataset: null, signature: undefined }))
      applyConsentBatch({ p, chain }, who, rows, 'bench')
    }
    const inProcess = (REQUESTS * batch) / ((performance.now() - t0) / 1000)
    progress(`${REQUESTS} requests of ${batch} change(s): ${CLIENTS} HTTP clients`)
    const latencies: number[] = []
    let next = 0
    t0 = performance.now()
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (next < REQUESTS) {
          const i = next++
          const s = performance.now()
          const r = await fetch(`${base}/v1/consent`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body: JSON.stringify({ changes: changes('api', i) }),
          })
          await r.text()
          if (r.status !== 200) throw new Error(`POST /v1/consent answered ${r.status}`)
          latencies.push(performance.now() - s)
        }
      }),
    )
    const api = (REQUESTS * batch) / ((performance.now() - t0) / 1000)
    latencies.sort((a, b) => a - b)
    const q = (f: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * f))]!.toFixed(1)
    report({
      name: `consent changes through the API, ${CLIENTS} concurrent clients on loopback, ${batch} change(s) a request`,
      value: api,
      unit: 'changes/s',
      baseline: { name: 'the same changes applied in-process through the service layer, one batch at a time', value: inProcess, unit: 'changes/s' },
      ratio: api / inProcess,
      note: `latency p50 ${q(0.5)} ms, p99 ${q(0.99)} ms; the clients run in the server's process (one core for both)`,
    })
  }
} finally {
  await app.close()
  await chain.close()
  p.close()
}
