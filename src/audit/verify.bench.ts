// `provena verify` on a 1,000,000-entry log with 10 anchored checkpoints and 100,000 consent
// keys, run as a user runs it (a new process that starts the embedded node), against hashing
// the same leaves. The consent records make the verifier replay the consent map at each of
// the 10 checkpoints: 100,000 keys granted before the first, 1,000 of them changed before
// each of the others.
import { randomBytes } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { anchorNow, initDataDir, openChain, openProvena } from '../app/index.js'
import { progress, report, time } from '../bench/harness.js'
import { CONSENT_RECORD_TYPE, consentKey } from '../consent/index.js'
import { sha256 } from '../crypto/index.js'
import { hashLeaf, type MapChange } from '../log/index.js'
import { runCli } from '../testing.js'

const N = 1_000_000
const KEYS = 100_000
const CHANGED_PER_CHECKPOINT = 1_000
const PURPOSE = 'dpv:ResearchAndDevelopment'
const dir = mkdtempSync(join(tmpdir(), 'provena-bench-verify-'))
initDataDir(dir, 'bench')
const p = openProvena(dir, { passphrase: 'bench' })
const chain = await openChain(p)
progress(`building a ${N}-entry log with ${KEYS} consent keys, anchoring every 100,000 entries`)
const subjects = Array.from({ length: KEYS }, (_, i) => sha256(Buffer.from(`subject ${i}`)).toString('hex'))
/** A consent record as the verifier reads it (type, subject, purpose id), version `v`. */
const consentLeaf = (s: number, v: number) =>
  Buffer.from(`{"purpose":{"id":"${PURPOSE}"},"state":"given","subject":"${subjects[s]}","type":"${CONSENT_RECORD_TYPE}","version":${v}}`)
const leaves: Buffer[] = []
let consentRecords = 0
for (let i = 0; i < N; i += 10_000) {
  const checkpoint = Math.floor(i / 100_000)
  const batch: Buffer[] = []
  const changes: MapChange[] = []
  const addConsent = (s: number, v: number) => {
    const leaf = consentLeaf(s, v)
    batch.push(leaf)
    changes.push({ key: consentKey(subjects[s]!, PURPOSE), value: sha256(leaf) })
  }
  // Checkpoint 0: every key granted; each later checkpoint: 1,000 keys changed.
  if (checkpoint === 0) for (let s = i; s < i + 10_000 && s < KEYS; s++) addConsent(s, 0)
  else if (i % 100_000 === 0) for (let k = 0; k < CHANGED_PER_CHECKPOINT; k++) addConsent((checkpoint * 7_919 + k * 97) % KEYS, checkpoint)
  while (batch.length < 10_000) batch.push(Buffer.from(`{"type":"provena.bench/v1","index":${i + batch.length},"payload":"${randomBytes(96).toString('base64')}"}`))
  consentRecords += changes.length
  leaves.push(...batch)
  p.db.transaction(() => {
    p.log.append(batch)
    p.map.apply(changes)
  })()
  if ((i + 10_000) % 100_000 === 0) await anchorNow(p, chain)
}
await chain.close()
p.close()

progress('provena verify (new process, embedded node started on demand)')
let out: Record<string, unknown> = {}
const tVerify = await time(async () => {
  const r = await runCli(['verify', '--json', '--dir', dir])
  out = r.json()
  if (r.code !== 0) throw new Error(`verify failed: ${r.stdout}`)
})
const tHash = await time(() => {
  for (const l of leaves) hashLeaf(l)
})
report({
  name: `provena verify, 1,000,000 entries, 10 anchored checkpoints, ${KEYS.toLocaleString('en-US')} consent keys (${consentRecords.toLocaleString('en-US')} records)`,
  value: tVerify,
  unit: 's',
  baseline: { name: 'SHA-256 of the 1,000,000 leaves alone, in-process', value: tHash, unit: 's' },
  ratio: tVerify / tHash,
  target: '< 30 s',
  note: `report: ${JSON.stringify({ entries: out.entries, checkpoints: out.checkpoints, anchoredSize: out.anchoredSize, consentChanges: out.consentChanges, ok: out.ok })}; ratio = verify time ÷ hashing time`,
})
