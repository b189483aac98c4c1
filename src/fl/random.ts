// Randomness for federated learning: a seeded generator (xoshiro128**) for reproducible
// data splits and initial weights, and node:crypto for differential-privacy noise, which
// must not be predictable.
import { randomBytes } from 'node:crypto'

/** xoshiro128** (Blackman & Vigna): a small, fast, seedable generator. Not for secrets. */
export class SeededRandom {
  private s: Uint32Array
  constructor(seed: number) {
    // SplitMix32 expands the seed into the four state words.
    this.s = new Uint32Array(4)
    let x = seed >>> 0
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0
      let z = x
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
      this.s[i] = (z ^ (z >>> 16)) >>> 0
    }
  }
  /** Uniform 32-bit unsigned integer. */
  nextU32(): number {
    const s = this.s
    const result = Math.imul(((Math.imul(s[1]!, 5) << 7) | (Math.imul(s[1]!, 5) >>> 25)) >>> 0, 9) >>> 0
    const t = (s[1]! << 9) >>> 0
    s[2]! ^= s[0]!
    s[3]! ^= s[1]!
    s[1]! ^= s[2]!
    s[0]! ^= s[3]!
    s[2]! ^= t
    s[3] = ((s[3]! << 11) | (s[3]! >>> 21)) >>> 0
    return result
  }
  /** Uniform in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296
  }
  /** Standard normal (Box–Muller). */
  normal(): number {
    let u = 0
    while (u === 0) u = this.next()
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next())
  }
  /** Fisher–Yates shuffle in place. */
  shuffle<T>(a: T[]): T[] {
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1))
      ;[a[i], a[j]] = [a[j]!, a[i]!]
    }
    return a
  }
}

/** Fills `out` with independent N(0, sigma²) draws from the operating system's CSPRNG. */
export function secureGaussian(out: Float32Array, sigma: number): Float32Array {
  const n = out.length
  const bytes = randomBytes(8 * (n + 1))
  const u32 = new Uint32Array(bytes.buffer, bytes.byteOffset, 2 * (n + 1))
  for (let i = 0; i < n; i += 2) {
    // 32-bit uniforms in (0, 1]; Box–Muller gives two normals per pair.
    const u1 = (u32[i]! + 1) / 4294967296
    const u2 = u32[i + 1]! / 4294967296
    const r = sigma * Math.sqrt(-2 * Math.log(u1))
    out[i] = r * Math.cos(2 * Math.PI * u2)
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * u2)
  }
  return out
}
