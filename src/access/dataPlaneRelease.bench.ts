// Key release (issue 12, attack 1): a grantee's export of 100,000 records through the path
// between nodes — request signed by the lab → release on the controller's side (message
// checks, on-chain isAllowed, consent gate, keys unwrapped and sealed with HPKE to the lab's
// pinned X25519 key, segments published by CID into a directory, release signed, logged,
// anchored) → export on the lab's side (release checked, keys opened with the lab's own
// private key, segments read by CID and hashed, decrypted, written, logged, anchored) —
// against the controller's same-process export of the same dataset for the same purpose
// (on-chain check, consent gate, unwrap, decrypt, write, logged, anchored), in the same run,
// alternated. Library calls in one process (one data dir, two identities), but through
// the request and release files and the lab's own keys. Target (issue 12): >= 0.5x.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { createMemberIdentity, initDataDir, openChain, openProvena } from '../app/index.js'
import { progress, report } from '../bench/harness.js'
import { applyConsentChanges, type ConsentChange } from '../consent/index.js'
import { readMessageFile, writeMessageFile } from '../node/index.js'
import { exportForPurpose, exportReleased, grantAccess, releaseAccess, requestAccess, type ServiceContext } from '../service/index.js'
import { FsBlobStore } from '../store/index.js'
import { repoRoot } from '../testing.js'
import { claimDataset, controllerSecrets, importDataset, pseudonymOf, segmentsFromDir, unlockIdentity } from './index.js'

const P = 'dpv:ScientificResearch'
const dir = mkdtempSync(join(tmpdir(), 'provena-bench-release-'))
const work = mkdtempSync(join(tmpdir(), 'provena-bench-release-files-'))
initDataDir(dir, 'bench')
const p = openProvena(dir, { passphrase: 'bench' })
const chain = await openChain(p)
await createMemberIdentity(p, chain, 'st-mary', 'controller', 'bench')
await createMemberIdentity(p, chain, 'lab', 'trainer', 'bench')
const controller = unlockIdentity(dir, 'st-mary', 'bench')
const lab = unlockIdentity(dir, 'lab', 'bench')
const plane = { db: p.db, log: p.log, signer: p.signer, operatorDid: p.operatorDid, outbox: chain.outbox, store: new FsBlobStore(join(dir, 'blobs')) }
const ctx: ServiceContext = { p, chain, plane }

try {
  const N = Number(process.env.PLANE_BENCH_N ?? 100_000)
  progress(`import of ${N} breast-cancer-shaped rows, consent (10 % refuse), a grant to the lab`)
  const [header, ...rows] = readFileSync(join(repoRoot, 'data', 'breast_cancer.csv'), 'utf8').trimEnd().split('\n')
  const csv = join(work, 'rows.csv')
  writeFileSync(csv, `${header}\n${Array.from({ length: N }, (_, i) => `S-${i}${rows[i % rows.length]!.slice(rows[i % rows.length]!.indexOf(','))}`).join('\n')}\n`)
  const id = (await importDataset(plane, csv, { subjectColumn: 'patient_id', controller })).id
  await claimDataset(chain.outbox, id, controller.address)
  await grantAccess({ p, chain }, { dataset: id, grantee: lab, purpose: P, expiresAt: 0, as: controller })
  const { pseudonymKey } = controllerSecrets(controller)
  const changes: ConsentChange[] = Array.from({ length: N }, (_, i) => ({ pseudonym: pseudonymOf(pseudonymKey, `S-${i}`), subjectId: `S-${i}`, purpose: P, state: i % 10 === 9 ? 'refused' : 'given', expires: null, dataset: null }))
  applyConsentChanges({ db: p.db, log: p.log, map: p.map }, controller.did, changes)

  progress('the controller\'s same-process export vs request → release → export on the lab\'s side, alternated, 3 rounds')
  const same: number[] = []
  const released: number[] = []
  const parts = { request: [] as number[], release: [] as number[], export: [] as number[] }
  let records = 0
  let releaseBytes = 0
  for (let round = 0; round < 3; round++) {
    const t0 = performance.now()
    const own = await exportForPurpose(ctx, { dataset: id, as: controller, purpose: P, out: join(work, `same-${round}.csv`), unlockController: () => controller })
    same.push((performance.now() - t0) / 1000)

    const segments = join(work, `segments-${round}`)
    const t1 = performance.now()
    const req = await requestAccess(ctx, { dataset: id, purpose: P, as: lab })
    writeMessageFile(join(work, `req-${round}.json`), req.request)
    const t2 = performance.now()
    const rel = await releaseAccess(ctx, { request: readMessageFile(join(work, `req-${round}.json`)), as: controller, segmentsOut: segments })
    writeMessageFile(join(work, `rel-${round}.json`), rel.release)
    const t3 = performance.now()
    const got = await exportReleased(ctx, { release: readMessageFile(join(work, `rel-${round}.json`)), as: lab, segments: segmentsFromDir(segments), out: join(work, `lab-${round}.csv`) })
    const t4 = performance.now()
    released.push((t4 - t1) / 1000)
    parts.request.push((t2 - t1) / 1000)
    parts.release.push((t3 - t2) / 1000)
    parts.export.push((t4 - t3) / 1000)
    if (got.records !== own.records) throw new Error(`the lab exported ${got.records} records, the controller ${own.records}`)
    records = got.records
    releaseBytes = readFileSync(join(work, `rel-${round}.json`)).length
    rmSync(segments, { recursive: true })
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  report({
    name: `key release, ${N} rows (${records} consenting): request → release (checks, consent gate, HPKE to the lab's pinned key, segments published by CID, signed, logged, anchored) → export on the lab's side (release checked, keys opened with its own key, segments hashed, decrypted, written, logged, anchored)`,
    value: records / med(released),
    unit: 'records/s',
    baseline: { name: "the controller's same-process export of the same dataset for the same purpose (on-chain check, consent, unwrap, decrypt, write, logged, anchored)", value: records / med(same), unit: 'records/s' },
    ratio: med(same) / med(released),
    target: '>= 0.5×',
    note: `medians of 3 alternated rounds: same-process ${med(same).toFixed(2)} s; release path ${med(released).toFixed(2)} s = request ${med(parts.request).toFixed(2)} + release ${med(parts.release).toFixed(2)} + export ${med(parts.export).toFixed(2)} s; release file ${(releaseBytes / 2 ** 20).toFixed(1)} MiB`,
  })
} finally {
  await chain.close()
  p.close()
}
