// `provena verify` on a 1,000,000-entry log with 10 anchored checkpoints, run as a user
// runs it (a new process that starts the embedded node), against hashing the same leaves.
import { randomBytes } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { anchorNow, initDataDir, openChain, openProvena } from '../app/index.js'
import { progress, report, time } from '../bench/harness.js'
import { hashLeaf } from '../log/index.js'
import { runCli } from '../testing.js'

const N = 1_000_000
const dir = mkdtempSync(join(tmpdir(), 'provena-bench-verify-'))
initDataDir(dir)
const p = openProvena(dir)
const chain = await openChain(p)
progress(`building a ${N}-entry log, anchoring every 100,000 entries`)
const leaves: Buffer[] = []
for (let i = 0; i < N; i += 10_000) {
  const batch = Array.from({ length: 10_000 }, (_, k) => Buffer.from(`{"type":"provena.bench/v1","index":${i + k},"payload":"${randomBytes(96).toString('base64')}"}`))
  leaves.push(...batch)
  p.log.append(batch)
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
  name: 'provena verify, 1,000,000 entries, 10 anchored checkpoints',
  value: tVerify,
  unit: 's',
  baseline: { name: 'SHA-256 of the 1,000,000 leaves alone, in-process', value: tHash, unit: 's' },
  ratio: tVerify / tHash,
  target: '< 30 s',
  note: `report: ${JSON.stringify({ entries: out.entries, checkpoints: out.checkpoints, anchoredSize: out.anchoredSize, ok: out.ok })}; ratio = verify time ÷ hashing time`,
})
