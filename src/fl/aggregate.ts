// Aggregation of client updates (parameter deltas, Float32Array of one length):
// sample-weighted FedAvg (McMahan et al. 2017), coordinate-wise median, trimmed mean
// (Yin et al. 2018), Krum and Multi-Krum (Blanchard et al. 2017); DP-FedAvg (McMahan et
// al. 2018); L2 clipping and checks.
import { secureGaussian } from './random.js'

export type AggregationRule = 'fedavg' | 'median' | 'trimmed-mean' | 'krum'
export const AGGREGATION_RULES: readonly AggregationRule[] = ['fedavg', 'median', 'trimmed-mean', 'krum']

export interface ClientUpdate {
  delta: Float32Array
  samples: number
}

/** L2 norm. */
export function l2norm(v: Float32Array): number {
  let s = 0
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!
  return Math.sqrt(s)
}

/** Whether every value is finite (no NaN, no ±Infinity). */
export function allFinite(v: Float32Array): boolean {
  for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i]!)) return false
  return true
}

/** Scales `v` in place to L2 norm at most `bound`; returns the norm before. */
export function clipInPlace(v: Float32Array, bound: number): number {
  const n = l2norm(v)
  if (n > bound) {
    const f = bound / n
    for (let i = 0; i < v.length; i++) v[i]! *= f
  }
  return n
}

/** Σ nᵢ·Δᵢ / Σ nᵢ, accumulated in float64. */
export function fedAvg(updates: readonly ClientUpdate[]): Float32Array {
  const d = updates[0]!.delta.length
  const acc = new Float64Array(d)
  let total = 0
  for (const u of updates) total += u.samples
  for (const u of updates) {
    const w = u.samples / total
    const x = u.delta
    for (let i = 0; i < d; i++) acc[i]! += w * x[i]!
  }
  return Float32Array.from(acc)
}

/** Coordinate-wise median (mean of the two middle values for an even count). */
export function coordinateMedian(updates: readonly ClientUpdate[]): Float32Array {
  return coordinateWise(updates, (col) => {
    const n = col.length
    col.sort()
    return n % 2 ? col[(n - 1) / 2]! : (col[n / 2 - 1]! + col[n / 2]!) / 2
  })
}

/** Coordinate-wise mean after dropping the `trim` largest and `trim` smallest values. */
export function trimmedMean(updates: readonly ClientUpdate[], trim: number): Float32Array {
  const n = updates.length
  const t = Math.min(trim, Math.floor((n - 1) / 2))
  return coordinateWise(updates, (col) => {
    col.sort()
    let s = 0
    for (let i = t; i < n - t; i++) s += col[i]!
    return s / (n - 2 * t)
  })
}

function coordinateWise(updates: readonly ClientUpdate[], f: (column: Float32Array) => number): Float32Array {
  const d = updates[0]!.delta.length
  const n = updates.length
  const out = new Float32Array(d)
  const col = new Float32Array(n)
  for (let i = 0; i < d; i++) {
    for (let k = 0; k < n; k++) col[k] = updates[k]!.delta[i]!
    out[i] = f(col)
  }
  return out
}

/**
 * Krum: each update's score is the sum of squared distances to its n − f − 2 nearest
 * others; Multi-Krum averages the m best-scored (m = 1 is Krum). Returns the aggregate
 * and which updates were selected.
 */
export function multiKrum(updates: readonly ClientUpdate[], f: number, m = 1): { aggregate: Float32Array; selected: number[]; scores: number[] } {
  const n = updates.length
  const neighbours = Math.max(1, n - f - 2)
  const dist = Array.from({ length: n }, () => new Float64Array(n))
  for (let a = 0; a < n; a++) {
    for (let b = a + 1; b < n; b++) {
      const x = updates[a]!.delta
      const y = updates[b]!.delta
      let s = 0
      for (let i = 0; i < x.length; i++) {
        const t = x[i]! - y[i]!
        s += t * t
      }
      dist[a]![b] = s
      dist[b]![a] = s
    }
  }
  const scores = dist.map((row, a) =>
    Array.from(row)
      .filter((_, b) => b !== a)
      .sort((p, q) => p - q)
      .slice(0, neighbours)
      .reduce((s, v) => s + v, 0),
  )
  const selected = scores
    .map((s, i) => [s, i] as const)
    .sort((p, q) => p[0] - q[0])
    .slice(0, Math.max(1, Math.min(m, n)))
    .map(([, i]) => i)
    .sort((p, q) => p - q)
  const chosen = selected.map((i) => ({ delta: updates[i]!.delta, samples: 1 }))
  return { aggregate: fedAvg(chosen), selected, scores }
}

/**
 * Aggregates by `rule`; `byzantine` is the number of faulty clients the robust rules
 * tolerate (default: as many as the rule allows, at least 1 when possible).
 */
export function aggregate(rule: AggregationRule, updates: readonly ClientUpdate[], byzantine?: number): { aggregate: Float32Array; selected?: number[] } {
  const n = updates.length
  if (n === 0) throw new RangeError('nothing to aggregate')
  switch (rule) {
    case 'fedavg':
      return { aggregate: fedAvg(updates) }
    case 'median':
      return { aggregate: coordinateMedian(updates) }
    case 'trimmed-mean':
      return { aggregate: trimmedMean(updates, byzantine ?? Math.max(1, Math.floor(n / 5))) }
    case 'krum': {
      const f = byzantine ?? Math.max(0, Math.floor((n - 3) / 2))
      // Multi-Krum with m = n − f: averages every update that looks honest.
      const r = multiKrum(updates, f, Math.max(1, n - f))
      return { aggregate: r.aggregate, selected: r.selected }
    }
  }
}

/**
 * DP-FedAvg: each update clipped (in place) to L2 norm `clip`, summed, Gaussian noise
 * N(0, (z·clip)²) from the OS CSPRNG added, divided by the number of clients (uniform
 * weights: the sensitivity of the sum to one client is `clip`). See accountant.ts for ε.
 */
export function dpFedAvg(updates: readonly ClientUpdate[], clip: number, noiseMultiplier: number): Float32Array {
  const d = updates[0]!.delta.length
  const sum = new Float32Array(d)
  for (const u of updates) {
    clipInPlace(u.delta, clip)
    for (let i = 0; i < d; i++) sum[i]! += u.delta[i]!
  }
  const noise = secureGaussian(new Float32Array(d), noiseMultiplier * clip)
  return sum.map((v, i) => (v + noise[i]!) / updates.length)
}
