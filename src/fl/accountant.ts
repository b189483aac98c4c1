// Client-level differential privacy for federated averaging (DP-FedAvg, McMahan et al.
// 2018): every client's update is clipped to L2 norm C, the clipped updates are summed and
// Gaussian noise N(0, (z·C)²) is added before dividing by the number of clients. With all
// clients taking part every round, each round is the Gaussian mechanism with sensitivity C
// (add or remove one client) and noise multiplier z, whose Rényi DP is α / (2z²) at every
// order α (Mironov 2017). Over T rounds it composes to T·α / (2z²), and converts to
// (ε, δ)-DP as ε = min over α of T·α/(2z²) + log(1/δ)/(α − 1). No subsampling amplification
// is claimed, so the figure is conservative.

const ORDERS = [1.25, 1.5, 1.75, 2, 2.5, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 32, 48, 64, 96, 128, 256, 512, 1024]

/** ε spent by T rounds of the Gaussian mechanism with noise multiplier z, at δ. */
export function epsilonOf(z: number, rounds: number, delta: number): { epsilon: number; order: number } {
  let best = { epsilon: Infinity, order: 0 }
  for (const a of ORDERS) {
    const eps = (rounds * a) / (2 * z * z) + Math.log(1 / delta) / (a - 1)
    if (eps < best.epsilon) best = { epsilon: eps, order: a }
  }
  return best
}

/** The smallest noise multiplier z that keeps T rounds within (ε, δ) (bisection). */
export function noiseMultiplierFor(epsilon: number, delta: number, rounds: number): number {
  if (!(epsilon > 0) || !(delta > 0 && delta < 1)) throw new RangeError('epsilon must be > 0 and delta in (0, 1)')
  let lo = 1e-3
  let hi = 1e4
  for (let i = 0; i < 100; i++) {
    const mid = Math.sqrt(lo * hi)
    if (epsilonOf(mid, rounds, delta).epsilon > epsilon) lo = mid
    else hi = mid
  }
  return hi
}
