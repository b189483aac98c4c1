import { readFileSync } from 'node:fs'
import type { Command } from 'commander'
import { ProvenaError } from '../../errors.js'
import { AGGREGATION_RULES, DEFAULT_SPECS, parseAttack, parseModelSpec, simulate, type AggregationRule, type ModelSpec, type SimulateReport } from '../../fl/index.js'
import { emit, type CommonOptions } from '../output.js'
import { action, common } from '../session.js'

const int = (name: string, min: number) => (v: string) => {
  const n = Number(v)
  if (!Number.isInteger(n) || n < min) throw new ProvenaError('CLI_BAD_ARGUMENT', `${name} "${v}" must be an integer >= ${min}`)
  return n
}
const num = (name: string) => (v: string) => {
  const n = Number(v)
  if (!Number.isFinite(n) || n <= 0) throw new ProvenaError('CLI_BAD_ARGUMENT', `${name} "${v}" must be a positive number`)
  return n
}

/** A model spec: "logistic", "mlp", or a JSON file. */
export function readModelSpec(text: string | undefined, fallback: ModelSpec): ModelSpec {
  if (text === undefined) return fallback
  if (text === 'logistic' || text === 'mlp') return DEFAULT_SPECS[text]
  let json: unknown
  try {
    json = JSON.parse(readFileSync(text, 'utf8'))
  } catch (e) {
    throw new ProvenaError('FL_BAD_MODEL_SPEC', `cannot read model spec ${text}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`)
  }
  return parseModelSpec(json, text)
}

function simulateText(r: SimulateReport): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)} %`
  return [
    `Federated ${r.model.type} on ${r.data}: ${r.rows} rows, ${r.features} features, ${r.classes} classes; ${r.clients.length} clients (${r.split}), ${r.rounds.length} rounds, ${r.aggregation}${r.attack ? `, ${r.attack.clients} attacker(s) ${r.attack.kind}×${r.attack.factor}` : ''}${r.dp ? `, DP ε=${r.dp.epsilon} δ=${r.dp.delta} (noise multiplier ${r.dp.noiseMultiplier.toFixed(2)}, clip ${r.dp.clip})` : ''}`,
    ...r.rounds.map((x) => `  round ${String(x.round).padStart(3)}  accuracy ${pct(x.accuracy)}${x.selected.length < r.clients.length ? `  (used clients ${x.selected.join(',')})` : ''}`),
    `hold-out accuracy (${r.testRows} rows): federated ${pct(r.accuracy)}, centralised ${pct(r.centralisedAccuracy)} (same trainer, same split)`,
  ].join('\n')
}

export function registerFl(program: Command): void {
  const fl = program.command('fl').description('federated learning')
  common(fl.command('simulate').description('simulate federated training in one process: clients, attacks, robust aggregation, differential privacy'))
    .requiredOption('--data <file>', 'CSV or .csv.gz with a header')
    .option('--label <col>', 'the class column', 'target')
    .option('--subject-column <col>', 'the subject id column, never a feature (default: the first column)')
    .requiredOption('--clients <n>', 'number of clients', int('--clients', 1))
    .requiredOption('--rounds <n>', 'number of rounds', int('--rounds', 1))
    .option('--split <how>', 'iid or non-iid', 'iid')
    .option('--attack <spec>', 'signflip:K or scale:K (the last K clients, optionally :FACTOR)')
    .option('--aggregation <rule>', AGGREGATION_RULES.join('|'), 'fedavg')
    .option('--dp-epsilon <e>', 'client-level differential privacy budget ε', num('--dp-epsilon'))
    .option('--dp-delta <d>', 'δ of the privacy budget', num('--dp-delta'), 1e-5)
    .option('--dp-clip <c>', 'L2 norm bound of each client update under DP', num('--dp-clip'), 1)
    .option('--model <spec>', 'logistic, mlp, or a model spec JSON file', 'logistic')
    .option('--seed <n>', 'seed of the split and the initial weights', int('--seed', 0), 0)
    .action(
      action(async (opts: CommonOptions & { data: string; label: string; subjectColumn?: string; clients: number; rounds: number; split: string; attack?: string; aggregation: string; dpEpsilon?: number; dpDelta: number; dpClip: number; model: string; seed: number }) => {
        if (opts.split !== 'iid' && opts.split !== 'non-iid') throw new ProvenaError('CLI_BAD_ARGUMENT', `--split "${opts.split}" must be iid or non-iid`)
        if (!(AGGREGATION_RULES as readonly string[]).includes(opts.aggregation)) throw new ProvenaError('CLI_BAD_ARGUMENT', `--aggregation "${opts.aggregation}" must be one of ${AGGREGATION_RULES.join(', ')}`)
        let attack
        try {
          attack = opts.attack ? parseAttack(opts.attack) : undefined
        } catch (e) {
          throw new ProvenaError('CLI_BAD_ARGUMENT', (e as Error).message)
        }
        if (attack && attack.clients >= opts.clients) throw new ProvenaError('CLI_BAD_ARGUMENT', `--attack ${opts.attack}: ${attack.clients} attacker(s) leave no honest client among ${opts.clients}`)
        const report = simulate({
          data: opts.data,
          label: opts.label,
          ...(opts.subjectColumn ? { subjectColumn: opts.subjectColumn } : {}),
          clients: opts.clients,
          rounds: opts.rounds,
          split: opts.split,
          aggregation: opts.aggregation as AggregationRule,
          ...(attack ? { attack } : {}),
          ...(opts.dpEpsilon ? { dp: { epsilon: opts.dpEpsilon, delta: opts.dpDelta, clip: opts.dpClip } } : {}),
          model: readModelSpec(opts.model, DEFAULT_SPECS.logistic),
          seed: opts.seed,
          onRound: opts.json ? undefined : (x) => process.stderr.isTTY && process.stderr.write(`\r  round ${x.round}/${opts.rounds}`),
        })
        if (!opts.json && process.stderr.isTTY) process.stderr.write('\r\x1b[K')
        emit(opts, report, () => simulateText(report))
      }),
    )
}
