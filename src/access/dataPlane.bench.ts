// The encrypted data plane (issue 4): import (canonicalise + commit + encrypt + store +
// register) and export of breast-cancer-shaped rows against raw AES-256-GCM over the same
// bytes; import of 1 MiB records against AES-256-GCM's speed; erasure of 10,000 subjects.
// Import and export are timed as the whole operation a user runs (unlocking the identity,
// the on-chain claim or check, anchoring), in-process and through `npx provena` in a new
// process (process start included), with the core alone beside them; the CLI column also
// covers `consent import`, `consent check` (the gate) and `verify` on the same data dir.
import { spawnSync } from 'node:child_process'
import { createHmac, hash, randomBytes } from 'node:crypto'
import { closeSync, fsyncSync, mkdtempSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { anchorNow, createMemberIdentity, initDataDir, openChain, openProvena } from '../app/index.js'
import { npxProvena, progress, report, time } from '../bench/harness.js'
import { readLatestCheckpoint } from '../chain/index.js'
import { applyConsentChanges, buildManifest, recordManifest, type ConsentChange } from '../consent/index.js'
import { datasetCommitments, getAsset } from '../registry/index.js'
import { aeadSeal, randomBytesPooled } from '../crypto/index.js'
import { FsBlobStore } from '../store/index.js'
import { repoRoot } from '../testing.js'
import { claimDataset, controllerSecrets, datasetSubjects, eraseSubjects, exportDataset, importDataset, isAllowed, pseudonymOf, unlockIdentity, type DataPlaneContext } from './index.js'

const dir = mkdtempSync(join(tmpdir(), 'provena-bench-plane-'))
initDataDir(dir, 'bench')
const p = openProvena(dir, { passphrase: 'bench' })
const chain = await openChain(p)
await createMemberIdentity(p, chain, 'controller', 'controller', 'bench')
const controller = unlockIdentity(dir, 'controller', 'bench')
const ctx: DataPlaneContext = { db: p.db, log: p.log, signer: p.signer, operatorDid: p.operatorDid, outbox: chain.outbox, store: new FsBlobStore(join(dir, 'blobs')) }
const work = mkdtempSync(join(tmpdir(), 'provena-bench-plane-files-'))

try {
  const N = Number(process.env.PLANE_BENCH_N ?? 100_000)
  progress(`import of ${N} breast-cancer-shaped rows`)
  const [header, ...rows] = readFileSync(join(repoRoot, 'data', 'breast_cancer.csv'), 'utf8').trimEnd().split('\n')
  const csv = join(work, 'rows.csv')
  writeFileSync(csv, `${header}\n${Array.from({ length: N }, (_, i) => `S-${i}${rows[i % rows.length]!.slice(rows[i % rows.length]!.indexOf(','))}`).join('\n')}\n`)
  // Each operation is also run as a user runs it, `npx provena …` (a new process that opens
  // the data dir and starts its embedded node), in a fresh data dir, right after the same
  // operation in-process: the two sides of each pair run under the same machine load.
  const cliDir = mkdtempSync(join(tmpdir(), 'provena-bench-plane-cli-'))
  const env = { PROVENA_PASSPHRASE: 'bench' }
  npxProvena(['init', '--dir', cliDir, '--json'], env)
  npxProvena(['identity', 'create', 'controller', '--dir', cliDir, '--json'], env)
  let id = ''
  // The whole operation, as `dataset import` runs it: unlock the controller, import, claim the
  // dataset in AccessPolicy, anchor. The core (importDataset) is timed inside it.
  let tImport = 0
  const tImportWhole = await time(async () => {
    const who = unlockIdentity(dir, 'controller', 'bench')
    tImport = await time(async () => {
      id = (await importDataset(ctx, csv, { subjectColumn: 'patient_id', controller: who })).id
    })
    await claimDataset(chain.outbox, id, who.address)
    await anchorNow(p, chain)
  })
  const cliImport = npxProvena(['dataset', 'import', csv, '--subject-column', 'patient_id', '--as', 'controller', '--dir', cliDir, '--json'], env)
  const cliId = String(cliImport.json!.id)
  // Baseline: AES-256-GCM of the same canonical records, nothing else.
  const canon = rows.map((r) => Buffer.from(JSON.stringify(Object.fromEntries(header!.split(',').map((c, k) => [c, r.split(',')[k]])))))
  const key = randomBytes(32)
  const tAes = await time(() => {
    for (let i = 0; i < N; i++) aeadSeal(key, canon[i % canon.length]!, Buffer.from(`d:${i}`))
  }, 2)
  report({
    name: `import: canonicalise + commit + encrypt + store + register, ${N} rows of ~220 bytes`,
    value: N / tImport,
    unit: 'records/s',
    baseline: { name: 'AES-256-GCM of the same records alone', value: N / tAes, unit: 'records/s' },
    ratio: tAes / tImport,
    target: '>= 100,000 records/s',
  })
  // The floor of any design that pseudonymises, commits and encrypts each record on one
  // core: the three node:crypto calls per record, nothing else (no parsing, no storage).
  const pseudonymKey = randomBytes(32)
  const aad = Buffer.from(`provena.record/v1:${'0'.repeat(64)}:12345`)
  const tFloor = await time(() => {
    for (let i = 0; i < N; i++) {
      const rec = canon[i % canon.length]!
      createHmac('sha256', pseudonymKey).update(`S-${i}`).digest()
      hash('sha256', rec, 'buffer')
      aeadSeal(randomBytesPooled(32), rec, aad)
    }
  }, 2)
  report({
    name: 'import floor on one core: per record the HMAC pseudonym + SHA-256 commitment + AES-256-GCM under a fresh key, nothing else',
    value: N / tFloor,
    unit: 'records/s',
    note: `import reaches ${(tFloor / tImport).toFixed(2)}× of it`,
  })

  progress('export of the same dataset by its controller')
  const noGate = { isAllowed: async () => true, unlockController: () => controller }
  const tExport = await time(async () => {
    await exportDataset(ctx, id, { as: controller, purpose: 'bench', out: join(work, 'out.csv'), ...noGate })
  })
  const tExportOne = await time(async () => {
    await exportDataset(ctx, id, { as: controller, purpose: 'bench', out: join(work, 'out1.csv'), ...noGate, parallelFrom: Infinity })
  })
  report({
    name: `export on one thread (for comparison), ${N} rows`,
    value: N / tExportOne,
    unit: 'records/s',
    baseline: { name: 'AES-256-GCM of the same records alone', value: N / tAes, unit: 'records/s' },
    ratio: tAes / tExportOne,
  })
  // The whole operation, as `dataset export` runs it: unlock, the on-chain check, export, anchor.
  const tExportWhole = await time(async () => {
    const who = unlockIdentity(dir, 'controller', 'bench')
    await exportDataset(ctx, id, {
      as: who,
      purpose: 'dpv:ScientificResearch',
      out: join(work, 'out-whole.csv'),
      isAllowed: (dataset, address, purpose) => isAllowed(chain.client, chain.deployment, dataset, address, purpose),
    })
    await anchorNow(p, chain)
  })
  // The controller's own copy (no purpose): an export for a purpose applies consent, and
  // this data dir records none, so it would write no record at all.
  const cliExport = npxProvena(['dataset', 'export', cliId, '--as', 'controller', '--out', join(work, 'out-cli.csv'), '--dir', cliDir, '--json'], env)
  if (cliExport.json?.records !== N) throw new Error(`the CLI export wrote ${String(cliExport.json?.records)} records, expected ${N}`)
  report({
    name: `export: fetch + decrypt (worker threads) + write CSV, ${N} rows (on-chain check excluded)`,
    value: N / tExport,
    unit: 'records/s',
    baseline: { name: 'AES-256-GCM of the same records alone', value: N / tAes, unit: 'records/s' },
    ratio: tAes / tExport,
    target: '>= 100,000 records/s',
  })

  progress('erasure of 10,000 subjects, then one anchored checkpoint')
  const subjects = Array.from({ length: 10_000 }, (_, i) => `S-${i}`)
  const tErase = await time(() => {
    eraseSubjects(ctx, subjects, controller)
  })
  const tAnchor = await time(() => anchorNow(p, chain))
  report({
    name: 'erasure of 10,000 subjects (keys and salts destroyed, 10,000 log entries, WAL checkpointed)',
    value: tErase,
    unit: 's',
    baseline: { name: 'the one checkpoint anchored after it', value: tAnchor, unit: 's' },
    target: '< 1 s plus one anchored checkpoint',
  })

  progress('import of 64 records of 1 MiB each (JSON Lines)')
  const big = join(work, 'big.jsonl')
  const payload = () => randomBytes(768 * 1024).toString('base64') // ~1 MiB of JSON text
  writeFileSync(big, Array.from({ length: 64 }, (_, i) => JSON.stringify({ subject: `B-${i}`, blob: payload() })).join('\n') + '\n')
  const bigBytes = readFileSync(big).length
  const tBig = await time(async () => {
    await importDataset(ctx, big, { subjectColumn: 'subject', controller })
  })
  const mib = randomBytes(bigBytes / 64)
  const tAesBig = await time(() => {
    for (let i = 0; i < 64; i++) aeadSeal(key, mib)
  }, 2)
  report({
    name: 'import of 1 MiB records (64 of them)',
    value: bigBytes / 2 ** 20 / tBig,
    unit: 'MiB/s',
    baseline: { name: 'raw AES-256-GCM (node:crypto) on 1 MiB buffers', value: bigBytes / 2 ** 20 / tAesBig, unit: 'MiB/s' },
    ratio: tAesBig / tBig,
    target: '>= 0.5 × raw AES-256-GCM',
  })
  // What any design must do with those bytes: hash the file (its content digest), hash each
  // record (its commitment), encrypt it, and write it durably.
  const tFloorBig = await time(() => {
    for (let i = 0; i < 64; i++) {
      hash('sha256', mib, 'buffer')
      hash('sha256', mib, 'buffer')
      aeadSeal(key, mib)
    }
  }, 2)
  const tDisk = await time(() => {
    for (let i = 0; i < 64; i++) {
      const fd = openSync(join(dir, `disk-${i}`), 'w')
      writeSync(fd, mib)
      fsyncSync(fd)
      closeSync(fd)
    }
  })
  report({
    name: 'floors for 1 MiB records: SHA-256 twice + AES-256-GCM (one core), and write + fsync to the data dir\'s disk',
    value: bigBytes / 2 ** 20 / tFloorBig,
    unit: 'MiB/s',
    baseline: { name: 'write + fsync of the same bytes', value: bigBytes / 2 ** 20 / tDisk, unit: 'MiB/s' },
    note: `crypto floor ${(tAesBig / tFloorBig).toFixed(2)}× raw AES-256-GCM`,
  })

  // Consent import and the gate in the library, on this data dir (after the erasure above:
  // 10,000 of the dataset's subjects are erased, and the gate leaves them out).
  progress(`consent import of ${N} changes and the gate (consent check) on the same dataset, in-process`)
  const consentCsv = join(work, 'consents.csv')
  writeFileSync(consentCsv, `subject,purpose,action\n${Array.from({ length: N }, (_, i) => `S-${i},dpv:ScientificResearch,${i % 10 === 9 ? 'refuse' : 'grant'}`).join('\n')}\n`)
  let consentCount = 0
  const tConsentLib = await time(async () => {
    const who = unlockIdentity(dir, 'controller', 'bench')
    const { pseudonymKey } = controllerSecrets(who)
    const changes: ConsentChange[] = Array.from({ length: N }, (_, i) => ({ pseudonym: pseudonymOf(pseudonymKey, `S-${i}`), subjectId: `S-${i}`, purpose: 'dpv:ScientificResearch', state: i % 10 === 9 ? 'refused' : 'given', expires: null, dataset: null }))
    consentCount = applyConsentChanges({ db: p.db, log: p.log, map: p.map }, who.did, changes).count
    await anchorNow(p, chain)
  })
  const cliConsent = npxProvena(['consent', 'import', consentCsv, '--as', 'controller', '--dir', cliDir, '--json'], env)
  if (cliConsent.json!.changes !== consentCount) throw new Error(`CLI applied ${String(cliConsent.json!.changes)} consent changes, library ${consentCount}`)
  const tGateLib = await time(async () => {
    const asset = getAsset(p.db, id)
    const plane = datasetSubjects(p.db, asset.id)!
    await anchorNow(p, chain)
    const cp = (await readLatestCheckpoint(chain.client.publicClient, chain.deployment.CheckpointAnchor))!
    const cctx = { db: p.db, log: p.log, map: p.map, ownPurposes: p.config.purposes }
    const built = buildManifest(cctx, { id: asset.id, root: asset.root, controller: plane.controller, commitments: datasetCommitments(p.db, asset.id), subjects: plane.subjects }, 'dpv:ScientificResearch', Date.now(), {
      ...cp,
      chainId: chain.client.chainId,
      checkpointAnchor: chain.deployment.CheckpointAnchor,
      assetRegistry: chain.deployment.AssetRegistry,
    })
    writeFileSync(join(work, 'manifest-lib.json'), built.bytes)
    recordManifest(cctx, built.manifest, built.hash, p.operatorDid)
    await anchorNow(p, chain)
  })
  const cliGate = npxProvena(['consent', 'check', '--dataset', cliId, '--purpose', 'dpv:ScientificResearch', '--out', join(work, 'manifest-cli.json'), '--dir', cliDir, '--json'], env)

  progress('verify: node bin/provena.js and npx provena on the CLI data dir')
  const cliVerify = npxProvena(['verify', '--dir', cliDir, '--json'], env)
  const entries = Number(cliVerify.json!.entries)
  // `verify` in-process is what bin/provena.js runs without npx: the same command, started with node directly.
  const tVerifyNode = await time(() => {
    const r = spawnSync(process.execPath, [join(repoRoot, 'bin', 'provena.js'), 'verify', '--dir', cliDir, '--json'], { encoding: 'utf8' })
    if (r.status !== 0) throw new Error(`verify failed: ${r.stdout}${r.stderr}`)
  })
  const rate = (n: number, t: number) => n / t
  report({
    name: `dataset import, whole operation: unlock + import + on-chain claim + anchored checkpoint, ${N} rows`,
    value: rate(N, tImportWhole),
    unit: 'records/s',
    cli: { value: rate(N, cliImport.seconds), unit: 'records/s', command: 'npx provena dataset import FILE --subject-column … --as …' },
    baseline: { name: 'the core alone (importDataset, above)', value: rate(N, tImport), unit: 'records/s' },
    ratio: tImport / tImportWhole,
    note: `library ${tImportWhole.toFixed(2)} s, CLI ${cliImport.seconds.toFixed(2)} s (CLI ÷ library ${(tImportWhole / cliImport.seconds).toFixed(2)}×)`,
  })
  report({
    name: `dataset export, whole operation: unlock + on-chain check + export (worker threads) + anchored checkpoint, ${N} rows`,
    value: rate(N, tExportWhole),
    unit: 'records/s',
    cli: { value: rate(N, cliExport.seconds), unit: 'records/s', command: 'npx provena dataset export ID --as … --out F' },
    baseline: { name: 'the core alone (exportDataset, worker threads, above)', value: rate(N, tExport), unit: 'records/s' },
    ratio: tExport / tExportWhole,
    note: `library ${tExportWhole.toFixed(2)} s, CLI ${cliExport.seconds.toFixed(2)} s (CLI ÷ library ${(tExportWhole / cliExport.seconds).toFixed(2)}×)`,
  })
  report({
    name: `consent import, whole operation: unlock + pseudonymise + apply ${N} changes (log, records, map) + anchored checkpoint`,
    value: rate(N, tConsentLib),
    unit: 'changes/s',
    cli: { value: rate(N, cliConsent.seconds), unit: 'changes/s', command: 'npx provena consent import FILE --as …' },
    note: `library ${tConsentLib.toFixed(2)} s (CSV parsing not included), CLI ${cliConsent.seconds.toFixed(2)} s (CLI ÷ library ${(tConsentLib / cliConsent.seconds).toFixed(2)}×)`,
  })
  report({
    name: `consent check (the gate), whole operation: a training manifest of the ${N}-record dataset (state load, checks, consent records, multiproof, RFC 8785 JSON written), logged and anchored`,
    value: rate(N, tGateLib),
    unit: 'records/s',
    cli: { value: rate(N, cliGate.seconds), unit: 'records/s', command: 'npx provena consent check --dataset ID --purpose … --out F' },
    note: `library ${tGateLib.toFixed(2)} s (10,000 subjects erased in that data dir), CLI ${cliGate.seconds.toFixed(2)} s (CLI ÷ library ${(tGateLib / cliGate.seconds).toFixed(2)}×); included ${String(cliGate.json!.included)}`,
  })
  report({
    name: `verify, whole operation: the data dir of the CLI runs above (${entries} log entries, ${String(cliVerify.json!.checkpoints)} checkpoints, ${N} consent records)`,
    value: tVerifyNode,
    unit: 's',
    cli: { value: cliVerify.seconds, unit: 's', command: 'npx provena verify' },
    note: `value = node bin/provena.js verify (a new process without npx); CLI ÷ node ${(cliVerify.seconds / tVerifyNode).toFixed(2)}×`,
  })
} finally {
  await chain.close()
  p.close()
}
