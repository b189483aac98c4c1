import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { repoRoot } from '../testing.js'
import {
  aggregate,
  allFinite,
  clipInPlace,
  coordinateMedian,
  DEFAULT_SPECS,
  epsilonOf,
  fedAvg,
  l2norm,
  multiKrum,
  noiseMultiplierFor,
  parseAttack,
  parseTabular,
  simulate,
  trimmedMean,
  type ClientUpdate,
} from './index.js'

const BC = join(repoRoot, 'data', 'breast_cancer.csv')
const DIGITS = join(repoRoot, 'data', 'digits.csv.gz')
const u = (values: number[], samples = 1): ClientUpdate => ({ delta: Float32Array.from(values), samples })

describe('aggregation rules', () => {
  it('FedAvg weights by samples; median and trimmed mean ignore one outlier per coordinate', () => {
    assert.deepEqual([...fedAvg([u([1, 2], 1), u([4, 8], 3)])], [3.25, 6.5])
    const ups = [u([1, 10]), u([2, 11]), u([3, 12]), u([1000, -1000])]
    assert.deepEqual([...coordinateMedian(ups)], [2.5, 10.5])
    assert.deepEqual([...trimmedMean(ups, 1)], [2.5, 10.5])
  })

  it('Multi-Krum leaves out updates far from the others (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.float({ min: -1, max: 1, noNaN: true }), { minLength: 3, maxLength: 8 }), fc.integer({ min: 5, max: 9 }), (base, n) => {
        const honest = Array.from({ length: n - 1 }, (_, k) => u(base.map((v, i) => v + 0.01 * Math.sin(k + i))))
        const attacker = u(base.map((v) => -50 * v - 10))
        const r = multiKrum([...honest, attacker], 1, n - 1)
        assert.equal(r.selected.includes(n - 1), false)
        const agg = aggregate('krum', [...honest, attacker]).aggregate
        for (let i = 0; i < base.length; i++) assert.ok(Math.abs(agg[i]! - base[i]!) < 0.05)
      }),
      { numRuns: 50 },
    )
  })

  it('clips to the L2 bound and spots non-finite values', () => {
    const v = Float32Array.from([3, 4])
    assert.equal(clipInPlace(v, 1), 5)
    assert.ok(Math.abs(l2norm(v) - 1) < 1e-6)
    assert.equal(allFinite(Float32Array.from([1, NaN])), false)
    assert.equal(allFinite(Float32Array.from([1, Infinity])), false)
    assert.equal(allFinite(v), true)
  })
})

describe('differential privacy accountant (Gaussian mechanism, RDP)', () => {
  it('more noise spends less ε; the noise found for a budget meets it', () => {
    assert.ok(epsilonOf(2, 20, 1e-5).epsilon < epsilonOf(1, 20, 1e-5).epsilon)
    assert.ok(epsilonOf(1, 40, 1e-5).epsilon > epsilonOf(1, 20, 1e-5).epsilon)
    for (const eps of [1, 3, 8]) {
      const z = noiseMultiplierFor(eps, 1e-5, 25)
      const spent = epsilonOf(z, 25, 1e-5).epsilon
      assert.ok(spent <= eps && spent > eps * 0.99, `ε ${eps}: spent ${spent} with z ${z}`)
    }
    // One round of z = 1 at δ = 1e-5: the RDP bound min_α α/2 + log(1e5)/(α−1) ≈ 5.3 (α ≈ 4.4 → tabulated 4 or 5).
    const one = epsilonOf(1, 1, 1e-5).epsilon
    assert.ok(one > 5 && one < 5.6, String(one))
  })
})

describe('federated simulation on the shipped data (the results of issue 6)', () => {
  it('breast cancer, 3 IID clients: within 1.5 points of the centralised model', () => {
    const r = simulate({ data: BC, clients: 3, rounds: 20 })
    assert.ok(Math.abs(r.accuracy - r.centralisedAccuracy) <= 0.015, `${r.accuracy} vs ${r.centralisedAccuracy}`)
    assert.ok(r.accuracy > 0.93)
  })

  it('5 clients, one sign-flipping: robust rules stay within 3 points of the clean run, FedAvg degrades', () => {
    const clean = simulate({ data: BC, clients: 5, rounds: 20 }).accuracy
    const attack = parseAttack('signflip:1')
    const fedavg = simulate({ data: BC, clients: 5, rounds: 20, attack }).accuracy
    assert.ok(fedavg < clean - 0.1, `FedAvg under attack ${fedavg}, clean ${clean}`)
    for (const aggregation of ['median', 'trimmed-mean', 'krum'] as const) {
      const robust = simulate({ data: BC, clients: 5, rounds: 20, attack, aggregation }).accuracy
      assert.ok(robust >= clean - 0.03, `${aggregation} under attack ${robust}, clean ${clean}`)
    }
  })

  it('digits, 5 clients, MLP: at least 0.93 on the hold-out', () => {
    const r = simulate({ data: DIGITS, clients: 5, rounds: 20, model: DEFAULT_SPECS.mlp })
    assert.ok(r.accuracy >= 0.93, String(r.accuracy))
  })

  it('names bad data: a missing label column, a non-number, a subject column that is the label', () => {
    assert.throws(() => parseTabular('id,a,b\nx,1,2\n', 'f.csv'), /f\.csv:1: no label column "target"/)
    assert.throws(() => parseTabular('id,a,target\nx,oops,1\n', 'f.csv'), /f\.csv:2: column a: "oops" is not a number/)
    assert.throws(() => parseTabular('id,a,target\nx,1,1\n', 'f.csv', { subjectColumn: 'target' }), /same column/)
    const d = parseTabular('id,a,target\nx,1,1\ny,2,0\n', 'f.csv')
    assert.deepEqual(d.features, ['a'], 'the subject column is never a feature')
  })
})
