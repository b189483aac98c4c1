// Cross-node export (issue 13): a lab's node exports 100,000 records of a hospital's dataset
// over HTTP — `exportFromNode`, what `provena dataset export --from URL` runs: the signed
// request logged and anchored on the lab's node, POST /v1/access/release to the hospital's
// node (message checks, on-chain isAllowed, consent gate, keys sealed with HPKE to the lab's
// pinned key, release signed, logged, anchored), the release checked on the lab's side, every
// segment fetched by CID (GET /v1/segments/{cid,…}, signed RFC 9421 requests, each hashed) and
// decrypted with the lab's own key, written, logged, anchored — against the hospital's own
// local export of the same dataset for the same purpose (exportForPurpose), in the same run,
// alternated. Two data dirs, two passphrases, one chain (set up by the CLI as in the tests:
// hospitalAndLab). The hospital's node is a `provena serve` process of its own (as deployed:
// one process per organisation), started for each HTTP round and stopped for each local one
// (one writer per data dir); the lab's node runs in this process.
// Target (issue 13): >= 0.5x.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { unlockIdentity } from '../access/index.js'
import { openChain, openProvena, type Provena } from '../app/index.js'
import { progress, report } from '../bench/harness.js'
import { exportForPurpose, exportFromNode, registryContext, type ServiceContext } from '../service/index.js'
import { openStore } from '../store/index.js'
import { hospitalAndLab, repoRoot, startServe, type CliRun } from '../testing.js'

const P = 'dpv:ScientificResearch'
const N = Number(process.env.EXPORT_BENCH_N ?? 100_000)
const ROUNDS = Number(process.env.EXPORT_BENCH_ROUNDS ?? 3)
const work = mkdtempSync(join(tmpdir(), 'provena-bench-xnode-'))
const ok = (r: CliRun) => {
  if (r.code !== 0) throw new Error(r.stdout + r.stderr)
  return r
}

progress('two nodes on one chain (CLI): a hospital (controller) and a lab (trainer, a member)')
const { H, L, hospital, labDid } = await hospitalAndLab(work, ['P-0'], P)
try {
  progress(`the hospital imports ${N} breast-cancer-shaped rows, records consent (10 % refuse), grants the lab`)
  const [header, ...rows] = readFileSync(join(repoRoot, 'data', 'breast_cancer.csv'), 'utf8').trimEnd().split('\n')
  const csv = join(work, 'rows.csv')
  writeFileSync(csv, `${header}\n${Array.from({ length: N }, (_, i) => `S-${i}${rows[i % rows.length]!.slice(rows[i % rows.length]!.indexOf(','))}`).join('\n')}\n`)
  const dataset = ok(await hospital('dataset', 'import', csv, '--subject-column', 'patient_id', '--as', 'st-mary', '--json')).json<{ id: string }>().id
  const consent = join(work, 'consent.csv')
  writeFileSync(consent, `subject,purpose,action\n${Array.from({ length: N }, (_, i) => `S-${i},${P},${i % 10 === 9 ? 'refuse' : 'grant'}`).join('\n')}\n`)
  ok(await hospital('consent', 'import', consent, '--as', 'st-mary'))
  ok(await hospital('access', 'grant', dataset, '--to', labDid, '--purpose', P, '--as', 'st-mary'))

  const open = async (dir: string, passphrase: string): Promise<ServiceContext & { close: () => Promise<void> }> => {
    const p: Provena = openProvena(dir, { passphrase })
    const chain = await openChain(p)
    const store = await openStore(p.dir, p.config.store ?? { backend: 'fs' })
    return {
      p,
      chain,
      plane: { ...registryContext({ p, chain }), store },
      close: async () => {
        await store.close?.()
        await chain.close()
        p.close()
      },
    }
  }
  const l = await open(L, 'pw-lab')
  try {
    const controller = unlockIdentity(H, 'st-mary', 'pw-hospital')
    const lab = unlockIdentity(L, 'lab', 'pw-lab')

    progress(`the hospital's local export vs the lab's export over HTTP from the hospital's provena serve, alternated, ${ROUNDS} rounds`)
    const local: number[] = []
    const remote: number[] = []
    let records = 0
    for (let round = 0; round < ROUNDS; round++) {
      const h = await open(H, 'pw-hospital')
      let own: Awaited<ReturnType<typeof exportForPurpose>>
      try {
        const t0 = performance.now()
        own = await exportForPurpose(h, { dataset, as: controller, purpose: P, out: join(work, `local-${round}.csv`), unlockController: () => controller })
        local.push((performance.now() - t0) / 1000)
      } finally {
        await h.close()
      }
      const served = await startServe(H, { passphrase: 'pw-hospital' })
      try {
        const t1 = performance.now()
        const got = await exportFromNode(l, { from: served.url, dataset, purpose: P, as: lab, out: join(work, `lab-${round}.csv`) })
        remote.push((performance.now() - t1) / 1000)
        if (got.records !== own.records) throw new Error(`the lab exported ${got.records} records, the hospital ${own.records}`)
        records = got.records
      } finally {
        await served.stop()
      }
      progress(`round ${round + 1}: local ${local.at(-1)!.toFixed(2)} s, over HTTP ${remote.at(-1)!.toFixed(2)} s`)
      rmSync(join(work, `local-${round}.csv`))
      rmSync(join(work, `lab-${round}.csv`))
    }
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
    report({
      name: `cross-node export, ${N} rows (${records} consenting): the lab's node over HTTP (signed request → POST /v1/access/release on the hospital's node → release checked → segments by CID, GET /v1/segments/{cid} → decrypted with the lab's key, written, logged, anchored)`,
      value: records / med(remote),
      unit: 'records/s',
      baseline: { name: "the hospital's local export of the same dataset for the same purpose (exportForPurpose: on-chain check, consent, unwrap, decrypt, write, logged, anchored)", value: records / med(local), unit: 'records/s' },
      ratio: med(local) / med(remote),
      target: '>= 0.5×',
      note: `medians of ${ROUNDS} alternated rounds: local ${med(local).toFixed(2)} s (${local.map((x) => x.toFixed(2)).join(', ')}), over HTTP ${med(remote).toFixed(2)} s (${remote.map((x) => x.toFixed(2)).join(', ')}); the hospital's node a provena serve process of its own`,
    })
  } finally {
    await l.close()
  }
} finally {
  await hospital('node', 'stop')
}
