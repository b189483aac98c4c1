// Ledger overhead of a federated round (issue 6): three hospitals on the embedded chain,
// breast-cancer data, a logistic model and an MLP; per round the transactions and gas of
// everything the round put on-chain (commitments, finalisation, checkpoint anchors) and
// its wall time, against the time the same local training takes alone.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { controllerSecrets, importDataset, pseudonymOf, unlockIdentity } from '../access/index.js'
import { anchorNow, createMemberIdentity, flContext, initDataDir, openChain, openProvena } from '../app/index.js'
import { progress, report, time } from '../bench/harness.js'
import { applyConsentChanges } from '../consent/index.js'
import { openStore } from '../store/index.js'
import { repoRoot } from '../testing.js'
import { aggregateRound, createTask, featureSums, initParams, modelShape, runClient, standardisation, standardise, trainLocal, DEFAULT_SPECS, type ModelSpec } from './index.js'

const dir = mkdtempSync(join(tmpdir(), 'provena-bench-fl-'))
const work = mkdtempSync(join(tmpdir(), 'provena-bench-fl-files-'))
initDataDir(dir, 'bench')
const p = openProvena(dir, { passphrase: 'bench' })
const chain = await openChain(p)
const store = await openStore(dir, 'fs')
const PASS = 'bench'
const P = 'dpv:ScientificResearch'
try {
  const names = ['h0', 'h1', 'h2']
  const ids = []
  for (const n of [...names, 'agg']) ids.push((await createMemberIdentity(p, chain, n, n === 'agg' ? 'processor' : 'controller', PASS)).identity)
  const unlocked = names.map((n) => unlockIdentity(dir, n, PASS))
  const agg = unlockIdentity(dir, 'agg', PASS)
  const plane = { db: p.db, log: p.log, signer: p.signer, operatorDid: p.operatorDid, outbox: chain.outbox, store }
  const ctx = flContext(p, chain, store)
  const [header, ...rows] = readFileSync(join(repoRoot, 'data', 'breast_cancer.csv'), 'utf8').trimEnd().split('\n')
  const datasets: string[] = []
  const local: { X: Float32Array[]; y: Int32Array }[] = []
  for (const [h, n] of names.entries()) {
    const mine = rows.filter((_, i) => i % 3 === h)
    const file = join(work, `${n}.csv`)
    writeFileSync(file, `${header}\n${mine.join('\n')}\n`)
    datasets.push((await importDataset(plane, file, { subjectColumn: 'patient_id', controller: unlocked[h]! })).id)
    const { pseudonymKey } = controllerSecrets(unlocked[h]!)
    applyConsentChanges(ctx, unlocked[h]!.did, mine.map((r) => ({ pseudonym: pseudonymOf(pseudonymKey, r.split(',')[0]!), purpose: P, state: 'given' as const })))
    const cells = mine.map((r) => r.split(','))
    const X = cells.map((c) => Float32Array.from(c.slice(1, 31).map(Number)))
    local.push({ X: standardise(X, standardisation([featureSums(X, 30)])), y: Int32Array.from(cells.map((c) => Number(c[31]))) })
  }
  await anchorNow(p, chain)

  for (const model of [DEFAULT_SPECS.logistic, { ...DEFAULT_SPECS.mlp, epochs: 20 } as ModelSpec]) {
    const label = model.type === 'mlp' ? `MLP (${model.hidden} hidden, ${model.epochs} local epochs)` : `logistic (${model.epochs} local epochs)`
    progress(`3 rounds, ${label}`)
    const task = await createTask(ctx, agg, {
      spec: { type: 'provena.fl.task-spec/v1', model, features: 30, classes: 2, label: 'target', aggregation: 'fedavg', maxUpdateNorm: 1000, dp: null },
      purpose: P,
      participants: ids.slice(0, 3),
      rounds: 3,
      minClients: 3,
      roundTimeout: 3600,
    })
    const shape = modelShape(model, 30, 2)
    const start = initParams(shape)
    const tTrain = await time(() => {
      for (const [h, d] of local.entries()) trainLocal(shape, start, d.X, d.y, h)
    }, 3)
    const pc = chain.client.publicClient
    let txs = 0
    let gas = 0n
    let wall = 0
    const ROUNDS = 3
    for (let r = 1; r <= ROUNDS; r++) {
      const from = await pc.getBlockNumber()
      const t0 = performance.now()
      for (const [h] of names.entries()) await runClient(ctx, task.task, datasets[h]!, unlocked[h]!, ids[3]!)
      await aggregateRound(ctx, task.task, agg, ids)
      wall += (performance.now() - t0) / 1000
      const to = await pc.getBlockNumber()
      for (let b = from + 1n; b <= to; b++) {
        const block = await pc.getBlock({ blockNumber: b, includeTransactions: true })
        for (const tx of block.transactions) {
          txs++
          gas += (await pc.getTransactionReceipt({ hash: tx.hash })).gasUsed
        }
      }
    }
    report({
      name: `ledger overhead of a round, 3 hospitals (~190 records each), ${label}`,
      value: wall / ROUNDS,
      unit: 's per round',
      baseline: { name: 'the same local training alone (3 clients, one after the other)', value: tTrain, unit: 's' },
      ratio: wall / ROUNDS / tTrain,
      note: `${(txs / ROUNDS).toFixed(1)} transactions and ${Math.round(Number(gas) / ROUNDS).toLocaleString('en-US')} gas per round (3 commitments, 1 finalisation, checkpoint anchors, the final model's registration in the last); the round's time also holds the consent gate (manifest), decryption, sealing and the aggregator's checks`,
    })
  }
} finally {
  await store.close?.()
  await chain.close()
  p.close()
}
