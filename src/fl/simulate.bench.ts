// The results issue 6 asks `fl simulate` to show: federated vs centralised accuracy, robust
// aggregation under a sign-flipping client, the digits MLP, and accuracy under client-level
// differential privacy. Accuracy on the 25 % stratified hold-out (seed 0).
import { join } from 'node:path'
import { progress, report } from '../bench/harness.js'
import { repoRoot } from '../testing.js'
import { DEFAULT_SPECS, parseAttack, simulate, type AggregationRule } from './index.js'

const BC = join(repoRoot, 'data', 'breast_cancer.csv')
const DIGITS = join(repoRoot, 'data', 'digits.csv.gz')
const pct = (x: number) => 100 * x

progress('breast cancer, 3 IID clients, 20 rounds')
const three = simulate({ data: BC, clients: 3, rounds: 20 })
report({
  name: 'breast cancer, 3 IID clients, FedAvg, 20 rounds: federated accuracy',
  value: pct(three.accuracy),
  unit: '%',
  baseline: { name: 'centralised, same trainer and split', value: pct(three.centralisedAccuracy), unit: '%' },
  target: 'within 1.5 points of centralised',
  note: `difference ${(pct(three.accuracy) - pct(three.centralisedAccuracy)).toFixed(1)} points; scikit-learn reference 95.8 %`,
})

progress('breast cancer, 5 clients, one sign-flipping ×4')
const clean = simulate({ data: BC, clients: 5, rounds: 20 }).accuracy
for (const rule of ['fedavg', 'median', 'trimmed-mean', 'krum'] as AggregationRule[]) {
  const r = simulate({ data: BC, clients: 5, rounds: 20, aggregation: rule, attack: parseAttack('signflip:1') })
  report({
    name: `breast cancer, 5 clients, 1 sign-flipping ×4, ${rule}`,
    value: pct(r.accuracy),
    unit: '%',
    baseline: { name: 'clean run (FedAvg, no attacker)', value: pct(clean), unit: '%' },
    target: rule === 'fedavg' ? 'visibly degrades' : 'within 3 points of clean',
  })
}

progress('digits, 5 clients, MLP (64 hidden), 20 rounds')
const digits = simulate({ data: DIGITS, clients: 5, rounds: 20, model: DEFAULT_SPECS.mlp })
report({
  name: 'digits, 5 IID clients, MLP 64 hidden, FedAvg, 20 rounds',
  value: pct(digits.accuracy),
  unit: '%',
  baseline: { name: 'centralised MLP, same split', value: pct(digits.centralisedAccuracy), unit: '%' },
  target: '>= 93 %',
  note: `${digits.seconds.toFixed(1)} s`,
})

for (const clients of [5, 20]) {
  for (const epsilon of [1, 3, 8]) {
    progress(`DP ε=${epsilon}, ${clients} clients`)
    const runs = Array.from({ length: 5 }, () => simulate({ data: BC, clients, rounds: 20, dp: { epsilon, delta: 1e-5, clip: 1 } }))
    const mean = runs.reduce((a, r) => a + r.accuracy, 0) / runs.length
    report({
      name: `breast cancer, ${clients} IID clients, DP-FedAvg ε=${epsilon} δ=1e-5 (clip 1, 20 rounds), mean of 5 runs`,
      value: pct(mean),
      unit: '%',
      baseline: { name: 'the same without DP', value: pct(simulate({ data: BC, clients, rounds: 20 }).accuracy), unit: '%' },
      note: `noise multiplier ${runs[0]!.dp!.noiseMultiplier.toFixed(2)}; runs ${runs.map((r) => pct(r.accuracy).toFixed(1)).join(', ')}`,
    })
  }
}
