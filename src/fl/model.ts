// The built-in trainer: softmax (multinomial logistic) regression and a one-hidden-layer
// MLP (ReLU), trained by mini-batch SGD with cross-entropy loss on Float32Array, so that
// everything runs anywhere without a native ML runtime. Parameters are one flat
// Float32Array, cut into named tensors for safetensors files (see PROTOCOL in fl/README).
import { ProvenaError } from '../errors.js'
import { SeededRandom } from './random.js'

/** What a task trains: the model's kind and size, and the clients' local training. */
export interface ModelSpec {
  type: 'logistic' | 'mlp'
  /** Hidden units of the MLP. */
  hidden?: number
  /** Local epochs per round. */
  epochs: number
  learningRate: number
  batchSize: number
  /** L2 penalty on weights. */
  l2: number
  /** Seed of the initial weights. */
  seed: number
}

export const DEFAULT_SPECS: Record<'logistic' | 'mlp', ModelSpec> = {
  logistic: { type: 'logistic', epochs: 2, learningRate: 0.1, batchSize: 16, l2: 1e-4, seed: 1 },
  mlp: { type: 'mlp', hidden: 64, epochs: 2, learningRate: 0.05, batchSize: 16, l2: 1e-4, seed: 1 },
}

/** Checks a model spec (from a file); errors name the field. */
export function parseModelSpec(value: unknown, source: string): ModelSpec {
  const o = value as Partial<ModelSpec>
  const bad = (field: string, what: string) => new ProvenaError('FL_BAD_MODEL_SPEC', `${source}: ${field}: ${what}`)
  if (typeof o !== 'object' || o === null) throw bad('(top)', 'must be a JSON object')
  if (o.type !== 'logistic' && o.type !== 'mlp') throw bad('type', 'must be "logistic" or "mlp"')
  const base = DEFAULT_SPECS[o.type]
  const spec = { ...base, ...o } as ModelSpec
  const positive = (k: keyof ModelSpec, integer: boolean) => {
    const v = spec[k] as number
    if (typeof v !== 'number' || !(v > 0) || (integer && !Number.isInteger(v))) throw bad(k, `must be a positive ${integer ? 'integer' : 'number'}`)
  }
  positive('epochs', true)
  positive('learningRate', false)
  positive('batchSize', true)
  if (typeof spec.l2 !== 'number' || spec.l2 < 0) throw bad('l2', 'must be a number >= 0')
  if (!Number.isInteger(spec.seed)) throw bad('seed', 'must be an integer')
  if (spec.type === 'mlp') positive('hidden', true)
  return spec
}

/** A tensor inside the flat parameter vector. */
export interface TensorSlot {
  name: string
  shape: number[]
  offset: number
  length: number
}

/** The layout of a model's parameters for `features` inputs and `classes` outputs. */
export interface ModelShape {
  spec: ModelSpec
  features: number
  classes: number
  tensors: TensorSlot[]
  size: number
}

export function modelShape(spec: ModelSpec, features: number, classes: number): ModelShape {
  const dims: [string, number[]][] =
    spec.type === 'logistic'
      ? [
          ['weight', [classes, features]],
          ['bias', [classes]],
        ]
      : [
          ['hidden.weight', [spec.hidden!, features]],
          ['hidden.bias', [spec.hidden!]],
          ['output.weight', [classes, spec.hidden!]],
          ['output.bias', [classes]],
        ]
  let offset = 0
  const tensors = dims.map(([name, shape]) => {
    const length = shape.reduce((a, b) => a * b, 1)
    const t = { name, shape, offset, length }
    offset += length
    return t
  })
  return { spec, features, classes, tensors, size: offset }
}

/** Initial parameters: Glorot-uniform weights from the spec's seed, zero biases. */
export function initParams(shape: ModelShape): Float32Array {
  const rng = new SeededRandom(shape.spec.seed)
  const p = new Float32Array(shape.size)
  for (const t of shape.tensors) {
    if (t.shape.length !== 2) continue
    const limit = Math.sqrt(6 / (t.shape[0]! + t.shape[1]!))
    for (let i = 0; i < t.length; i++) p[t.offset + i] = (2 * rng.next() - 1) * limit
  }
  return p
}

