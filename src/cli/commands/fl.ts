import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Command } from 'commander'
import { ProvenaError } from '../../errors.js'
import { findIdentity, listIdentities, unlockIdentity } from '../../access/index.js'
import { resolveDataDir } from '../../app/index.js'
import { aggregateRound, AGGREGATION_RULES, createTask, submitForeignUpdate, DEFAULT_SPECS, parseAttack, parseModelSpec, runClient, simulate, taskStatus, type AggregationRule, type ClientRunReport, type FlContext, type ModelSpec, type SimulateReport, type TaskSpec } from '../../fl/index.js'
import { askPassphrase } from '../passphrase.js'
import { integer, positiveNumber } from '../args.js'
import { emit, type CommonOptions } from '../output.js'
import { action, common, withDataPlane } from '../session.js'
import { remoteCall, remoteNode } from '../remote.js'
import { aggregateAcrossNodes, createTaskAcrossNodes, flMembers, flNodeContext, httpExchange, nodeExchangeDir, publishTask, runClientAcrossNodes, submitAcrossNodes } from '../../service/index.js'
import type { Provena } from '../../app/index.js'


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
    .requiredOption('--clients <n>', 'number of clients', integer('--clients', 1))
    .requiredOption('--rounds <n>', 'number of rounds', integer('--rounds', 1))
    .option('--split <how>', 'iid or non-iid', 'iid')
    .option('--attack <spec>', 'signflip:K or scale:K (the last K clients, optionally :FACTOR)')
    .option('--aggregation <rule>', AGGREGATION_RULES.join('|'), 'fedavg')
    .option('--dp-epsilon <e>', 'client-level differential privacy budget ε', positiveNumber('--dp-epsilon'))
    .option('--dp-delta <d>', 'δ of the privacy budget', positiveNumber('--dp-delta'), 1e-5)
    .option('--dp-clip <c>', 'L2 norm bound of each client update under DP', positiveNumber('--dp-clip'), 1)
    .option('--model <spec>', 'logistic, mlp, or a model spec JSON file', 'logistic')
    .option('--seed <n>', 'seed of the split and the initial weights', integer('--seed', 0), 0)
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

  const task = fl.command('task').description('federated tasks on-chain (FederatedTraining)')
  common(task.command('create').description('create a federated task: model, purpose, participants, rounds'))
    .requiredOption('--model-spec <spec>', 'logistic, mlp, or a JSON file ({"type": "mlp", "hidden": 64, "epochs": 2, ...}; may hold "features", "classes", "label")')
    .requiredOption('--purpose <purpose>', 'the purpose every client\'s records must be consented for')
    .requiredOption('--participants <names>', 'comma-separated identity names or DIDs (members of AccessPolicy)')
    .requiredOption('--rounds <n>', 'number of rounds', integer('--rounds', 1))
    .option('--as <name>', 'the aggregator identity, which creates the task and finalises rounds (default: the only processor)')
    .option('--features <n>', 'number of input features (else from the model spec)', integer('--features', 1))
    .option('--classes <n>', 'number of classes, unless the model spec gives them', integer('--classes', 2), 2)
    .option('--label <col>', 'the class column of the clients\' datasets', 'target')
    .option('--min-clients <k>', 'commitments needed before the deadline (default: every participant)', integer('--min-clients', 1))
    .option('--round-timeout <s>', 'seconds a round stays open for commitments', integer('--round-timeout', 1), 3600)
    .option('--aggregation <rule>', AGGREGATION_RULES.join('|'), 'fedavg')
    .option('--max-update-norm <x>', 'reject updates with a larger L2 norm', positiveNumber('--max-update-norm'), 100)
    .option('--dp-epsilon <e>', 'client-level differential privacy budget ε over all rounds', positiveNumber('--dp-epsilon'))
    .option('--dp-delta <d>', 'δ of the budget', positiveNumber('--dp-delta'), 1e-5)
    .option('--dp-clip <c>', 'L2 bound each update is clipped to under DP', positiveNumber('--dp-clip'), 1)
    .option('--exchange <dir>', "participants on other nodes: publish the signed task and round 1's global model in this directory (PROTOCOL.md §4); without it, participants that are not identities of this data dir read the task from this node's provena serve (its exchange is <dir>/fl-exchange)")
    .action(
      action(async (opts: CommonOptions & { modelSpec: string; purpose: string; participants: string; rounds: number; as?: string; features?: number; classes: number; label: string; minClients?: number; roundTimeout: number; aggregation: string; maxUpdateNorm: number; dpEpsilon?: number; dpDelta: number; dpClip: number; exchange?: string }) => {
        if (!(AGGREGATION_RULES as readonly string[]).includes(opts.aggregation)) throw new ProvenaError('CLI_BAD_ARGUMENT', `--aggregation "${opts.aggregation}" must be one of ${AGGREGATION_RULES.join(', ')}`)
        const raw = opts.modelSpec === 'logistic' || opts.modelSpec === 'mlp' ? {} : (JSON.parse(readFileSync(opts.modelSpec, 'utf8')) as { features?: number; classes?: number; label?: string })
        const model = readModelSpec(opts.modelSpec, DEFAULT_SPECS.logistic)
        const features = opts.features ?? raw.features
        if (!features) throw new ProvenaError('CLI_BAD_ARGUMENT', 'the number of input features is unknown: give --features N or "features" in the model spec')
        const names = opts.participants.split(',').map((n) => n.trim())
        const node = remoteNode(opts)
        if (node) {
          // POST /v1/fl/tasks on the node (--node, or this data dir's serve): published in its exchange, which it serves.
          if (opts.exchange) throw new ProvenaError('CLI_NOT_REMOTE', 'fl task create --exchange writes a directory of this machine: not through a node', { hint: 'through a node, the task is published in its own exchange (leave out --exchange)' })
          const body = {
            model: { type: model.type, ...(model.hidden ? { hidden: model.hidden } : {}), epochs: model.epochs, learningRate: model.learningRate, batchSize: model.batchSize, l2: model.l2, seed: model.seed },
            features,
            classes: raw.classes ?? opts.classes,
            label: raw.label ?? opts.label,
            purpose: opts.purpose,
            participants: names,
            rounds: opts.rounds,
            minClients: opts.minClients,
            roundTimeout: opts.roundTimeout,
            aggregation: opts.aggregation,
            maxUpdateNorm: opts.maxUpdateNorm,
            ...(opts.dpEpsilon ? { dp: { epsilon: opts.dpEpsilon, delta: opts.dpDelta, clip: opts.dpClip } } : {}),
            ...(opts.as ? { as: opts.as } : {}),
          }
          const r = await remoteCall<{ task: number; specDigest: string; transactionHash: string }>(node, 'POST', '/v1/fl/tasks', { json: body })
          emit(opts, r, () => `Created federated task ${r.task} on the node at ${node.url}: ${model.type} for ${opts.purpose}, ${names.length} participants, ${opts.rounds} round(s)\n  spec digest ${r.specDigest} (tx ${r.transactionHash}); published in its exchange`)
          return
        }
        const dir = resolveDataDir(opts.dir)
        // Participants on other nodes (not identities here): the task is published in this node's own exchange, which its provena serve serves.
        const local = new Set(listIdentities(dir).flatMap((i) => [i.name, i.did]))
        const exchange = opts.exchange ?? (names.every((n) => local.has(n)) ? undefined : nodeExchangeDir(dir))
        const participants = exchange ? [] : names.map((n) => findIdentity(dir, n))
        const processors = listIdentities(dir).filter((i) => i.role === 'processor')
        const aggregatorName = opts.as ?? (processors.length === 1 ? processors[0]!.name : undefined)
        if (!aggregatorName) throw new ProvenaError('CLI_BAD_ARGUMENT', `say which identity aggregates with --as NAME (${processors.length} processor identities here)`, { hint: 'create one: provena identity create coordinator --role processor' })
        const aggregator = unlockIdentity(dir, aggregatorName, await askPassphrase())
        const spec: TaskSpec = {
          type: 'provena.fl.task-spec/v1',
          model: { type: model.type, ...(model.hidden ? { hidden: model.hidden } : {}), epochs: model.epochs, learningRate: model.learningRate, batchSize: model.batchSize, l2: model.l2, seed: model.seed },
          features,
          classes: raw.classes ?? opts.classes,
          label: raw.label ?? opts.label,
          aggregation: opts.aggregation as AggregationRule,
          maxUpdateNorm: opts.maxUpdateNorm,
          dp: opts.dpEpsilon ? { epsilon: opts.dpEpsilon, delta: opts.dpDelta, clip: opts.dpClip } : null,
        }
        await withFl(opts, async (ctx, p) => {
          const o = { spec, purpose: opts.purpose, rounds: opts.rounds, minClients: opts.minClients ?? names.length, roundTimeout: opts.roundTimeout }
          const r = exchange ? await createTaskAcrossNodes(p, ctx, aggregator, { ...o, participants: names, exchange }) : await createTask(ctx, aggregator, { ...o, participants })
          emit(opts, r, () =>
            `Created federated task ${r.task}: ${spec.model.type} for ${opts.purpose}, ${names.length} participants, ${opts.rounds} round(s), ${spec.aggregation}${spec.dp ? `, DP ε=${spec.dp.epsilon}` : ''}\n  spec digest ${r.specDigest} (tx ${r.transactionHash})` +
            ('published' in r ? `\n  published the signed task and round 1's global model in ${exchange}${opts.exchange ? '' : ' (served by provena serve on this data dir)'}` : ''),
          )
        })
      }),
    )

  common(task.command('publish').description("write the signed task and the open round's global model to an exchange directory again"))
    .requiredOption('--task <n>', 'the task number', integer('--task', 1))
    .requiredOption('--exchange <dir>', 'the exchange directory (PROTOCOL.md §4)')
    .requiredOption('--as <name>', 'the aggregator identity')
    .action(
      action(async (opts: CommonOptions & { task: number; exchange: string; as: string }) => {
        const aggregator = unlockIdentity(resolveDataDir(opts.dir), opts.as, await askPassphrase())
        await withFl(opts, async (ctx, p) => {
          const files = await publishTask(p, ctx, aggregator, opts.task, opts.exchange)
          emit(opts, { task: opts.task, files }, () => `Published task ${opts.task} in ${opts.exchange}: ${files.length} file(s)`)
        })
      }),
    )

  const client = fl.command('client').description("a participant's side of a round")
  common(client.command('run').description("a participant's round: consent gate, local training, sealed update committed on-chain"))
    .requiredOption('--task <n>', 'the task number', integer('--task', 1))
    .requiredOption('--dataset <id>', 'the participant\'s imported dataset')
    .requiredOption('--as <name>', 'the participant identity (the dataset\'s controller)')
    .option('--exchange <dir>', "the coordinator is another node: read the signed task and the global model here, deliver the sealed update and manifest here (PROTOCOL.md §4)")
    .option('--coordinator <url>', "the coordinator is another node serving (provena serve): read the task and the global model from it, deliver the update to it, over HTTP signed with --as's member key")
    .action(
      action(async (opts: CommonOptions & { task: number; dataset: string; as: string; exchange?: string; coordinator?: string }) => {
        if (opts.exchange && opts.coordinator) throw new ProvenaError('CLI_BAD_ARGUMENT', 'give --exchange DIR or --coordinator URL, not both')
        const node = remoteNode(opts)
        if (node) {
          // POST /v1/fl/tasks/{task}/train on the participant's node (--node, or this data dir's serve), which runs the client against the coordinator's node.
          if (!opts.coordinator) throw new ProvenaError('CLI_NOT_REMOTE', 'fl client run through a node takes the coordinator as --coordinator URL', { hint: 'add --coordinator https://coordinator-node' })
          const r = await remoteCall<ClientRunReport>(node, 'POST', `/v1/fl/tasks/${opts.task}/train`, { json: { dataset: opts.dataset, coordinator: opts.coordinator, as: opts.as } })
          emit(opts, r, () => clientRunText(opts.as, r, opts.coordinator!))
          return
        }
        const dir = resolveDataDir(opts.dir)
        const client = unlockIdentity(dir, opts.as, await askPassphrase())
        await withFl(opts, async (ctx, p) => {
          const exchange = opts.coordinator ? httpExchange(opts.coordinator, { keyId: client.did, privateKey: client.signing.privateKey }) : opts.exchange
          const r = exchange
            ? await runClientAcrossNodes(p, ctx, { task: opts.task, dataset: opts.dataset, client, exchange })
            : await (async () => {
          const aggregatorDid = (ctx.db.prepare('SELECT aggregator FROM fl_tasks WHERE chain = ? AND task = ?').pluck().get(ctx.chain.client.chainKey, opts.task) as string | undefined) ?? ''
          const aggregator = aggregatorDid ? findIdentity(dir, aggregatorDid) : undefined
          if (!aggregator) throw new ProvenaError('FL_UNKNOWN_TASK', `no federated task ${opts.task} in this data dir`)
          return runClient(ctx, opts.task, opts.dataset, client, aggregator)
            })()
          emit(opts, r, () => clientRunText(opts.as, r, 'exchange' in r ? (opts.coordinator ?? opts.exchange) : undefined))
        })
      }),
    )

  common(client.command('submit').description('submit an update trained elsewhere (e.g. PyTorch): a safetensors delta and the training manifest it was trained on'))
    .requiredOption('--task <n>', 'the task number', integer('--task', 1))
    .requiredOption('--dataset <id>', "the participant's imported dataset")
    .requiredOption('--manifest <file>', 'the training manifest from provena consent check (trained on its included records only)')
    .requiredOption('--update <file>', 'safetensors: the new parameters minus the global model, same tensor names and shapes')
    .requiredOption('--as <name>', 'the participant identity')
    .option('--exchange <dir>', 'the coordinator is another node: read the signed task here, deliver the sealed update and manifest here (PROTOCOL.md §4)')
    .option('--coordinator <url>', 'the coordinator is another node serving (provena serve): read the task from it and deliver to it over HTTP')
    .action(
      action(async (opts: CommonOptions & { task: number; dataset: string; manifest: string; update: string; as: string; exchange?: string; coordinator?: string }) => {
        if (opts.exchange && opts.coordinator) throw new ProvenaError('CLI_BAD_ARGUMENT', 'give --exchange DIR or --coordinator URL, not both')
        const dir = resolveDataDir(opts.dir)
        const client = unlockIdentity(dir, opts.as, await askPassphrase())
        const read = (f: string) => {
          try {
            return readFileSync(f)
          } catch (e) {
            throw new ProvenaError('FL_BAD_INPUT', `cannot read ${f}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`)
          }
        }
        const manifest = read(opts.manifest)
        const update = read(opts.update)
        await withFl(opts, async (ctx, p) => {
          const o = { task: opts.task, dataset: opts.dataset, client, manifest, update }
          const exchange = opts.coordinator ? httpExchange(opts.coordinator, { keyId: client.did, privateKey: client.signing.privateKey }) : opts.exchange
          const r = exchange ? await submitAcrossNodes(p, ctx, { ...o, exchange }) : await submitForeignUpdate(ctx, o)
          emit(opts, r, () => `Committed ${opts.as}'s update for task ${r.task}, round ${r.round}: sha256 ${r.digest.slice(0, 16)}…, ${r.samples} consented record(s) (tx ${r.transactionHash})`)
        })
      }),
    )

  common(fl.command('aggregate').description('verify the committed updates, aggregate, finalise the round on-chain'))
    .requiredOption('--task <n>', 'the task number', integer('--task', 1))
    .requiredOption('--as <name>', 'the aggregator identity')
    .option('--exchange <dir>', "the clients are other nodes: read their sealed updates and manifests here, write the next global model here (PROTOCOL.md §4)")
    .action(
      action(async (opts: CommonOptions & { task: number; as: string; exchange?: string }) => {
        const node = remoteNode(opts)
        if (node) {
          // POST /v1/fl/tasks/{task}/aggregate on the coordinator's node (--node, or this data dir's serve).
          if (opts.exchange) throw new ProvenaError('CLI_NOT_REMOTE', 'fl aggregate --exchange reads a directory of this machine: not through a node', { hint: "through a node, the round is aggregated from its own exchange (leave out --exchange)" })
          const r = await remoteCall<{ task: number; round: number; aggregation: string; accepted: unknown[]; rejected: unknown[]; aggregateDigest: string; transactionHash: string }>(node, 'POST', `/v1/fl/tasks/${opts.task}/aggregate`, { query: { as: opts.as } })
          emit(opts, r, () => `Round ${r.round} of task ${r.task} finalised on the node at ${node.url} (tx ${r.transactionHash}): ${r.accepted.length} update(s) aggregated by ${r.aggregation}, ${r.rejected.length} rejected\n  model     sha256 ${r.aggregateDigest}`)
          return
        }
        const dir = resolveDataDir(opts.dir)
        const aggregator = unlockIdentity(dir, opts.as, await askPassphrase())
        // A task published in this node's own exchange (participants on other nodes, no --exchange): aggregated from there.
        const exchange = opts.exchange ?? (existsSync(join(nodeExchangeDir(dir), `task-${opts.task}`)) ? nodeExchangeDir(dir) : undefined)
        await withFl(opts, async (ctx, p) => {
          const identities: { name: string; did: string; address: string }[] = exchange ? flMembers(p, ctx) : listIdentities(dir)
          const r = exchange ? await aggregateAcrossNodes(p, ctx, { task: opts.task, aggregator, exchange }) : await aggregateRound(ctx, opts.task, aggregator, listIdentities(dir))
          // Clients named as `identity list` names them; their DID and EVM address stay in --json.
          const byAddress = new Map(identities.map((i) => [i.address.toLowerCase(), i]))
          const who = (address: string) => {
            const i = byAddress.get(address.toLowerCase())
            return { name: i?.name ?? null, did: i?.did ?? null }
          }
          const json = {
            ...r,
            accepted: r.accepted.map((a) => ({ ...a, name: who(a.client).name })),
            rejected: r.rejected.map((x) => ({ ...x, ...who(x.client) })),
            dropped: r.dropped.map((d) => ({ client: d, ...who(d) })),
          }
          const width = Math.max(8, ...[...json.accepted, ...json.rejected, ...json.dropped].map((c) => (c.name ?? c.client).length))
          const label = (c: { name: string | null; client: string }) => (c.name ?? c.client).padEnd(width)
          emit(opts, json, () =>
            [
              `Round ${r.round} of task ${r.task} finalised (tx ${r.transactionHash}): ${r.accepted.length} update(s) aggregated by ${r.aggregation}${r.dp ? ` with DP noise ×${r.dp.noiseMultiplier.toFixed(2)} (ε spent ${r.dp.epsilonSpent.toFixed(2)})` : ''}`,
              ...json.accepted.map((a) => `  accepted  ${label(a)}  ${a.samples} consented record(s), manifest ${a.manifest.slice(0, 12)}…`),
              ...json.rejected.map((x) => `  rejected  ${label(x)}  ${x.reasonName} (code ${x.reason}): ${x.detail}`),
              ...json.dropped.map((d) => `  dropped   ${label(d)}  (no commitment)`),
              `  model     sha256 ${r.aggregateDigest}`,
              ...(r.model ? [`  final     registered as model ${r.model.id.slice(0, 16)}… with its lineage (log entry ${r.model.logIndex}); file ${r.model.path}`] : []),
            ].join('\n'),
          )
        })
      }),
    )

  common(fl.command('status').description('a federated task: round, commitments, deadline, models'))
    .requiredOption('--task <n>', 'the task number', integer('--task', 1))
    .option('--model-out <file>', 'write the current global model (safetensors): the start of the open round, or the final model')
    .action(
      action(async (opts: CommonOptions & { task: number; modelOut?: string }) => {
        const node = remoteNode(opts)
        if (node) {
          // GET /v1/fl/tasks/{task}/status on the coordinator's node (--node, or this data dir's serve).
          if (opts.modelOut) throw new ProvenaError('CLI_NOT_REMOTE', 'fl status --model-out through a node: the models go to the participants only (signed requests)', { hint: 'run fl status --model-out on the coordinator\'s data dir while it is not served, or fetch the final model as a participant' })
          const st = await remoteCall<Awaited<ReturnType<typeof taskStatus>>>(node, 'GET', `/v1/fl/tasks/${opts.task}/status`)
          emit(opts, st, () => statusText(st))
          return
        }
        await withFl(opts, async (ctx) => {
          const s = await taskStatus(ctx, opts.task)
          if (opts.modelOut) {
            const cid = ctx.db.prepare('SELECT model_cid FROM fl_rounds WHERE chain = ? AND task = ? ORDER BY round DESC LIMIT 1').pluck().get(ctx.chain.client.chainKey, opts.task) as string
            writeFileSync(opts.modelOut, s.done ? readFileSync(join(ctx.dir, 'fl', `task-${opts.task}.safetensors`)) : await ctx.store.get(cid))
          }
          emit(opts, s, () => statusText(s))
        })
      }),
    )
}

