// Consent at scale (issue 5): 1,000,000 consent changes applied to the map and anchored,
// against the naive design (one transaction per consent) on the same embedded chain; the
// training gate's record checks; map proof size, off-chain verification rate, on-chain gas.
import { createHash, hash } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Hex } from 'viem'
import { anchorNow, initDataDir, openChain, openProvena } from '../app/index.js'
import { progress, report, time } from '../bench/harness.js'
import { ConsentVerifierAbi, deployContract, PerEntryLogAbi, readLatestCheckpoint } from '../chain/index.js'
import { CompactRange, encodeMapProof, verifyMapProof, verifyMapProofBytes, type MapProof } from '../log/index.js'
import { applyConsentChanges, buildManifest, checkRecords, toSolidityMapProof, type ConsentChange, type ConsentContext } from './index.js'

const N = Number(process.env.CONSENT_BENCH_N ?? 1_000_000)
const P = 'dpv:ScientificResearch'
const dir = mkdtempSync(join(tmpdir(), 'provena-bench-consent-'))
initDataDir(dir)
const p = openProvena(dir)
const chain = await openChain(p)
const ctx: ConsentContext = { db: p.db, log: p.log, map: p.map }
const pseudonym = (i: number) => createHash('sha256').update(`subject ${i}`).digest('hex')
const CONTROLLER = 'did:key:z6MkBenchController'

