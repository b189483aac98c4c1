// Federated training simulated in one process: the dataset split among clients, each round
// every client trains locally from the global model and sends its update (a parameter
// delta), optional attackers corrupt theirs, the server aggregates (FedAvg or a robust
// rule, optionally with client-level differential privacy) and evaluates on a hold-out.
// The centralised baseline trains the same model on the same training rows for as many
// passes. Used by `provena fl simulate` and the FL benchmarks.
import { aggregate, dpFedAvg, type AggregationRule, type ClientUpdate } from './aggregate.js'
import { epsilonOf, noiseMultiplierFor } from './accountant.js'
import { featureSums, readTabular, splitClients, standardisation, stratifiedSplit, subset, type Dataset } from './data.js'
import { DEFAULT_SPECS, evaluate, initParams, modelShape, standardise, trainLocal, type ModelSpec } from './model.js'

export interface Attack {
  kind: 'signflip' | 'scale'
  /** How many clients attack (the last ones). */
  clients: number
  /** Factor applied to their update: −factor for signflip, +factor for scale. */
  factor: number
}

export interface SimulateOptions {
  data: string | Dataset
  label?: string
  subjectColumn?: string
  clients: number
  rounds: number
  split?: 'iid' | 'non-iid'
  aggregation?: AggregationRule
  attack?: Attack
  dp?: { epsilon: number; delta: number; clip: number }
  model?: ModelSpec
  seed?: number
  testFraction?: number
  onRound?: (r: RoundReport) => void
}

export interface RoundReport {
  round: number
  accuracy: number
  /** Clients whose update the rule used (all but for Krum). */
  selected: number[]
  meanUpdateNorm: number
}

export interface SimulateReport {
  data: string
  rows: number
  features: number
  classes: number
  model: ModelSpec
  clients: { index: number; samples: number; attacker: boolean }[]
  aggregation: AggregationRule
  split: 'iid' | 'non-iid'
  attack: Attack | null
  dp: { epsilon: number; delta: number; clip: number; noiseMultiplier: number; spentEpsilon: number } | null
  rounds: RoundReport[]
  accuracy: number
  centralisedAccuracy: number
  testRows: number
  seconds: number
}

export function parseAttack(text: string): Attack {
  const m = /^(signflip|scale):(\d+)(?::(\d+(?:\.\d+)?))?$/.exec(text)
  if (!m) throw new RangeError(`--attack "${text}": expected signflip:K or scale:K (optionally :FACTOR)`)
  return { kind: m[1] as Attack['kind'], clients: Number(m[2]), factor: m[3] ? Number(m[3]) : m[1] === 'signflip' ? 4 : 10 }
}

export function simulate(o: SimulateOptions): SimulateReport {
  const t0 = performance.now()
  const data = typeof o.data === 'string' ? readTabular(o.data, { ...(o.label ? { label: o.label } : {}), ...(o.subjectColumn ? { subjectColumn: o.subjectColumn } : {}) }) : o.data
  const seed = o.seed ?? 0
  const split = o.split ?? 'iid'
  const rule = o.aggregation ?? 'fedavg'
  if (!(o.clients >= 1) || !(o.rounds >= 1)) throw new RangeError('clients and rounds must be at least 1')
  if (o.attack && o.attack.clients >= o.clients) throw new RangeError(`${o.attack.clients} attackers leave no honest client among ${o.clients}`)
  const spec = o.model ?? DEFAULT_SPECS.logistic
  const { train, test } = stratifiedSplit(data, o.testFraction ?? 0.25, seed)
  const parts = splitClients(data, train, o.clients, split, seed + 1)
  const clientData = parts.map((rows) => subset(data, rows))
  // Federated standardisation: clients share only counts, sums and sums of squares.
  const d = data.features.length
  const stats = standardisation(clientData.map((c) => featureSums(c.X, d)))
  const clientX = clientData.map((c) => standardise(c.X, stats))
  const testData = subset(data, test)
  const testX = standardise(testData.X, stats)
  const shape = modelShape(spec, d, data.classes)
  let global = initParams(shape)
  const attackers = new Set(o.attack ? Array.from({ length: o.attack.clients }, (_, i) => o.clients - 1 - i) : [])
  const z = o.dp ? noiseMultiplierFor(o.dp.epsilon, o.dp.delta, o.rounds) : 0
  const rounds: RoundReport[] = []
  for (let r = 1; r <= o.rounds; r++) {
    const updates: ClientUpdate[] = clientData.map((c, k) => {
      const local = trainLocal(shape, global, clientX[k]!, c.y, seed * 1_000_003 + r * 101 + k)
      const delta = new Float32Array(shape.size)
      for (let i = 0; i < delta.length; i++) delta[i] = local[i]! - global[i]!
      if (attackers.has(k)) {
        const f = o.attack!.kind === 'signflip' ? -o.attack!.factor : o.attack!.factor
        for (let i = 0; i < delta.length; i++) delta[i]! *= f
      }
      return { delta, samples: c.X.length }
    })
    const meanUpdateNorm = updates.reduce((a, u) => a + Math.hypot(...u.delta), 0) / updates.length
    let agg: Float32Array
    let selected = updates.map((_, i) => i)
    if (o.dp) {
      agg = dpFedAvg(updates, o.dp.clip, z)
    } else {
      const a = aggregate(rule, updates)
      agg = a.aggregate
      if (a.selected) selected = a.selected
    }
    global = global.map((v, i) => v + agg[i]!)
    const report = { round: r, accuracy: evaluate(shape, global, testX, testData.y), selected, meanUpdateNorm }
    rounds.push(report)
    o.onRound?.(report)
  }
  // The centralised baseline: the same trainer on all training rows, as many passes.
  const allX = clientX.flat()
  const allY = Int32Array.from(clientData.flatMap((c) => [...c.y]))
  const central = trainLocal({ ...shape, spec: { ...spec, epochs: spec.epochs * o.rounds } }, initParams(shape), allX, allY, seed)
  return {
    data: typeof o.data === 'string' ? o.data : '(in memory)',
    rows: data.X.length,
    features: d,
    classes: data.classes,
    model: spec,
    clients: clientData.map((c, k) => ({ index: k, samples: c.X.length, attacker: attackers.has(k) })),
    aggregation: o.dp ? 'fedavg' : rule,
    split,
    attack: o.attack ?? null,
    dp: o.dp ? { ...o.dp, noiseMultiplier: z, spentEpsilon: epsilonOf(z, o.rounds, o.dp.delta).epsilon } : null,
    rounds,
    accuracy: rounds.at(-1)!.accuracy,
    centralisedAccuracy: evaluate(shape, central, testX, testData.y),
    testRows: test.length,
    seconds: (performance.now() - t0) / 1000,
  }
}
