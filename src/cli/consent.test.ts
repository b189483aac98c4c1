import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { createPublicClient, http, type Hex, type PublicClient } from 'viem'
import { verifyOnChain } from '../consent/index.js'
import type { MapProof } from '../log/index.js'
import { repoRoot, runCli } from '../testing.js'

const CSV = join(repoRoot, 'data', 'breast_cancer.csv')
const P = 'dpv:ScientificResearch'
const ids = readFileSync(CSV, 'utf8').trimEnd().split('\n').slice(1).map((l) => l.slice(0, l.indexOf(',')))

describe('consent: bulk import, withdrawal, the training gate, manifests verified from the chain', () => {
  const dir = mkdtempSync(join(tmpdir(), 'provena-consent-cli-'))
  const work = mkdtempSync(join(tmpdir(), 'provena-consent-files-'))
  const env = { PROVENA_PASSPHRASE: 'pw for tests' }
  const cli = (...args: string[]) => runCli([...args, '--dir', dir], env)
  let dataset = ''
  const logSize = async () => (await cli('chain', 'info', '--json')).json<{ logSize: number }>().logSize
  before(async () => {
    assert.equal((await cli('init')).code, 0)
    assert.equal((await cli('node', 'start')).code, 0)
    assert.equal((await cli('identity', 'create', 'st-mary', '--role', 'controller')).code, 0)
    const r = await cli('dataset', 'import', CSV, '--subject-column', 'patient_id', '--as', 'st-mary', '--json')
    assert.equal(r.code, 0, r.stderr)
    dataset = r.json<{ id: string }>().id
  })
  after(async () => void (await cli('node', 'stop')))

  it('a malformed bulk line is named and nothing of the file is applied; a good file applies all', async () => {
    const size = await logSize()
    const bad = join(work, 'bad.csv')
    writeFileSync(bad, `subject,purpose,action\n${ids[0]},${P},grant\n${ids[1]},dpv:Astrology,grant\n`)
    const r = await cli('consent', 'import', bad, '--as', 'st-mary')
    assert.equal(r.code, 1)
    assert.match(r.stderr, /bad\.csv:3: unknown purpose "dpv:Astrology"/)
    assert.equal(await logSize(), size, 'nothing logged')
    const past = await cli('consent', 'grant', '--subject', ids[0]!, '--purpose', P, '--expires', '2020-01-01T00:00:00Z', '--as', 'st-mary')
    assert.match(past.stderr, /not in the future/)
    // 500 give consent (the last 20 with an expiry), 10 refuse, 59 say nothing.
    const lines = ids.slice(0, 480).map((s) => `${s},${P},grant,`)
    lines.push(...ids.slice(480, 500).map((s) => `${s},${P},grant,2099-01-01T00:00:00Z`))
    lines.push(...ids.slice(500, 510).map((s) => `${s},${P},refuse,`))
    const good = join(work, 'consents.csv')
    writeFileSync(good, `subject,purpose,action,expires\n${lines.join('\n')}\n`)
    const ok = await cli('consent', 'import', good, '--as', 'st-mary', '--json')
    assert.equal(ok.code, 0, ok.stderr)
    assert.deepEqual(ok.json<{ changes: number; byState: Record<string, number> }>().byState, { given: 500, refused: 10 })
  })

  it('withdrawal and erasure take effect in the next manifest; verify-manifest checks it from the chain alone', async () => {
    // --as defaults to the data dir's only controller.
    assert.equal((await cli('consent', 'withdraw', '--subject', ids[3]!, '--purpose', P)).code, 0)
    assert.equal((await cli('subject', 'erase', ids[4]!, '--as', 'st-mary')).code, 0)
    const out = join(work, 'manifest.json')
    const r = await cli('consent', 'check', '--dataset', dataset, '--purpose', P, '--out', out, '--json')
    assert.equal(r.code, 0, r.stderr)
    const j = r.json<{ included: number; excluded: Record<string, number>; hash: string }>()
    assert.equal(j.included, 498)
    assert.deepEqual(j.excluded, { withdrawn: 1, erased: 1, refused: 10, 'no-consent': 59 })
    const m = JSON.parse(readFileSync(out, 'utf8')) as { included: { index: number }[]; excluded: { index: number; reason: string }[] }
    assert.equal(m.excluded.find((e) => e.index === 3)?.reason, 'withdrawn')
    assert.equal(m.excluded.find((e) => e.index === 4)?.reason, 'erased')
    assert.equal(m.included.some((e) => e.index === 3 || e.index === 4), false)

    // Verified with no data dir at all: the chain's RPC URL and the trust roots the operator
    // published (chain info), never the manifest's own addresses.
    const info = (await cli('chain', 'info', '--json')).json<{ rpcUrl: string; contracts: { ConsentVerifier: Hex; CheckpointAnchor: Hex; AssetRegistry: Hex } }>()
    const noRoots = await runCli(['consent', 'verify-manifest', out, '--rpc-url', info.rpcUrl, '--dir', join(work, 'no-such-dir')])
    assert.equal(noRoots.code, 2, noRoots.stderr)
    assert.match(noRoots.stderr, /no trust roots/)
    const outsider = await runCli(['consent', 'verify-manifest', out, '--rpc-url', info.rpcUrl, '--anchor', info.contracts.CheckpointAnchor, '--registry', info.contracts.AssetRegistry, '--dir', join(work, 'no-such-dir'), '--json'])
    assert.equal(outsider.code, 0, outsider.stdout + outsider.stderr)
    assert.equal(outsider.json<{ ok: boolean; hash: string }>().hash, j.hash)

    // One byte changed: refused with exit code 3.
    const text = readFileSync(out, 'utf8')
    const edited = join(work, 'edited.json')
    writeFileSync(edited, text.replace('"reason":"withdrawn"', '"reason":"withdrawm"'))
    const e = await cli('consent', 'verify-manifest', edited)
    assert.equal(e.code, 3)
    assert.match(e.stdout, /FAILED: .*record 3 is excluded as withdrawm/)
    // A checkpoint that was never anchored.
    const ghost = join(work, 'ghost.json')
    writeFileSync(ghost, text.replace(/"checkpoint":\{"index":\d+/, '"checkpoint":{"index":999'))
    const g = await cli('consent', 'verify-manifest', ghost)
    assert.equal(g.code, 3)
    assert.match(g.stdout, /checkpoint 999 is not anchored/)

    // The on-chain ConsentVerifier agrees with consent show's proof.
    const show = await cli('consent', 'show', '--subject', ids[3]!, '--as', 'st-mary', '--json')
    const c = show.json<{ consents: { state: string; mapProof: MapProof; proofVerified: boolean; history: unknown[] }[] }>().consents[0]!
    assert.deepEqual([c.state, c.proofVerified, c.history.length], ['withdrawn', true, 2])
    const client = createPublicClient({ transport: http(info.rpcUrl) }) as PublicClient
    assert.equal(await verifyOnChain(client, info.contracts.ConsentVerifier, c.mapProof), true)
    assert.equal(await verifyOnChain(client, info.contracts.ConsentVerifier, { ...c.mapProof, value: null }), false)
  })

  it("the subject's report lists their consents and every logged use of their records, with proofs", async () => {
    const r = await cli('subject', 'report', ids[0]!, '--as', 'st-mary', '--json')
    assert.equal(r.code, 0, r.stderr)
    const j = r.json<{ consents: { state: string }[]; datasets: { records: number[] }[]; manifests: { proof: { verified: boolean } }[]; erasure: unknown }>()
    assert.equal(j.consents[0]!.state, 'valid')
    assert.deepEqual(j.datasets[0]!.records, [0])
    assert.equal(j.manifests.length, 1)
    assert.equal(j.manifests[0]!.proof.verified, true)
    assert.equal(j.erasure, null)
    const erased = (await cli('subject', 'report', ids[4]!, '--as', 'st-mary', '--json')).json<{ erased: boolean; erasure: { proof: { verified: boolean } } }>()
    assert.equal(erased.erased, true)
    assert.equal(erased.erasure.proof.verified, true)
    const unknown = await cli('subject', 'report', 'NOBODY', '--as', 'st-mary')
    assert.equal(unknown.code, 1)
    assert.match(unknown.stderr, /nothing is recorded about subject "NOBODY"/)
  })
})
