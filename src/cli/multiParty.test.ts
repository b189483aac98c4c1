import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { controllerSecrets, pseudonymOf, unlockIdentity } from '../access/index.js'
import { openProvena } from '../app/index.js'
import { ed25519Seed } from '../crypto/index.js'
import { assertOneLine, hospitalAndLab, runCli } from '../testing.js'

const P = 'dpv:ScientificResearch'

// Two organisations, two nodes: a hospital (H: st-mary, the controller; the consortium's
// admin; its embedded chain) and a lab (L: joins with --rpc-url). Separate data dirs,
// separate passphrases, separate processes, one chain. The lab's keys are released by the
// hospital's node only sealed to the lab's pinned X25519 key (issue 12, attacks 1 and 3).
describe('key release between two nodes: grant → request → release → export (issue 12)', () => {
  const work = mkdtempSync(join(tmpdir(), 'provena-multiparty-'))
  const H = join(work, 'hospital')
  const L = join(work, 'lab')
  const file = (name: string) => join(work, name)
  const hospital = (...args: string[]) => runCli([...args, '--dir', H], { PROVENA_PASSPHRASE: 'pw-hospital' })
  const lab = (...args: string[]) => runCli([...args, '--dir', L], { PROVENA_PASSPHRASE: 'pw-lab' })
  const subjects = Array.from({ length: 40 }, (_, i) => `P-${i}`)
  let dataset = ''
  let labDid = ''

  /** The log entries of a node, parsed. */
  const entries = async (node: typeof hospital) => {
    const r = await node('log', 'entries', '--json')
    assert.equal(r.code, 0, r.stderr)
    return r.json<{ entries: { leaf: string }[] }>().entries.map((e) => JSON.parse(Buffer.from(e.leaf, 'base64').toString('utf8')) as Record<string, unknown>)
  }
  const releases = async () => (await entries(hospital)).filter((e) => e.type === 'provena.access.released/v1')
  const ok = (r: Awaited<ReturnType<typeof runCli>>) => assert.equal(r.code, 0, r.stdout + r.stderr)

  before(async () => {
    ;({ dataset, labDid } = await hospitalAndLab(work, subjects, P))
  })
  after(async () => void (await hospital('node', 'stop')))

  it('no grant yet: the release is refused (exit 1), nothing written, the refusal logged on the hospital', async () => {
    ok(await lab('access', 'request', dataset, '--purpose', P, '--out', file('req0.json'), '--as', 'lab'))
    const r = await hospital('access', 'release', file('req0.json'), '--out', file('rel0.json'), '--as', 'st-mary')
    assert.equal(r.code, 1, r.stdout + r.stderr)
    assert.match(r.stderr, /AccessPolicy does not allow lab/)
    assert.equal(existsSync(file('rel0.json')), false)
    assert.deepEqual((await releases()).map((e) => [e.outcome, e.requester]), [['refused: ACCESS_DENIED', labDid]])
  })

  it("granted: the lab decrypts on its own node with its own key; the refusing and the silent subject are not in its CSV", async () => {
    ok(await hospital('access', 'grant', dataset, '--to', labDid, '--purpose', P, '--as', 'st-mary'))
    const req = await lab('access', 'request', dataset, '--purpose', P, '--out', file('req.json'), '--as', 'lab', '--json')
    ok(req)
    const rel = await hospital('access', 'release', file('req.json'), '--out', file('rel.json'), '--segments-out', file('segments'), '--as', 'st-mary', '--json')
    ok(rel)
    assert.deepEqual(rel.json<{ records: number; excluded: Record<string, number> }>().excluded, { refused: 1, 'no-consent': 1 })
    const out = file('lab.csv')
    const exported = await lab('dataset', 'export', '--release', file('rel.json'), '--segments', file('segments'), '--out', out, '--as', 'lab', '--json')
    ok(exported)
    assert.equal(exported.json<{ records: number }>().records, 38)
    const key = controllerSecrets(unlockIdentity(H, 'st-mary', 'pw-hospital')).pseudonymKey
    const rows = readFileSync(out, 'utf8').trim().split('\n')
    assert.equal(rows[0], 'id,age')
    assert.deepEqual(rows.slice(1), subjects.flatMap((s, i) => (s === 'P-3' || s === 'P-4' ? [] : [`${pseudonymOf(key, s)},${30 + i}`])))
    assert.equal(readFileSync(out, 'utf8').includes(pseudonymOf(key, 'P-3')), false, 'the subject who refused the purpose is not in the lab\'s export (attack 3)')
    // Each node logged its own side.
    const labLog = await entries(lab)
    assert.ok(labLog.some((e) => e.type === 'provena.access.requested/v1' && e.actor === labDid && e.dataset === dataset))
    assert.ok(labLog.some((e) => e.type === 'provena.access.export/v1' && e.actor === labDid && e.outcome === 'granted' && e.records === 38))
    assert.equal((await releases()).at(-1)!.outcome, 'released')
    // The same release twice: a replay.
    const again = await lab('dataset', 'export', '--release', file('rel.json'), '--segments', file('segments'), '--out', file('again.csv'), '--as', 'lab')
    assert.equal(again.code, 1)
    assert.match(again.stderr, /replayed nonce/)
  })

  it("the lab's data dir holds none of the hospital's secrets (KEK, pseudonym key, X25519, Ed25519 seed, EVM key, operator keys; hex and base64)", () => {
    const stMary = unlockIdentity(H, 'st-mary', 'pw-hospital')
    const { kek, pseudonymKey } = controllerSecrets(stMary)
    const p = openProvena(H, { passphrase: 'pw-hospital' })
    const secrets: Record<string, Buffer> = {
      kek,
      pseudonymKey,
      x25519: stMary.x25519PrivateKey,
      ed25519Seed: ed25519Seed(stMary.signing.privateKey),
      evm: Buffer.from(stMary.evmPrivateKey.slice(2), 'hex'),
      operatorSeed: ed25519Seed(p.signer.privateKey),
      operatorEvm: Buffer.from(p.evmPrivateKey.slice(2), 'hex'),
    }
    p.close()
    /** Every (file, secret) where a file under `root` holds the secret raw, in hex (either case), base64 or base64url. */
    const findSecrets = (root: string) => {
      const files: string[] = []
      const walk = (d: string) => {
        for (const n of readdirSync(d)) {
          const path = join(d, n)
          if (statSync(path).isDirectory()) walk(path)
          else files.push(path)
        }
      }
      walk(root)
      const hits: string[] = []
      for (const path of files) {
        const bytes = readFileSync(path)
        for (const [name, secret] of Object.entries(secrets)) {
          const forms = [secret, Buffer.from(secret.toString('hex')), Buffer.from(secret.toString('hex').toUpperCase()), Buffer.from(secret.toString('base64')), Buffer.from(secret.toString('base64url'))]
          if (forms.some((f) => bytes.indexOf(f) >= 0)) hits.push(`${path}: ${name}`)
        }
      }
      return { files, hits }
    }
    const { files, hits } = findSecrets(L)
    assert.ok(files.some((f) => f.endsWith('provena.db')) && files.some((f) => f.endsWith('keystore.json')))
    assert.deepEqual(hits, [], "the lab's data dir holds the hospital's secrets")
    // The scan finds what it looks for: a control directory with the KEK in base64 in some text.
    const control = mkdtempSync(join(work, 'control-'))
    writeFileSync(join(control, 'notes.txt'), `kek=${kek.toString('base64')}\n`)
    assert.deepEqual(findSecrets(control).hits, [`${join(control, 'notes.txt')}: kek`])
  })

  it('refused and logged on the hospital, nothing released: a replayed request file, an expired one, a revoked grant, a wrong recipient', async () => {
    const refused = async (request: string, code: string) => {
      const before = (await releases()).length
      const out = file(`rel-${code}.json`)
      const r = await hospital('access', 'release', request, '--out', out, '--as', 'st-mary')
      assert.equal(r.code, 1, `${code}: ${r.stdout}${r.stderr}`)
      assert.equal(existsSync(out), false)
      const logged = await releases()
      assert.equal(logged.length, before + 1, `${code}: one log entry`)
      assert.deepEqual([logged.at(-1)!.outcome, logged.at(-1)!.records, logged.at(-1)!.release], [`refused: ${code}`, 0, null])
      return r
    }
    assert.match((await refused(file('req.json'), 'MESSAGE_REPLAYED')).stderr, /replayed nonce/)
    ok(await lab('access', 'request', dataset, '--purpose', P, '--out', file('req-short.json'), '--as', 'lab', '--ttl', '1'))
    await new Promise((r) => setTimeout(r, 1500))
    assert.match((await refused(file('req-short.json'), 'MESSAGE_EXPIRED')).stderr, /expired/)
    ok(await lab('access', 'request', dataset, '--purpose', P, '--out', file('req-self.json'), '--as', 'lab', '--to', labDid))
    assert.match((await refused(file('req-self.json'), 'MESSAGE_WRONG_RECIPIENT')).stderr, /wrong recipient/)
    ok(await hospital('access', 'revoke', dataset, '--to', labDid, '--as', 'st-mary'))
    ok(await lab('access', 'request', dataset, '--purpose', P, '--out', file('req-revoked.json'), '--as', 'lab'))
    assert.match((await refused(file('req-revoked.json'), 'ACCESS_DENIED')).stderr, /AccessPolicy does not allow lab/)
  })

  it('usage: export needs a dataset or --release, and --release needs --segments (exit 2); a file that is not a message is named (exit 1)', async () => {
    assertOneLine(await lab('dataset', 'export', '--out', file('u.csv'), '--as', 'lab'), 2, /name the dataset to export, or give --release FILE/)
    assertOneLine(await lab('dataset', 'export', '--release', file('rel.json'), '--out', file('u.csv'), '--as', 'lab'), 2, /--release needs --segments DIR/)
    writeFileSync(file('not-a-message.json'), '{"payloadType": "x"}')
    assertOneLine(await hospital('access', 'release', file('not-a-message.json'), '--out', file('u.json'), '--as', 'st-mary'), 1, /not-a-message\.json: field "payload" is missing/)
    writeFileSync(file('taken.json'), '{}')
    assertOneLine(await lab('access', 'request', dataset, '--purpose', P, '--out', file('taken.json'), '--as', 'lab'), 1, /taken\.json exists already/)
  })
})
