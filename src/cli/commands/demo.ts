import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Command } from 'commander'
import { controllerSecrets, importDataset, pseudonymOf, unlockIdentity } from '../../access/index.js'
import { anchorNow, createMemberIdentity, flContext, initDataDir, openChain, openProvena, type ChainSession, type Provena } from '../../app/index.js'
import { applyConsentChanges, type TrainingManifest } from '../../consent/index.js'
import { openStore } from '../../store/index.js'
import { readChainEvidence, verifyLog } from '../../audit/index.js'
import { readLatestAnchor } from '../../chain/index.js'
import {
  accuracy,
  aggregateRound,
  createTask,
  DEFAULT_SPECS,
  encodeSafetensors,
  evaluate,
  featureSums,
  fromSafetensors,
  modelShape,
  runClient,
  standardisation,
  standardise,
  trainLogistic,
} from '../../fl/index.js'
import { ProvenaError } from '../../errors.js'
import { verifyInclusion } from '../../log/index.js'
import { registerDataset, registerModel, verifyDataset, formatLineage, lineageOf } from '../../registry/index.js'
import { emit, type CommonOptions } from '../output.js'
import { action, common } from '../session.js'
import { registryContext } from '../../service/index.js'
import { runConsortiumDemo } from '../consortiumDemo.js'

/** The breast-cancer CSV shipped with Provena (see data/README.md). */
const PURPOSE = 'dpv:ScientificResearch'

export const SHIPPED_DATASET = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'data', 'breast_cancer.csv')

/**
 * Refuses a `--dir` that exists and is not an empty directory, before anything is written:
 * the demo creates its own identities, passphrase and entries, and must never add them to
 * a data dir (or any directory) that holds something already.
 */
function refuseNonEmptyDir(dir: string): void {
  if (!existsSync(dir)) return
  if (!statSync(dir).isDirectory()) throw new ProvenaError('CLI_BAD_ARGUMENT', `demo --dir ${dir}: not a directory`, { hint: 'give a new or empty directory, or leave out --dir for a temporary one' })
  const found = readdirSync(dir).sort()
  if (found.length > 0) {
    const shown = found.slice(0, 3).join(', ') + (found.length > 3 ? ', …' : '')
    throw new ProvenaError('CLI_BAD_ARGUMENT', `demo --dir ${dir}: the directory is not empty (${shown}); the demo writes only into a new or empty directory`, {
      hint: 'give a new or empty directory, or leave out --dir for a temporary one; nothing was written',
    })
  }
}

/** Rows of a numeric CSV: features (subject id first column and `target` excluded) and labels. */
function loadNumericCsv(path: string): { X: Float32Array[]; y: Uint8Array } {
  const [header, ...rows] = readFileSync(path, 'utf8').trimEnd().split('\n')
  const cols = header!.split(',')
  const t = cols.indexOf('target')
  const X: Float32Array[] = []
  const y: number[] = []
  for (const row of rows) {
    const f = row.split(',')
    X.push(Float32Array.from(f.filter((_, i) => i !== 0 && i !== t).map(Number)))
    y.push(Number(f[t]))
  }
  return { X, y: Uint8Array.from(y) }
}

