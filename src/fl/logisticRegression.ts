/** A binary logistic-regression model over standardised features. */
export interface LogisticModel {
  weights: Float32Array
  bias: number
  mean: Float32Array
  std: Float32Array
}

/** Per-feature mean and standard deviation (std 1 where a feature is constant). */
export function standardiser(X: Float32Array[]): { mean: Float32Array; std: Float32Array } {
  const d = X[0]?.length ?? 0
  const mean = new Float32Array(d)
  const std = new Float32Array(d)
  for (const x of X) for (let j = 0; j < d; j++) mean[j]! += x[j]! / X.length
  for (const x of X) for (let j = 0; j < d; j++) std[j]! += (x[j]! - mean[j]!) ** 2 / X.length
  for (let j = 0; j < d; j++) std[j] = Math.sqrt(std[j]!) || 1
  return { mean, std }
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z))

/**
 * Trains logistic regression by full-batch gradient descent with L2 regularisation on
 * standardised features. Deterministic: same data, same model.
 */
export function trainLogistic(X: Float32Array[], y: Uint8Array, opts: { epochs?: number; learningRate?: number; l2?: number } = {}): LogisticModel {
  const { epochs = 300, learningRate = 0.5, l2 = 1e-3 } = opts
  const { mean, std } = standardiser(X)
  const d = mean.length
  const Z = X.map((x) => x.map((v, j) => (v - mean[j]!) / std[j]!))
  const w = new Float64Array(d)
  let b = 0
  const grad = new Float64Array(d)
  for (let epoch = 0; epoch < epochs; epoch++) {
    grad.fill(0)
    let gb = 0
    for (let i = 0; i < Z.length; i++) {
      const z = Z[i]!
      let s = b
      for (let j = 0; j < d; j++) s += w[j]! * z[j]!
      const err = sigmoid(s) - y[i]!
      for (let j = 0; j < d; j++) grad[j]! += err * z[j]!
      gb += err
    }
    for (let j = 0; j < d; j++) w[j]! -= learningRate * (grad[j]! / Z.length + l2 * w[j]!)
    b -= (learningRate * gb) / Z.length
  }
  return { weights: Float32Array.from(w), bias: b, mean, std }
}

/** Predicted class (0/1) of one feature vector. */
export function predictLogistic(m: LogisticModel, x: Float32Array): number {
  let s = m.bias
  for (let j = 0; j < x.length; j++) s += m.weights[j]! * ((x[j]! - m.mean[j]!) / m.std[j]!)
  return s >= 0 ? 1 : 0
}

/** Fraction of correct predictions. */
export function accuracy(m: LogisticModel, X: Float32Array[], y: Uint8Array): number {
  let ok = 0
  for (let i = 0; i < X.length; i++) if (predictLogistic(m, X[i]!) === y[i]) ok++
  return X.length === 0 ? 0 : ok / X.length
}
