// Consent at scale (issue 5): 1,000,000 consent changes applied to the map and anchored,
// against the naive design (one transaction per consent) on the same embedded chain; the
// training gate's record checks; map proof size, off-chain verification rate, on-chain gas.
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Hex } from 'viem'
import { anchorNow, initDataDir, openChain, openProvena } from '../app/index.js'
import { median, progress, report, time } from '../bench/harness.js'
import { mapProofRate } from '../bench/mapProofRate.js'
import { repoRoot } from '../testing.js'
import { ConsentVerifierAbi, deployContract, PerEntryLogAbi, readLatestCheckpoint } from '../chain/index.js'
import { CompactRange, encodeMapProof, verifyMapProof, type MapProof } from '../log/index.js'
import { applyConsentChanges, buildManifest, checkRecords, toSolidityMapProof, type ConsentChange, type ConsentContext } from './index.js'

const N = Number(process.env.CONSENT_BENCH_N ?? 1_000_000)
const P = 'dpv:ScientificResearch'
const dir = mkdtempSync(join(tmpdir(), 'provena-bench-consent-'))
initDataDir(dir, 'bench')
const p = openProvena(dir, { passphrase: 'bench' })
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
  // The check on every record of a dataset as large as the map, timed twice: the whole call
  // (loading the purpose's consent state from SQLite, then one lookup a record: what a
  // user's gate does), and the lookups alone. Median of 3 each. The whole manifest (with a
  // consent record and a proof path per subject, ~1.3 KB a record) on its first 100,000:
  // a 1M-record manifest (~1.3 GB of JSON) exceeds what one V8 string can hold.
  let included = 0
  const loadRuns: number[] = []
  const checkRuns: number[] = []
  const whole = await median(() => {
    const c = checkRecords(ctx, pseudonyms, 'b'.repeat(64), P, Date.now())
    loadRuns.push(c.loadSeconds)
    checkRuns.push(c.checkSeconds)
    included = c.verdict.filter((v) => v === null).length
  }, 3)
  const mid = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!
  const checkSeconds = mid(checkRuns)
  const loadSeconds = mid(loadRuns)
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
    name: `gate: record checks of a ${N.toLocaleString('en-US')}-record dataset against a ${N.toLocaleString('en-US')}-key consent map, loading the consent state included`,
    value: N / whole.median,
    unit: 'checks/s',
    baseline: { name: 'the lookups alone, after the load (the figure reported before)', value: N / checkSeconds, unit: 'checks/s' },
    ratio: checkSeconds / whole.median,
    target: '>= 1,000,000 record checks/s',
    note: `median of 3: load ${loadSeconds.toFixed(2)} s + lookups ${checkSeconds.toFixed(2)} s (whole call ${whole.median.toFixed(2)} s); ${included.toLocaleString('en-US')} of ${N.toLocaleString('en-US')} included`,
  })
  report({
    name: `gate: a whole training manifest of ${M.toLocaleString('en-US')} records (state load, checks, consent records, multiproof, RFC 8785 JSON)`,
    value: M / tManifest,
    unit: 'records/s',
    note: `${(manifestBytes / 2 ** 20).toFixed(0)} MiB, built in ${tManifest.toFixed(1)} s`,
  })

  progress('map proofs at 1M keys: size, off-chain verification, on-chain gas')
  const root = p.map.root()
  const proofs: MapProof[] = []
  for (let i = 0; i < 1000; i++) proofs.push(p.map.prove(Buffer.from(createHash('sha256').update(Buffer.concat([Buffer.from(pseudonyms[(i * 7919) % N]!, 'hex'), Buffer.from(P)])).digest())))
  const absent = p.map.prove(createHash('sha256').update('nobody').digest())
  const bytesOf = (q: MapProof) => encodeMapProof(q).length
  const meanBytes = proofs.reduce((a, q) => a + bytesOf(q), 0) / proofs.length
  const meanSiblings = proofs.reduce((a, q) => a + q.siblings.length, 0) / proofs.length
  // SHA-256 calls a proof needs: one a level (listed or EMPTY sibling) and the leaf.
  const hashesPerProof = proofs.reduce((a, q) => a + q.bitmap.length, 0) / proofs.length + 1
  // Verification rates: rounds of 20 × the 1,000 proofs, each followed by a round of the
  // same number of one-shot SHA-256 calls (the baseline); the medians. No forced collection:
  // in this process the 1M-key map and the ingest's garbage stay on the heap, as they would
  // in a node that serves proofs; a verifier holds no map, so the same is measured in a
  // fresh process too (dist/bench/mapProofRate.js).
  const R = 20
  const ROUNDS = 7
  const binaries = proofs.map(encodeMapProof)
  const inProcess = mapProofRate(root, binaries, hashesPerProof, R, ROUNDS)
  const proofFile = join(dir, 'map-proofs.json')
  writeFileSync(proofFile, JSON.stringify({ root: root.toString('hex'), proofs: binaries.map((b) => b.toString('hex')), hashesPerProof, repeat: R, rounds: ROUNDS }))
  const fresh = spawnSync(process.execPath, [join(repoRoot, 'dist', 'bench', 'mapProofRate.js'), proofFile], { encoding: 'utf8' })
  if (fresh.status !== 0) throw new Error(`mapProofRate.js failed: ${fresh.stderr}`)
  const freshRate = JSON.parse(fresh.stdout) as ReturnType<typeof mapProofRate>
  let ok = 0
  const jsonRuns = await median(() => {
    for (let r = 0; r < R; r++) for (const q of proofs) ok += verifyMapProof(root, q) ? 1 : 0
  }, ROUNDS)
  if (ok !== ROUNDS * R * proofs.length) throw new Error('a proof failed to verify')
  report({
    name: `map proof at ${N.toLocaleString('en-US')} keys: size (binary: key, value, bitmap, non-empty siblings)`,
    value: meanBytes,
    unit: 'bytes',
    note: `${meanSiblings.toFixed(1)} siblings on average; JSON ${JSON.stringify(proofs[0]).length} bytes; absent key ${bytesOf(absent)} bytes`,
  })
  const spread = (xs: number[]) => `${Math.round(Math.min(...xs)).toLocaleString('en-US')}–${Math.round(Math.max(...xs)).toLocaleString('en-US')}`
  report({
    name: 'map proof off-chain verification, binary proofs, one core, in a fresh verifier process',
    value: freshRate.proofsPerSecond,
    unit: 'proofs/s',
    baseline: { name: `the SHA-256 calls alone (${hashesPerProof.toFixed(1)} a proof: a level each and the leaf, one-shot crypto.hash on 65 bytes), same process`, value: freshRate.hashBaselinePerSecond, unit: 'proofs/s' },
    ratio: freshRate.proofsPerSecond / freshRate.hashBaselinePerSecond,
    target: '>= 100,000 proofs/s',
    note: `median of ${ROUNDS} rounds of ${R * proofs.length} proofs (rounds ${spread(freshRate.rounds)}); hashing rounds ${spread(freshRate.hashRounds)}`,
  })
  report({
    name: `map proof off-chain verification, binary proofs, one core, in the bench process (the ${N.toLocaleString('en-US')}-key map on the heap)`,
    value: inProcess.proofsPerSecond,
    unit: 'proofs/s',
    baseline: { name: `the SHA-256 calls alone (${hashesPerProof.toFixed(1)} a proof: a level each and the leaf, one-shot crypto.hash on 65 bytes)`, value: inProcess.hashBaselinePerSecond, unit: 'proofs/s' },
    ratio: inProcess.proofsPerSecond / inProcess.hashBaselinePerSecond,
    target: '>= 100,000 proofs/s',
    note: `median of ${ROUNDS} rounds (rounds ${spread(inProcess.rounds)}); no forced collection; the binary form of encodeMapProof (${meanBytes.toFixed(0)} bytes on average)`,
  })
  report({
    name: 'map proof off-chain verification, JSON proofs with hex, one core, in the bench process',
    value: (R * proofs.length) / jsonRuns.median,
    unit: 'proofs/s',
    baseline: { name: 'the SHA-256 calls alone (in-process, above)', value: inProcess.hashBaselinePerSecond, unit: 'proofs/s' },
    ratio: (R * proofs.length) / jsonRuns.median / inProcess.hashBaselinePerSecond,
    note: `median of ${ROUNDS} rounds`,
  })
  const gas = await chain.client.publicClient.estimateContractGas({ address: chain.deployment.ConsentVerifier, abi: ConsentVerifierAbi, functionName: 'verifyPresent', args: [`0x${proofs[0]!.key}`, `0x${proofs[0]!.value}`, toSolidityMapProof(proofs[0]!)], account: chain.client.account })
  report({ name: `gas of one on-chain verification (ConsentVerifier.verifyPresent, ${proofs[0]!.siblings.length} siblings, as a transaction)`, value: Number(gas), unit: 'gas', note: 'includes the 21,000 base cost and reading the anchored root' })
} finally {
  await chain.close()
  p.close()
}
