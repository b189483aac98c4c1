// Writes examples/model.safetensors, the model the README registers: a logistic regression
// trained by Provena's built-in trainer on data/breast_cancer.csv, exactly as `provena demo`
// trains its model (first 75 % of the rows; the trainer is deterministic, so the file is
// reproducible byte for byte). Usage, after npm run build: node scripts/example-model.mjs
import { readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { accuracy, encodeSafetensors, trainLogistic } from '../dist/fl/index.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const [header, ...rows] = readFileSync(join(root, 'data', 'breast_cancer.csv'), 'utf8').trimEnd().split('\n')
const target = header.split(',').indexOf('target')
// Features: every column but the subject id (first) and the label.
const X = rows.map((row) => Float32Array.from(row.split(',').filter((_, i) => i !== 0 && i !== target).map(Number)))
const y = Uint8Array.from(rows.map((row) => Number(row.split(',')[target])))
const cut = Math.floor(X.length * 0.75)
const model = trainLogistic(X.slice(0, cut), y.subarray(0, cut))
const tensors = {
  weights: { shape: [model.weights.length], data: model.weights },
  bias: { shape: [1], data: Float32Array.of(model.bias) },
  mean: { shape: [model.mean.length], data: model.mean },
  std: { shape: [model.std.length], data: model.std },
}
const out = join(root, 'examples', 'model.safetensors')
writeFileSync(out, encodeSafetensors(tensors, { trainer: 'provena logistic regression', data: 'data/breast_cancer.csv, rows 1-426' }))
console.log(`${out}: hold-out accuracy ${(accuracy(model, X.slice(cut), y.subarray(cut)) * 100).toFixed(1)} %`)
