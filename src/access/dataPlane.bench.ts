// The encrypted data plane (issue 4): import (canonicalise + commit + encrypt + store +
// register) and export of breast-cancer-shaped rows against raw AES-256-GCM over the same
// bytes; import of 1 MiB records against AES-256-GCM's speed; erasure of 10,000 subjects.
import { createHmac, hash, randomBytes } from 'node:crypto'
import { closeSync, fsyncSync, mkdtempSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { anchorNow, initDataDir, openChain, openProvena } from '../app/index.js'
import { progress, report, time } from '../bench/harness.js'
import { aeadSeal, randomBytesPooled } from '../crypto/index.js'
import { FsBlobStore } from '../store/index.js'
import { repoRoot } from '../testing.js'
import { createIdentity, eraseSubjects, exportDataset, importDataset, unlockIdentity, type DataPlaneContext } from './index.js'

const dir = mkdtempSync(join(tmpdir(), 'provena-bench-plane-'))
initDataDir(dir)
createIdentity(dir, 'controller', 'controller', 'bench')
const controller = unlockIdentity(dir, 'controller', 'bench')
const p = openProvena(dir)
const chain = await openChain(p)
const ctx: DataPlaneContext = { db: p.db, log: p.log, signer: p.signer, operatorDid: p.operatorDid, outbox: chain.outbox, store: new FsBlobStore(join(dir, 'blobs')) }
const work = mkdtempSync(join(tmpdir(), 'provena-bench-plane-files-'))

try {
  const N = 100_000
  progress(`import of ${N} breast-cancer-shaped rows`)
  const [header, ...rows] = readFileSync(join(repoRoot, 'data', 'breast_cancer.csv'), 'utf8').trimEnd().split('\n')
  const csv = join(work, 'rows.csv')
  writeFileSync(csv, `${header}\n${Array.from({ length: N }, (_, i) => `S-${i}${rows[i % rows.length]!.slice(rows[i % rows.length]!.indexOf(','))}`).join('\n')}\n`)
  let id = ''
  const tImport = await time(async () => {
    id = (await importDataset(ctx, csv, { subjectColumn: 'patient_id', controller })).id
  })
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
} finally {
  await chain.close()
  p.close()
}
