import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Command } from 'commander'
import { anchorNow, initDataDir, openChain, openProvena } from '../../app/index.js'
import { readChainEvidence, verifyLog } from '../../audit/index.js'
import { readLatestAnchor } from '../../chain/index.js'
import { accuracy, encodeSafetensors, trainLogistic } from '../../fl/index.js'
import { verifyInclusion } from '../../log/index.js'
import { registerDataset, registerModel, verifyDataset, formatLineage, lineageOf } from '../../registry/index.js'
import { emit, type CommonOptions } from '../output.js'
import { action, common, registryContext } from '../session.js'

/** The breast-cancer CSV shipped with Provena (see data/README.md). */
export const SHIPPED_DATASET = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'data', 'breast_cancer.csv')

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
  common(program.command('demo').description('the main job on the embedded chain, in a fresh data dir: register, train, anchor, prove, tamper, verify')).action(
    action(async (opts: CommonOptions) => {
      const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'provena-demo-'))
      const say = (s = '') => {
        if (!opts.json) process.stdout.write(`${s}\n`)
      }
      const step = (n: number, title: string, cmd: string) => say(`\n${n}. ${title}\n   $ ${cmd}`)
      const work = join(dir, 'work')
      mkdirSync(work, { recursive: true })
      initDataDir(dir)
      const p = openProvena(dir)
      say(`Provena demo in ${dir}`)
      say(`The embedded EVM node (anvil) starts now; its chain state lives in ${join(dir, 'node')}.`)
      const chain = await openChain(p, { rpcUrl: opts.rpcUrl })
      try {
        const ctx = registryContext(p, chain)
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

        step(6, 'Verify everything independently, from the chain and the exported log only', 'provena verify')
        const evidence = await readChainEvidence(chain.client.publicClient, chain.deployment, chain.deployment.fromBlock)
        const report = verifyLog({ ...evidence, entries: p.log.entries() })
        say(`   ${report.ok ? 'VERIFIED' : `FAILED: ${report.failures[0]?.message}`}: ${report.entries} entries, ${report.checkpoints} checkpoint(s), ${report.assetsOnChain} assets on-chain, each logged`)

        say(`\nNext, try (the embedded node starts on demand; 'provena node start' keeps it running):`)
        say(`   export PROVENA_DIR=${dir}`)
        say(`   npx provena chain info`)
        say(`   npx provena lineage ${m.id.slice(0, 12)}`)
        say(`   npx provena log entries`)
        say(`   npx provena dataset verify ${tampered} --id ${ds.id.slice(0, 12)}`)
        say(`   npx provena verify`)
        emit(opts.json ? opts : { json: false }, {
          dir,
          dataset: ds,
          model: { ...m, holdOutAccuracy: acc },
          checkpoint: { treeSize: a.anchoredSize, rootHash: a.anchoredRoot.toString('hex'), anchor: chain.deployment.CheckpointAnchor },
          proof: { index: m.logIndex, treeSize: anchored.treeSize, hashes: proof.length, verified: true },
          tamper: { cleanOk: clean.ok, changed: bad.changed },
          verify: report,
        }, () => '')
        if (!report.ok || !clean.ok || bad.changed[0] !== 42) process.exitCode = 3
      } finally {
        await chain.close()
        p.close()
      }
    }),
  )
}
