// Cosigning a checkpoint (issue 13): a witness's time per checkpoint over HTTP on loopback
// (POST /witness/add-checkpoint: parse, verify the log signature, check the consistency
// proof, record the state in SQLite, cosign), against the same add-checkpoint in-process on
// a second witness with its own database, fed the same requests. Target p99 < 50 ms.
import { performance } from 'node:perf_hooks'
import Fastify from 'fastify'
import { witnessRoutes } from '../api/witness.js'
import { progress, report } from '../bench/harness.js'
import { addCheckpoint, type WitnessContext } from './index.js'
import { tempDb, TestLog, witnessKey } from './witnessFixtures.js'

const CHECKPOINTS = 1_000
const ENTRIES_BEFORE = 100_000
const ENTRIES_PER_CHECKPOINT = 97

const log = new TestLog('provena.log/bench000000000000')
progress(`a log of ${ENTRIES_BEFORE.toLocaleString('en-US')} entries, then ${CHECKPOINTS} checkpoints ${ENTRIES_PER_CHECKPOINT} entries apart`)
log.append(ENTRIES_BEFORE)
const requests: string[] = [log.request(0)]
for (let i = 1; i < CHECKPOINTS; i++) {
  const old = log.nodes.size
  log.append(ENTRIES_PER_CHECKPOINT)
  requests.push(log.request(old))
}
const context = (): WitnessContext => ({ db: tempDb(), key: witnessKey(), logKey: (o) => (o === log.origin ? log.key.publicKeyBytes : undefined) })

const percentile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!
const summary = (ms: number[]) => {
  const s = [...ms].sort((a, b) => a - b)
  return { p50: percentile(s, 0.5), p99: percentile(s, 0.99), max: s.at(-1)! }
}

progress('in-process: addCheckpoint on its own witness database')
const local = context()
const inProcess: number[] = []
for (const body of requests) {
  const t0 = performance.now()
  addCheckpoint(local, body)
  inProcess.push(performance.now() - t0)
}

progress('over HTTP on loopback: POST /witness/add-checkpoint (keep-alive)')
const app = Fastify()
await app.register(witnessRoutes, { witness: context() })
await app.listen({ host: '127.0.0.1', port: 0 })
const address = app.server.address()
const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/witness/add-checkpoint`
const overHttp: number[] = []
for (const body of requests) {
  const t0 = performance.now()
  const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'text/plain' } })
  const text = await res.text()
  overHttp.push(performance.now() - t0)
  if (res.status !== 200) throw new Error(`witness answered ${res.status}: ${text}`)
}
await app.close()

const http = summary(overHttp)
const mem = summary(inProcess)
report({
  name: `cosigning a checkpoint: witness time per checkpoint over HTTP on loopback, p99 (${CHECKPOINTS} checkpoints, log of ${ENTRIES_BEFORE.toLocaleString('en-US')}+ entries)`,
  value: http.p99,
  unit: 'ms',
  baseline: { name: 'the same add-checkpoint in-process, p99', value: mem.p99, unit: 'ms' },
  ratio: http.p99 / mem.p99,
  target: 'p99 < 50 ms',
  note: `over HTTP p50 ${http.p50.toFixed(2)} ms, p99 ${http.p99.toFixed(2)} ms, max ${http.max.toFixed(2)} ms; in-process p50 ${mem.p50.toFixed(2)} ms, p99 ${mem.p99.toFixed(2)} ms, max ${mem.max.toFixed(2)} ms; ratio = HTTP p99 ÷ in-process p99`,
})