/** `fl status` as text. */
function statusText(s: Awaited<ReturnType<typeof taskStatus>>): string {
  return [
    `Task ${s.task}: ${s.spec.model.type} for ${s.purpose}, ${s.done ? `done after ${s.rounds} round(s)` : `round ${s.round} of ${s.rounds}, ${s.committedThisRound.length} of ${s.participants.length} committed (min ${s.minClients}), open until ${s.roundDeadline}`}`,
    ...s.models.map((m) => `  round ${m.round} starts from model ${m.model_digest.slice(0, 16)}…`),
    ...(s.finalModel ? [`  final model ${s.finalModel}`] : []),
  ].join('\n')
}

/** `fl client run` as text; `deliveredTo`: the exchange or coordinator the update went to. */
function clientRunText(as: string, r: ClientRunReport, deliveredTo: string | undefined): string {
  return [
    `Committed ${as}'s update for task ${r.task}, round ${r.round} (tx ${r.transactionHash})`,
    `  consent   manifest ${r.manifest.hash.slice(0, 16)}…: ${r.manifest.included} record(s) included, ${r.manifest.excluded} excluded (log entry ${r.manifest.logIndex})`,
    `  update    sha256 ${r.update.digest.slice(0, 16)}…, L2 norm ${r.update.norm.toPrecision(3)}, sealed to the aggregator (${r.update.cid.slice(0, 16)}…)`,
    ...(deliveredTo ? [`  delivered the sealed update and the manifest to ${deliveredTo}`] : []),
  ].join('\n')
}

/** Opens the data dir, the chain and the block store as the federated coordinator needs. */
async function withFl<T>(opts: CommonOptions, fn: (ctx: FlContext, p: Provena) => Promise<T>): Promise<T> {
  // Clients' manifests are checked against this node's trust roots, never their own.
  return withDataPlane(opts, async (p, chain, plane) => fn(flNodeContext(p, chain, plane.store), p))
}
