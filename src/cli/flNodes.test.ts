import assert from 'node:assert/strict'
import { cpSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { controllerSecrets, unlockIdentity } from '../access/index.js'
import { openProvena } from '../app/index.js'
import { canonicalJsonBytes, ed25519Seed, sha256Hex } from '../crypto/index.js'
import { DEFAULT_SPECS, modelShape, toSafetensors } from '../fl/index.js'
import { readMessageFile, signMessage, writeMessageFile } from '../node/index.js'
import { FL_PASSPHRASES, flNodePaths, type CliRun, setUpFlNodes } from '../testing.js'

const P = 'dpv:ScientificResearch'
const STRANGER_ANCHOR = '0x5742a1b4b1c9a3f0d2e6c8b7a9f1e3d5c7b9a1e3'

// Federated learning across three organisations (issue 12): the coordinator's node (the
// consortium's admin, its embedded chain) and two hospitals' nodes (joined with --rpc-url),
// separate data dirs, passphrases and processes, one chain. They hand each other files
// through an exchange directory only: the signed task, the global models, the sealed
// updates and the training manifests.
describe('federated learning across nodes: a coordinator and two hospitals through an exchange directory (issue 12)', () => {
  const work = mkdtempSync(join(tmpdir(), 'provena-flnodes-'))
  const { C, H, coordinator, hospital } = flNodePaths(work)
  const PW = FL_PASSPHRASES
  const X = join(work, 'exchange')
  const file = (name: string) => join(work, name)
  const mary = hospital('st-mary')
  const luke = hospital('st-luke')
  const ok = (r: CliRun) => {
    assert.equal(r.code, 0, r.stdout + r.stderr)
    return r
  }
  const dataset = { 'st-mary': '', 'st-luke': '' }
  const address = { 'st-mary': '', 'st-luke': '' }
  let task = 0

  // A coordinator and two hospitals, 120 patients each, every one consenting to research.
  before(async () => {
    const nodes = await setUpFlNodes(work, { rows: 120, purpose: P })
    Object.assign(dataset, nodes.dataset)
    Object.assign(address, nodes.address)
  })
  after(async () => void (await coordinator('node', 'stop')))

  type Round = { round: number; done: boolean; accepted: { client: string; name: string | null }[]; rejected: { client: string; reasonName: string; detail: string }[]; aggregateDigest: string; model?: { id: string } }

  it("round 1: each hospital trains on its own node; a sealed update altered in the exchange is rejected (digestMismatch); the next global model is published", async () => {
    const created = ok(await coordinator('fl', 'task', 'create', '--model-spec', 'logistic', '--features', '30', '--purpose', P, '--participants', 'st-mary,st-luke', '--rounds', '2', '--max-update-norm', '1000', '--as', 'coordinator', '--exchange', X, '--json'))
    task = created.json<{ task: number }>().task
    for (const name of ['st-mary', 'st-luke'] as const) {
      const r = ok(await hospital(name)('fl', 'client', 'run', '--task', String(task), '--dataset', dataset[name], '--as', name, '--exchange', X, '--json'))
      assert.equal(r.json<{ manifest: { included: number } }>().manifest.included, 120)
    }
    // Someone on the way alters st-luke's sealed update.
    const sealed = join(X, `task-${task}`, 'round-1', `${address['st-luke']}.sealed`)
    const bytes = readFileSync(sealed)
    bytes[bytes.length - 1]! ^= 1
    writeFileSync(sealed, bytes)
    const r = ok(await coordinator('fl', 'aggregate', '--task', String(task), '--as', 'coordinator', '--exchange', X, '--json')).json<Round>()
    assert.deepEqual(r.accepted.map((a) => [a.client.toLowerCase(), a.name]), [[address['st-mary'], 'st-mary']])
    assert.deepEqual(r.rejected.map((x) => [x.client.toLowerCase(), x.reasonName]), [[address['st-luke'], 'digestMismatch']])
    assert.match(r.rejected[0]!.detail, /sealed update delivered hashes to/)
    assert.equal(sha256Hex(readFileSync(join(X, `task-${task}`, 'round-2', 'global.safetensors'))), r.aggregateDigest)
  })

  it("a task message not signed by the task's aggregator, or altered, is refused by the client; a global model not the on-chain aggregate too", async () => {
    const path = (root: string) => join(root, `task-${task}`, `task-${address['st-mary']}.json`)
    const genuine = JSON.parse(Buffer.from(readMessageFile(path(X)).payload, 'base64').toString('utf8')) as Record<string, unknown>
    const { _type, from: _f, to, purpose, issuedAt: _i, expiresAt: _e, nonce: _n, ...body } = genuine
    // st-luke, a member of the consortium but not the aggregator, signs the same task.
    const forged = join(work, 'exchange-forged')
    cpSync(X, forged, { recursive: true })
    const lukeId = unlockIdentity(H['st-luke'], 'st-luke', PW['st-luke'])
    writeMessageFile(path(forged), signMessage(lukeId, { _type: String(_type), to: String(to), purpose: String(purpose), body }, { ttlMs: 3_600_000 }).envelope, true)
    const byLuke = await mary('fl', 'client', 'run', '--task', String(task), '--dataset', dataset['st-mary'], '--as', 'st-mary', '--exchange', forged)
    assert.equal(byLuke.code, 1, byLuke.stdout + byLuke.stderr)
    assert.match(byLuke.stderr, /is signed by did:key:\S+ \(st-luke\), not by the task's aggregator on-chain/)
    // The genuine message with a larger norm bound written into it: its signature fails.
    const altered = readMessageFile(path(X))
    altered.payload = Buffer.from(canonicalJsonBytes({ ...genuine, spec: { ...(genuine.spec as object), maxUpdateNorm: 1e9 } })).toString('base64')
    writeMessageFile(path(forged), altered, true)
    const tampered = await mary('fl', 'client', 'run', '--task', String(task), '--dataset', dataset['st-mary'], '--as', 'st-mary', '--exchange', forged)
    assert.equal(tampered.code, 1)
    assert.match(tampered.stderr, /bad signature/)
    // The genuine task with another round-2 model: not the aggregate on-chain.
    cpSync(path(X), path(forged))
    writeFileSync(join(forged, `task-${task}`, 'round-2', 'global.safetensors'), readFileSync(join(X, `task-${task}`, 'round-1', 'global.safetensors')))
    const model = await mary('fl', 'client', 'run', '--task', String(task), '--dataset', dataset['st-mary'], '--as', 'st-mary', '--exchange', forged)
    assert.equal(model.code, 1)
    assert.match(model.stderr, /the aggregate of round 1 on-chain is/)
  })

  it("round 2: a manifest naming a stranger's CheckpointAnchor is rejected (badManifest, naming it); the final model is registered on the coordinator's node with its lineage", async () => {
    ok(await mary('fl', 'client', 'run', '--task', String(task), '--dataset', dataset['st-mary'], '--as', 'st-mary', '--exchange', X))
    // st-luke's node forges: its genuine manifest, re-pointed at a stranger's anchor (where
    // "all 120 consented" would verify), logged as its own and committed from its account.
    ok(await luke('consent', 'check', '--dataset', dataset['st-luke'], '--purpose', P, '--out', file('luke-manifest.json')))
    const m = JSON.parse(readFileSync(file('luke-manifest.json'), 'utf8')) as { chain: { checkpointAnchor: string }; at: string }
    m.chain.checkpointAnchor = STRANGER_ANCHOR
    const forged = Buffer.from(JSON.stringify(m))
    writeFileSync(file('luke-forged.json'), forged)
    const p = openProvena(H['st-luke'], { passphrase: PW['st-luke'] })
    p.db.prepare('INSERT INTO consent_manifests (hash, dataset, purpose, at, log_index, included) VALUES (?, ?, ?, ?, ?, ?)').run(sha256Hex(forged), dataset['st-luke'], P, m.at, 0, Buffer.alloc(0))
    p.close()
    const shape = modelShape(DEFAULT_SPECS.logistic, 30, 2)
    writeFileSync(file('zero.safetensors'), toSafetensors(shape, new Float32Array(shape.size), {}))
    ok(await luke('fl', 'client', 'submit', '--task', String(task), '--dataset', dataset['st-luke'], '--manifest', file('luke-forged.json'), '--update', file('zero.safetensors'), '--as', 'st-luke', '--exchange', X))

    const r = ok(await coordinator('fl', 'aggregate', '--task', String(task), '--as', 'coordinator', '--exchange', X, '--json')).json<Round>()
    assert.equal(r.done, true)
    assert.deepEqual(r.accepted.map((a) => a.client.toLowerCase()), [address['st-mary']])
    assert.deepEqual(r.rejected.map((x) => [x.client.toLowerCase(), x.reasonName]), [[address['st-luke'], 'badManifest']])
    assert.match(r.rejected[0]!.detail, new RegExp(`untrusted training manifest: manifest names CheckpointAnchor ${STRANGER_ANCHOR}`, 'i'))
    // The final model: in the exchange, and registered on the coordinator's node, its lineage naming st-mary's dataset (a dataset of another node).
    assert.equal(sha256Hex(readFileSync(join(X, `task-${task}`, 'final.safetensors'))), r.aggregateDigest)
    assert.ok(r.model, 'the final model is registered')
    const entries = ok(await coordinator('log', 'entries', '--json')).json<{ entries: { leaf: string }[] }>().entries.map((e) => JSON.parse(Buffer.from(e.leaf, 'base64').toString('utf8')) as { asset?: { id: string; parents: string[] } })
    const registered = entries.find((e) => e.asset?.id === r.model!.id)
    assert.deepEqual(registered?.asset?.parents, [dataset['st-mary']])
    const status = ok(await coordinator('fl', 'status', '--task', String(task), '--json')).json<{ done: boolean; finalModel: string }>()
    assert.deepEqual([status.done, status.finalModel], [true, r.aggregateDigest])
  })

  it("no node holds another's secrets, nor does the exchange (keys, KEKs, operator keys; raw, hex, base64)", () => {
    const secretsOf = (dir: string, name: string, pw: string, controller: boolean) => {
      const id = unlockIdentity(dir, name, pw)
      const p = openProvena(dir, { passphrase: pw })
      const out: Record<string, Buffer> = {
        [`${name}.x25519`]: id.x25519PrivateKey,
        [`${name}.ed25519`]: ed25519Seed(id.signing.privateKey),
        [`${name}.evm`]: Buffer.from(id.evmPrivateKey.slice(2), 'hex'),
        [`${name}.operatorSeed`]: ed25519Seed(p.signer.privateKey),
        [`${name}.operatorEvm`]: Buffer.from(p.evmPrivateKey.slice(2), 'hex'),
      }
      p.close()
      if (controller) Object.assign(out, { [`${name}.kek`]: controllerSecrets(id).kek, [`${name}.pseudonymKey`]: controllerSecrets(id).pseudonymKey })
      return out
    }
    const findSecrets = (root: string, secrets: Record<string, Buffer>) => {
      const hits: string[] = []
      const walk = (d: string) => {
        for (const n of readdirSync(d)) {
          const path = join(d, n)
          if (statSync(path).isDirectory()) walk(path)
          else {
            const bytes = readFileSync(path)
            for (const [name, s] of Object.entries(secrets)) {
              const forms = [s, Buffer.from(s.toString('hex')), Buffer.from(s.toString('hex').toUpperCase()), Buffer.from(s.toString('base64')), Buffer.from(s.toString('base64url'))]
              if (forms.some((f) => bytes.indexOf(f) >= 0)) hits.push(`${path}: ${name}`)
            }
          }
        }
      }
      walk(root)
      return hits
    }
    const coord = secretsOf(C, 'coordinator', PW.coordinator, false)
    const maryS = secretsOf(H['st-mary'], 'st-mary', PW['st-mary'], true)
    const lukeS = secretsOf(H['st-luke'], 'st-luke', PW['st-luke'], true)
    assert.deepEqual(findSecrets(C, { ...maryS, ...lukeS }), [], "the coordinator's data dir holds a hospital's secret")
    assert.deepEqual(findSecrets(H['st-mary'], { ...coord, ...lukeS }), [], "st-mary's data dir holds another node's secret")
    assert.deepEqual(findSecrets(H['st-luke'], { ...coord, ...maryS }), [], "st-luke's data dir holds another node's secret")
    assert.deepEqual(findSecrets(X, { ...coord, ...maryS, ...lukeS }), [], 'the exchange holds a secret')
    // The scan finds what it looks for: its own node's secrets are in its keystore (sealed: not there), so a planted one.
    writeFileSync(file('control.txt'), `x=${coord['coordinator.x25519']!.toString('base64')}`)
    assert.equal(findSecrets(work, coord).some((h) => h.endsWith('control.txt: coordinator.x25519')), true)
  })
})