export function registerDemo(program: Command): void {
  common(program.command('demo').description('the main job on the embedded chain, in a fresh data dir: register, train, anchor, prove, tamper, verify'))
    .option('--consortium', 'the healthcare case between separate nodes over HTTP: one chain, three hospitals, a coordinator and an auditor, each its own data dir and provena serve process on loopback')
    .option('--keep', 'with --consortium: leave the chain and the nodes running at the end')
    .action(
      action(async (opts: CommonOptions & { consortium?: boolean; keep?: boolean }) => {
        if (opts.dir !== undefined) refuseNonEmptyDir(opts.dir)
        if (opts.keep && !opts.consortium) throw new ProvenaError('CLI_BAD_ARGUMENT', '--keep goes with --consortium (the nodes it leaves running)')
        const dir = opts.dir ?? mkdtempSync(join(tmpdir(), opts.consortium ? 'provena-consortium-' : 'provena-demo-'))
        const say = (s = '') => {
          if (!opts.json) process.stdout.write(`${s}\n`)
        }
        if (opts.consortium) {
          mkdirSync(dir, { recursive: true })
          say(`Provena consortium demo in ${dir}: separate nodes on loopback, over HTTP`)
          const report = await runConsortiumDemo({ dir, dataset: SHIPPED_DATASET, keep: opts.keep ?? false, say })
          emit(opts.json ? opts : { json: false }, report, () => '')
          if (!report.ok) process.exitCode = 3
          return
        }
        const step = (n: number, title: string, cmd: string) => say(`\n${n}. ${title}\n   $ ${cmd}`)
        const work = join(dir, 'work')
        mkdirSync(work, { recursive: true })
        initDataDir(dir, DEMO_PASSPHRASE)
        const p = openProvena(dir, { passphrase: DEMO_PASSPHRASE })
        say(`Provena demo in ${dir}`)
        say(`The embedded EVM node (anvil) starts now; its chain state lives in ${join(dir, 'node')}.`)
        const chain = await openChain(p, { rpcUrl: opts.rpcUrl })
        try {
          const ctx = registryContext({ p, chain })
          const csv = join(work, 'breast_cancer.csv')
          copyFileSync(SHIPPED_DATASET, csv)

          step(1, 'Register the Wisconsin breast-cancer dataset: 569 patients, each record salted and committed', `provena dataset register ${csv}`)
          const ds = await registerDataset(ctx, csv, { name: 'breast-cancer-wisconsin' })
          const first = await anchorNow(p, chain)
          say(`   dataset id ${ds.id}\n   Merkle root of ${ds.records} record commitments ${ds.root}\n   registered in AssetRegistry ${chain.deployment.AssetRegistry}, log entry ${ds.logIndex}\n   log checkpoint of size ${first.anchoredSize} anchored`)

          step(2, 'Train a logistic-regression model on it (75 % train / 25 % hold-out) and register it with its lineage', `provena model register model.safetensors --trained-on ${ds.id.slice(0, 12)}`)
          const { X, y } = loadNumericCsv(csv)
          const cut = Math.floor(X.length * 0.75)
          const model = trainLogistic(X.slice(0, cut), y.subarray(0, cut))
          const acc = accuracy(model, X.slice(cut), y.subarray(cut))
          const modelPath = join(work, 'model.safetensors')
          writeFileSync(
            modelPath,
            encodeSafetensors(
              { weights: { shape: [model.weights.length], data: model.weights }, bias: { shape: [1], data: Float32Array.of(model.bias) }, mean: { shape: [model.mean.length], data: model.mean }, std: { shape: [model.std.length], data: model.std } },
              { trainer: 'provena logistic regression', dataset: ds.id },
            ),
          )
          const m = await registerModel(ctx, modelPath, { trainedOn: [ds.id], name: 'breast-cancer-logreg', parameters: { holdOutAccuracy: Number(acc.toFixed(4)) } })
          say(`   hold-out accuracy ${(acc * 100).toFixed(1)} %\n   model id ${m.id}\n   signed in-toto provenance (DSSE), log entry ${m.logIndex}`)
          say(formatLineage(lineageOf(p.db, m.id)).replace(/^/gm, '   '))

          step(3, 'Anchor a signed checkpoint of the log on-chain: the contract checks its RFC 9162 consistency proof from the last one', 'provena log checkpoint')
          const a = await anchorNow(p, chain)
          say(`   CheckpointAnchor ${chain.deployment.CheckpointAnchor}: size ${a.anchoredSize}, root ${a.anchoredRoot.toString('hex')}`)
          say(a.checkpoint.note.trimEnd().replace(/^/gm, '   │ '))

          step(4, "Prove the model's registration is in the anchored log", `provena log prove ${m.logIndex}`)
          const anchored = await readLatestAnchor(chain.client.publicClient, chain.deployment.CheckpointAnchor)
          const entry = p.log.entry(m.logIndex)
          const proof = p.log.inclusionProof(m.logIndex, anchored.treeSize)
          verifyInclusion(m.logIndex, anchored.treeSize, entry.leafHash, proof, anchored.rootHash)
          say(`   inclusion proof of ${proof.length} hashes verified against the on-chain root`)

          step(5, 'Tamper with one record of a copy (patient on line 42) and check it against the registration', `provena dataset verify tampered.csv --id ${ds.id.slice(0, 12)}`)
          const tampered = join(work, 'tampered.csv')
          const lines = readFileSync(csv, 'utf8').split('\n')
          const cells = lines[41]!.split(',')
          cells[1] = (Number(cells[1]) + 0.01).toFixed(2)
          lines[41] = cells.join(',')
          writeFileSync(tampered, lines.join('\n'))
          const clean = await verifyDataset(ctx, csv, ds.id)
          const bad = await verifyDataset(ctx, tampered, ds.id)
          say(`   original copy: ${clean.ok ? 'OK' : 'TAMPERED'}\n   tampered copy: ${bad.ok ? 'OK' : `TAMPERED, changed line ${bad.changed.join(', ')}`}`)

          step(6, 'Three hospitals train a model together on-chain; patients consent, some withdraw between rounds', 'provena fl task create … / fl client run … / fl aggregate …')
          const fl = await hospitalScenario(p, chain, dir, work, say)

          step(7, 'Verify everything independently, from the chain and the exported log only', 'provena verify')
          const evidence = await readChainEvidence(chain.client.publicClient, chain.deployment, chain.deployment.fromBlock)
          const report = verifyLog({ ...evidence, entries: p.log.entries() })
          say(`   ${report.ok ? 'VERIFIED' : `FAILED: ${report.failures[0]?.message}`}: ${report.entries} entries, ${report.checkpoints} checkpoint(s), ${report.assetsOnChain} assets on-chain, each logged; ${report.consentChanges} consent records replayed into every anchored consent map root`)

          say(`\nNext, try (the embedded node starts on demand; 'provena node start' keeps it running):`)
          say(`   export PROVENA_DIR=${dir} PROVENA_PASSPHRASE=${DEMO_PASSPHRASE}`)
          say(`   npx provena chain info`)
          say(`   npx provena lineage ${m.id.slice(0, 12)}`)
          say(`   npx provena log entries`)
          say(`   npx provena dataset verify ${tampered} --id ${ds.id.slice(0, 12)}`)
          say(`   npx provena fl status --task ${fl.task}`)
          say(`   npx provena lineage ${fl.model.slice(0, 12)}`)
          say(`   npx provena subject report ${fl.withdrawn[0]} --as st-mary`)
          say(`   npx provena consent verify-manifest ${fl.manifestFile}`)
          say(`   npx provena verify`)
          emit(opts.json ? opts : { json: false }, {
            dir,
            dataset: ds,
            model: { ...m, holdOutAccuracy: acc },
            checkpoint: { treeSize: a.anchoredSize, rootHash: a.anchoredRoot.toString('hex'), anchor: chain.deployment.CheckpointAnchor },
            proof: { index: m.logIndex, treeSize: anchored.treeSize, hashes: proof.length, verified: true },
            tamper: { cleanOk: clean.ok, changed: bad.changed },
            federated: fl,
            verify: report,
          }, () => '')
          if (!report.ok || !clean.ok || bad.changed[0] !== 42 || !fl.withdrawnExcluded) process.exitCode = 3
        } finally {
          await chain.close()
          p.close()
        }
      }),
    )
}

