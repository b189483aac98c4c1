// Aggregation of 100 client updates of 1,000,000 float32 parameters each (400 MB of update
// data): FedAvg, coordinate-wise median, trimmed mean and Krum, against numpy (Debian's
// python3-numpy) on the same arrays in the same run when python3 with numpy is installed.
import { spawnSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { progress, report, time } from '../bench/harness.js'
import { repoRoot } from '../testing.js'
import { coordinateMedian, fedAvg, multiKrum, trimmedMean, type ClientUpdate } from './aggregate.js'
import { SeededRandom } from './random.js'

const CLIENTS = 100
const D = 1_000_000
const bytes = CLIENTS * D * 4
progress(`generating ${CLIENTS} updates × ${D.toLocaleString('en-US')} float32 parameters`)
const rng = new SeededRandom(7)
const flat = new Float32Array(CLIENTS * D)
for (let i = 0; i < flat.length; i++) flat[i] = rng.next() - 0.5
const updates: ClientUpdate[] = Array.from({ length: CLIENTS }, (_, k) => ({ delta: flat.subarray(k * D, (k + 1) * D), samples: 100 + k }))

// numpy on the same arrays: written once, read by python3.
const out = join(repoRoot, 'bench-out')
mkdirSync(out, { recursive: true })
const file = join(out, 'updates.f32')
writeFileSync(file, Buffer.from(flat.buffer, flat.byteOffset, flat.byteLength))
const py = `
import sys, time, json
import numpy as np
U = np.fromfile(${JSON.stringify(file)}, dtype=np.float32).reshape(${CLIENTS}, ${D})
w = (100 + np.arange(${CLIENTS})).astype(np.float64); w /= w.sum()
def best(f, n=3):
    t = []
    for _ in range(n):
        t0 = time.perf_counter(); f(); t.append(time.perf_counter() - t0)
    return min(t)
res = {}
res['fedavg'] = best(lambda: w.astype(np.float32) @ U)
res['median'] = best(lambda: np.median(U, axis=0), 1)
def krum():
    g = U @ U.T
    sq = np.diag(g)
    d = sq[:, None] + sq[None, :] - 2 * g
    return np.sort(d, axis=1)[:, 1:${CLIENTS} - 1 - 2 + 1].sum(axis=1)
res['krum'] = best(krum, 1)
print(json.dumps(res))
`
const numpy = spawnSync('python3', ['-c', py], { encoding: 'utf8', maxBuffer: 1 << 20 })
const np = numpy.status === 0 ? (JSON.parse(numpy.stdout.trim().split('\n').at(-1)!) as Record<string, number>) : undefined
if (!np) progress(`numpy not available (${(numpy.stderr || String(numpy.error)).split('\n').filter(Boolean).at(-1)}): JavaScript figures only`)

const gbps = (s: number) => bytes / s / 1e9
progress('FedAvg')
const tAvg = await time(() => fedAvg(updates), 3)
report({
  name: `FedAvg (sample-weighted) of ${CLIENTS} updates × ${D.toLocaleString('en-US')} float32 (one core)`,
  value: gbps(tAvg),
  unit: 'GB/s of update data',
  ...(np ? { baseline: { name: 'numpy: weights @ U (BLAS)', value: gbps(np.fedavg!), unit: 'GB/s' }, ratio: np.fedavg! / tAvg } : {}),
  target: '>= 1 GB/s',
  note: `${tAvg.toFixed(3)} s`,
})
progress('coordinate-wise median')
const tMed = await time(() => coordinateMedian(updates))
report({
  name: `coordinate-wise median, same updates`,
  value: tMed,
  unit: 's',
  ...(np ? { baseline: { name: 'numpy: np.median(U, axis=0)', value: np.median!, unit: 's' }, ratio: np.median! / tMed } : {}),
})
progress('trimmed mean')
const tTrim = await time(() => trimmedMean(updates, 10))
report({ name: 'trimmed mean (10 each side), same updates', value: tTrim, unit: 's' })
progress('Krum')
const tKrum = await time(() => multiKrum(updates, 1, 1))
report({
  name: `Krum (${CLIENTS}·${CLIENTS - 1}/2 pairwise distances over ${D.toLocaleString('en-US')} parameters)`,
  value: tKrum,
  unit: 's',
  ...(np ? { baseline: { name: 'numpy: Gram matrix U @ Uᵀ (BLAS) + sort', value: np.krum!, unit: 's' }, ratio: np.krum! / tKrum } : {}),
})