/** Logits of one (standardised) input into `out`; fills `hidden` for the MLP. */
function forward(shape: ModelShape, p: Float32Array, x: Float32Array, hidden: Float32Array, out: Float32Array): void {
  const d = shape.features
  const K = shape.classes
  if (shape.spec.type === 'logistic') {
    for (let k = 0; k < K; k++) {
      let s = p[K * d + k]!
      const row = k * d
      for (let j = 0; j < d; j++) s += p[row + j]! * x[j]!
      out[k] = s
    }
    return
  }
  const H = shape.spec.hidden!
  const [w1, b1, w2, b2] = shape.tensors.map((t) => t.offset) as [number, number, number, number]
  for (let h = 0; h < H; h++) {
    let s = p[b1 + h]!
    const row = w1 + h * d
    for (let j = 0; j < d; j++) s += p[row + j]! * x[j]!
    hidden[h] = s > 0 ? s : 0
  }
  for (let k = 0; k < K; k++) {
    let s = p[b2 + k]!
    const row = w2 + k * H
    for (let h = 0; h < H; h++) s += p[row + h]! * hidden[h]!
    out[k] = s
  }
}

function softmaxInPlace(z: Float32Array): void {
  let m = -Infinity
  for (const v of z) m = Math.max(m, v)
  let s = 0
  for (let k = 0; k < z.length; k++) {
    z[k] = Math.exp(z[k]! - m)
    s += z[k]!
  }
  for (let k = 0; k < z.length; k++) z[k]! /= s
}

/**
 * Local training: `spec.epochs` passes of mini-batch SGD over (X, y) starting from `start`
 * (not modified). X is already standardised. Returns the new parameters.
 */
export function trainLocal(shape: ModelShape, start: Float32Array, X: readonly Float32Array[], y: Int32Array, seed: number): Float32Array {
  const { spec, features: d, classes: K } = shape
  const p = Float32Array.from(start)
  const grad = new Float32Array(shape.size)
  const H = spec.hidden ?? 0
  const hidden = new Float32Array(H)
  const dh = new Float32Array(H)
  const out = new Float32Array(K)
  const rng = new SeededRandom(seed)
  const order = Array.from({ length: X.length }, (_, i) => i)
  const weightSlots = shape.tensors.filter((t) => t.shape.length === 2)
  for (let epoch = 0; epoch < spec.epochs; epoch++) {
    rng.shuffle(order)
    for (let b = 0; b < order.length; b += spec.batchSize) {
      grad.fill(0)
      const end = Math.min(order.length, b + spec.batchSize)
      for (let n = b; n < end; n++) {
        const i = order[n]!
        const x = X[i]!
        forward(shape, p, x, hidden, out)
        softmaxInPlace(out)
        out[y[i]!]! -= 1 // dLoss/dlogits of cross-entropy
        if (spec.type === 'logistic') {
          for (let k = 0; k < K; k++) {
            const e = out[k]!
            const row = k * d
            for (let j = 0; j < d; j++) grad[row + j]! += e * x[j]!
            grad[K * d + k]! += e
          }
        } else {
          const [w1, b1, w2, b2] = shape.tensors.map((t) => t.offset) as [number, number, number, number]
          dh.fill(0)
          for (let k = 0; k < K; k++) {
            const e = out[k]!
            const row = w2 + k * H
            for (let h = 0; h < H; h++) {
              grad[row + h]! += e * hidden[h]!
              dh[h]! += e * p[row + h]!
            }
            grad[b2 + k]! += e
          }
          for (let h = 0; h < H; h++) {
            if (hidden[h]! <= 0) continue
            const g = dh[h]!
            const row = w1 + h * d
            for (let j = 0; j < d; j++) grad[row + j]! += g * x[j]!
            grad[b1 + h]! += g
          }
        }
      }
      const scale = spec.learningRate / (end - b)
      for (let k = 0; k < shape.size; k++) p[k]! -= scale * grad[k]!
      if (spec.l2 > 0) for (const t of weightSlots) for (let k = t.offset; k < t.offset + t.length; k++) p[k]! -= spec.learningRate * spec.l2 * p[k]!
    }
  }
  return p
}

/** Predicted class of one standardised input. */
export function predict(shape: ModelShape, p: Float32Array, x: Float32Array): number {
  const out = new Float32Array(shape.classes)
  forward(shape, p, x, new Float32Array(shape.spec.hidden ?? 0), out)
  let best = 0
  for (let k = 1; k < out.length; k++) if (out[k]! > out[best]!) best = k
  return best
}

/** Accuracy over standardised inputs. */
export function evaluate(shape: ModelShape, p: Float32Array, X: readonly Float32Array[], y: Int32Array): number {
  let ok = 0
  for (let i = 0; i < X.length; i++) if (predict(shape, p, X[i]!) === y[i]) ok++
  return X.length ? ok / X.length : 0
}

/** Standardises inputs with a mean and standard deviation. */
export function standardise(X: readonly Float32Array[], s: { mean: Float32Array; std: Float32Array }): Float32Array[] {
  return X.map((x) => x.map((v, j) => (v - s.mean[j]!) / s.std[j]!))
}