/** The keystore passphrase of the demo's identities (a demo data dir is throwaway). */
const DEMO_PASSPHRASE = 'provena-demo'

/**
 * The hospital scenario: three hospitals import their patients encrypted, record consent
 * (a few refuse), and train a model with a coordinator on-chain over three rounds; some
 * patients of St Mary withdraw after round 1 and are left out of every later manifest. The
 * model is registered with its lineage and checked on each hospital's own held-out patients.
 */
async function hospitalScenario(p: Provena, chain: ChainSession, dir: string, work: string, say: (s?: string) => void) {
  const names = ['st-mary', 'st-john', 'st-luke']
  const [header, ...rows] = readFileSync(SHIPPED_DATASET, 'utf8').trimEnd().split('\n')
  const store = await openStore(dir, 'fs')
  try {
    const ids = []
    for (const n of [...names, 'coordinator']) ids.push((await createMemberIdentity(p, chain, n, n === 'coordinator' ? 'processor' : 'controller', DEMO_PASSPHRASE)).identity)
    const unlocked = names.map((n) => unlockIdentity(dir, n, DEMO_PASSPHRASE))
    const coordinator = unlockIdentity(dir, 'coordinator', DEMO_PASSPHRASE)
    const plane = { ...registryContext({ p, chain }), store }
    const ctx = flContext(p, chain, store)
    const datasets: string[] = []
    const holdOut: string[][] = []
    const trainRows: string[][] = []
    let refused = 0
    for (const [h, name] of names.entries()) {
      const mine = rows.filter((_, i) => i % 3 === h)
      const cut = Math.floor(mine.length * 0.75)
      const file = join(work, `${name}.csv`)
      writeFileSync(file, `${header}\n${mine.slice(0, cut).join('\n')}\n`)
      holdOut.push(mine.slice(cut))
      trainRows.push(mine.slice(0, cut))
      const imported = await importDataset(plane, file, { subjectColumn: 'patient_id', controller: unlocked[h]! })
      datasets.push(imported.id)
      const { pseudonymKey } = controllerSecrets(unlocked[h]!)
      // About one patient in twenty refuses; the others consent to research use.
      const changes = mine.slice(0, cut).map((r, i) => ({ pseudonym: pseudonymOf(pseudonymKey, r.split(',')[0]!), purpose: PURPOSE, state: i % 20 === 7 ? ('refused' as const) : ('given' as const) }))
      refused += changes.filter((c) => c.state === 'refused').length
      applyConsentChanges(ctx, unlocked[h]!.did, changes)
      say(`   ${name.padEnd(8)} imported ${imported.records} patients encrypted (dataset ${imported.id.slice(0, 12)}), consents recorded`)
    }
    await anchorNow(p, chain)
    const task = await createTask(ctx, coordinator, {
      spec: { type: 'provena.fl.task-spec/v1', model: DEFAULT_SPECS.logistic, features: 30, classes: 2, label: 'target', aggregation: 'fedavg', maxUpdateNorm: 100, dp: null },
      purpose: PURPOSE,
      participants: ids.slice(0, 3),
      rounds: 3,
      minClients: 3,
      roundTimeout: 3600,
    })
    say(`   FederatedTraining task ${task.task}: logistic regression for ${PURPOSE}, 3 hospitals, 3 rounds (tx ${task.transactionHash.slice(0, 18)}…)`)
    // Ten of St Mary's consenting patients (not those who refused).
    const withdrawn = trainRows[0]!.filter((_, i) => i % 20 !== 7).slice(0, 10).map((r) => r.split(',')[0]!)
    let manifestFile = ''
    const manifests: { round: number; hospital: string; included: number; excluded: number }[] = []
    let final: { id: string } | undefined
    for (let round = 1; round <= 3; round++) {
      if (round === 2) {
        const { pseudonymKey } = controllerSecrets(unlocked[0]!)
        applyConsentChanges(ctx, unlocked[0]!.did, withdrawn.map((s) => ({ pseudonym: pseudonymOf(pseudonymKey, s), subjectId: s, purpose: PURPOSE, state: 'withdrawn' as const })))
        await anchorNow(p, chain)
        say(`   10 patients of st-mary withdraw their consent (${withdrawn.slice(0, 3).join(', ')}, …)`)
      }
      for (const [h, name] of names.entries()) {
        const r = await runClient(ctx, task.task, datasets[h]!, unlocked[h]!, ids[3]!)
        manifests.push({ round, hospital: name, included: r.manifest.included, excluded: r.manifest.excluded })
      }
      const agg = await aggregateRound(ctx, task.task, coordinator, ids)
      say(`   round ${round}: ${manifests.filter((m) => m.round === round).map((m) => `${m.hospital} trained on ${m.included} consented patients`).join(', ')}; aggregate ${agg.aggregateDigest.slice(0, 12)}… finalised on-chain`)
      if (agg.model) final = agg.model
    }
    // The manifests of rounds 2 and 3 leave every withdrawn patient out: checked from the manifests themselves.
    const rowsOf = p.db.prepare('SELECT round, manifest_cid FROM fl_updates WHERE task = ? AND dataset = ? ORDER BY round').all(task.task, datasets[0]) as { round: number; manifest_cid: string }[]
    const { pseudonymKey } = controllerSecrets(unlocked[0]!)
    const gone = new Set(withdrawn.map((s) => pseudonymOf(pseudonymKey, s)))
    let withdrawnExcluded = true
    for (const r of rowsOf) {
      const bytes = await store.get(r.manifest_cid)
      const m = JSON.parse(bytes.toString('utf8')) as TrainingManifest
      const includedWithdrawn = m.included.filter((x) => gone.has(x.subject)).length
      if (r.round >= 2 && includedWithdrawn > 0) withdrawnExcluded = false
      if (r.round === 3) {
        manifestFile = join(work, 'st-mary-round-3.manifest.json')
        writeFileSync(manifestFile, bytes)
      }
    }
    // Each hospital checks the final model on its own held-out patients (standardised with its own statistics).
    const model = readFileSync(join(dir, 'fl', `task-${task.task}.safetensors`))
    const shape = modelShape(DEFAULT_SPECS.logistic, 30, 2)
    const params = fromSafetensors(shape, model)
    const accuracies = names.map((_, h) => {
      const parse = (list: string[]) => list.map((r) => r.split(','))
      const train = parse(trainRows[h]!)
      const test = parse(holdOut[h]!)
      const X = (l: string[][]) => l.map((c) => Float32Array.from(c.slice(1, 31).map(Number)))
      const stats = standardisation([featureSums(X(train), 30)])
      return evaluate(shape, params, standardise(X(test), stats), Int32Array.from(test.map((c) => Number(c[31]))))
    })
    say(`   final model ${final!.id.slice(0, 16)}… registered with its lineage: 3 datasets, 3 rounds, 9 training manifests`)
    say(`   hold-out accuracy at each hospital: ${names.map((n, h) => `${n} ${(100 * accuracies[h]!).toFixed(1)} %`).join(', ')}`)
    say(`   withdrawn patients in the manifests of rounds 2 and 3: ${withdrawnExcluded ? 'none (checked from the manifests)' : 'PRESENT'}; ${refused} refusals never used`)
    return { task: task.task, model: final!.id, datasets, rounds: manifests, withdrawn, withdrawnExcluded, refused, accuracies, manifestFile }
  } finally {
    await store.close?.()
  }
}