try {
  progress(`bulk ingest: ${N.toLocaleString('en-US')} consent changes, then one anchored checkpoint`)
  const pseudonyms = Array.from({ length: N }, (_, i) => pseudonym(i))
  const changes: ConsentChange[] = pseudonyms.map((s, i) => ({ pseudonym: s, purpose: P, state: i % 10 === 9 ? 'refused' : 'given', expires: i % 7 === 0 && i % 10 !== 9 ? '2099-01-01T00:00:00Z' : null }))
  let applied = 0
  const tApply = await time(() => {
    applied = applyConsentChanges(ctx, CONTROLLER, changes).count
  })
  changes.length = 0
  const tAnchor = await time(() => anchorNow(p, chain))
  const ingest = tApply + tAnchor

  progress('naive design: one transaction per consent (PerEntryLog.append of the record hash), 300 consents')
  const naive = (await deployContract(chain.client, 'PerEntryLog', [])).address
  const K = 300
  let nonce = await chain.client.publicClient.getTransactionCount({ address: chain.client.account.address, blockTag: 'pending' })
  const tNaive = await time(async () => {
    const hashes: Hex[] = []
    for (let i = 0; i < K; i++) {
      hashes.push(
        await chain.client.walletClient.writeContract({ address: naive, abi: PerEntryLogAbi, functionName: 'append', args: [`0x${pseudonyms[i]!}`], account: chain.client.account, chain: chain.client.chain, nonce: nonce++, gas: 120_000n }),
      )
    }
    for (const hash of hashes) await chain.client.publicClient.waitForTransactionReceipt({ hash })
  })
  report({
    name: `bulk ingest: ${N.toLocaleString('en-US')} consent changes applied (log + records + map) and anchored`,
    value: ingest,
    unit: 's',
    baseline: { name: 'one transaction per consent on the same embedded chain', value: K / tNaive, unit: 'consents/s' },
    ratio: applied / ingest / (K / tNaive),
    target: '<= 60 s; ratio = batched rate / naive rate',
    note: `apply ${tApply.toFixed(1)} s + anchor ${tAnchor.toFixed(2)} s = ${Math.round(applied / ingest).toLocaleString('en-US')} consents/s; naive would take ${(N / (K / tNaive) / 3600).toFixed(1)} h`,
  })

  progress('training gate: a dataset of one record per subject, checked against the map')
  // The check on every record of a dataset as large as the map; the whole manifest (with a
  // consent record and a proof path per subject, ~1.2 KB a record) on its first 100,000:
  // a 1M-record manifest (~1.2 GB of JSON) exceeds what one V8 string can hold.
  const checkRuns: number[] = []
  let included = 0
  for (let r = 0; r < 3; r++) {
    const c = checkRecords(ctx, pseudonyms, 'b'.repeat(64), P, Date.now())
    checkRuns.push(c.checkSeconds)
    included = c.verdict.filter((v) => v === null).length
  }
  const checkSeconds = Math.min(...checkRuns)
  const M = Math.min(N, 100_000)
  const commitments = Buffer.alloc(32 * M)
  const range = new CompactRange()
  for (let i = 0; i < M; i++) {
    const c = createHash('sha256').update(`record ${i}`).digest()
    c.copy(commitments, 32 * i)
    range.appendLeafHash(c)
  }
  const cp = (await readLatestCheckpoint(chain.client.publicClient, chain.deployment.CheckpointAnchor))!
  const anchored = { ...cp, chainId: chain.client.chainId, checkpointAnchor: chain.deployment.CheckpointAnchor, assetRegistry: chain.deployment.AssetRegistry }
  const ds = { id: 'b'.repeat(64), root: range.root().toString('hex'), controller: CONTROLLER, commitments, subjects: pseudonyms.slice(0, M) }
  let manifestBytes = 0
  const tManifest = await time(() => {
    manifestBytes = buildManifest(ctx, ds, P, Date.now(), anchored).bytes.length
  })
  report({
    name: `gate: record checks of a ${N.toLocaleString('en-US')}-record dataset against a ${N.toLocaleString('en-US')}-key consent map`,
    value: N / checkSeconds,
    unit: 'checks/s',
    baseline: { name: `a whole manifest of ${M.toLocaleString('en-US')} records (state load, checks, multiproof, canonical JSON)`, value: M / tManifest, unit: 'records/s' },
    target: '>= 1,000,000 record checks/s',
    note: `${included.toLocaleString('en-US')} of ${N.toLocaleString('en-US')} included (best of 3); the ${M.toLocaleString('en-US')}-record manifest is ${(manifestBytes / 2 ** 20).toFixed(0)} MiB, built in ${tManifest.toFixed(1)} s`,
  })

  progress('map proofs at 1M keys: size, off-chain verification, on-chain gas')
  const root = p.map.root()
  const proofs: MapProof[] = []
  for (let i = 0; i < 1000; i++) proofs.push(p.map.prove(Buffer.from(createHash('sha256').update(Buffer.concat([Buffer.from(pseudonyms[(i * 7919) % N]!, 'hex'), Buffer.from(P)])).digest())))
  const absent = p.map.prove(createHash('sha256').update('nobody').digest())
  const bytesOf = (q: MapProof) => encodeMapProof(q).length
  const meanBytes = proofs.reduce((a, q) => a + bytesOf(q), 0) / proofs.length
  const meanSiblings = proofs.reduce((a, q) => a + q.siblings.length, 0) / proofs.length
  const R = 100
  let ok = 0
  // Collect the ingest's garbage first, so that its collection is not timed here.
  ;(globalThis as { gc?: () => void }).gc?.()
  const tVerify = await time(() => {
    for (let r = 0; r < R; r++) for (const q of proofs) ok += verifyMapProof(root, q) ? 1 : 0
  })
  if (ok !== R * proofs.length) throw new Error('a proof failed to verify')
  // Baseline: the SHA-256 calls a proof needs (one a level plus the leaf), one-shot on 65 bytes.
  const block = Buffer.alloc(65, 1)
  const tHash = await time(() => {
    for (let i = 0; i < R * proofs.length * (meanSiblings + 1); i++) hash('sha256', block, 'binary')
  })
  report({
    name: `map proof at ${N.toLocaleString('en-US')} keys: size (binary: key, value, bitmap, non-empty siblings)`,
    value: meanBytes,
    unit: 'bytes',
    note: `${meanSiblings.toFixed(1)} siblings on average; JSON ${JSON.stringify(proofs[0]).length} bytes; absent key ${bytesOf(absent)} bytes`,
  })
  const binaries = proofs.map(encodeMapProof)
  let okBin = 0
  const tVerifyBin = await time(() => {
    for (let r = 0; r < R; r++) for (const q of binaries) okBin += verifyMapProofBytes(root, q) ? 1 : 0
  })
  if (okBin !== R * proofs.length) throw new Error('a binary proof failed to verify')
  report({
    name: 'map proof off-chain verification, binary proofs (one core)',
    value: (R * proofs.length) / tVerifyBin,
    unit: 'proofs/s',
    baseline: { name: `the SHA-256 calls alone (${(meanSiblings + 1).toFixed(1)} a proof, crypto.hash on 65 bytes)`, value: (R * proofs.length) / tHash, unit: 'proofs/s' },
    ratio: tHash / tVerifyBin,
    target: '>= 100,000 proofs/s',
    note: `the binary form of encodeMapProof (${meanBytes.toFixed(0)} bytes on average)`,
  })
  report({
    name: 'map proof off-chain verification, JSON proofs with hex (one core)',
    value: (R * proofs.length) / tVerify,
    unit: 'proofs/s',
    baseline: { name: `the SHA-256 calls alone (${(meanSiblings + 1).toFixed(1)} a proof, crypto.hash on 65 bytes)`, value: (R * proofs.length) / tHash, unit: 'proofs/s' },
    ratio: tHash / tVerify,
    target: '>= 100,000 proofs/s',
  })
  const gas = await chain.client.publicClient.estimateContractGas({ address: chain.deployment.ConsentVerifier, abi: ConsentVerifierAbi, functionName: 'verifyPresent', args: [`0x${proofs[0]!.key}`, `0x${proofs[0]!.value}`, toSolidityMapProof(proofs[0]!)], account: chain.client.account })
  report({ name: `gas of one on-chain verification (ConsentVerifier.verifyPresent, ${proofs[0]!.siblings.length} siblings, as a transaction)`, value: Number(gas), unit: 'gas', note: 'includes the 21,000 base cost and reading the anchored root' })
} finally {
  await chain.close()
  p.close()
}
