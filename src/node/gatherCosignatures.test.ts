import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { witnessRoutes } from '../api/witness.js'
import { didKeyFromEd25519, generateEd25519, generateX25519 } from '../crypto/index.js'
import { listCheckpoints, noteVerifierKey, recordCheckpoint, SqliteLog, type LogSigner } from '../log/index.js'
import {
  allCosignatures,
  CONSORTIUM_TYPE,
  cosignaturesAt,
  cosignedNote,
  gatherCosignatures,
  memberWitnesses,
  parseConsortium,
  quorumWitnesses,
  signCosignature,
  signMemberCard,
  verifyQuorum,
  witnessVerifierKey,
  type Consortium,
  type ConsortiumMember,
  type WitnessKey,
} from './index.js'
import { tempDb, witnessKey } from './witnessFixtures.js'

const addr = () => privateKeyToAccount(generatePrivateKey()).address

/** A member entry with a signed card; `extra` sets endpoint and witness. */
function member(name: string, extra: Partial<ConsortiumMember>, log: ConsortiumMember['log'] = null): Consortium['members'][number] {
  const signing = generateEd25519()
  const m: ConsortiumMember = { name, did: didKeyFromEd25519(signing.publicKeyBytes), role: 'controller', address: addr(), x25519: generateX25519().publicKey.toString('hex'), log, ...extra }
  return { ...m, card: signMemberCard(m, signing.privateKey) }
}

function consortiumOf(members: Consortium['members']): Consortium {
  const c: Consortium = {
    _type: CONSORTIUM_TYPE,
    chainId: 31337,
    rpcUrl: null,
    contracts: { AssetRegistry: addr(), AccessPolicy: addr(), FederatedTraining: addr() },
    admin: { did: didKeyFromEd25519(generateEd25519().publicKeyBytes), address: addr() },
    members,
  }
  return parseConsortium(JSON.parse(JSON.stringify(c)), 'consortium.json')
}

interface WitnessNode {
  key: WitnessKey
  app: FastifyInstance
  url: string
}

describe('gathering cosignatures from the members’ witnesses (src/node/gatherCosignatures.ts), and verify --quorum (verifyQuorum)', () => {
  // The log node.
  const db = tempDb()
  const log = new SqliteLog(db)
  const pair = generateEd25519()
  const signer: LogSigner = { origin: 'provena.log/0123456789abcdef', privateKey: pair.privateKey, publicKey: pair.publicKeyBytes }
  const ownLog = { origin: signer.origin, vkey: noteVerifierKey(signer.origin, pair.publicKeyBytes), operator: addr(), anchor: addr(), consentVerifier: addr() }
  const node = { db, log }
  const witnesses: WitnessNode[] = []
  const selfWitness = witnessKey()
  let consortium: Consortium
  const statuses: number[] = []
  const countingFetch: typeof fetch = async (input, init) => {
    const res = await fetch(input, init)
    statuses.push(res.status)
    return res
  }

  before(async () => {
    for (let i = 0; i < 3; i++) {
      const key = witnessKey()
      const app = Fastify()
      // Each witness has its own database and takes the log key from its pinned file (here: the one log).
      await app.register(witnessRoutes, { witness: { db: tempDb(), key, logKey: (o) => (o === signer.origin ? pair.publicKeyBytes : undefined) } })
      await app.listen({ host: '127.0.0.1', port: 0 })
      const a = app.server.address()
      witnesses.push({ key, app, url: `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}` })
    }
    consortium = consortiumOf([
      // The log's own node lists a witness too: it never counts for its own log.
      member('self', { endpoint: 'http://127.0.0.1:1', witness: witnessVerifierKey(selfWitness) }, ownLog),
      ...witnesses.map((w, i) => member(`hospital-${i}`, { endpoint: `${w.url}/`, witness: witnessVerifierKey(w.key) })),
      member('no-witness', {}),
    ])
  })
  after(async () => {
    for (const w of witnesses) await w.app.close()
  })

  it('the consortium file carries optional endpoint and witness vkey per member, signed by the card; bad ones are refused by field', () => {
    assert.equal(consortium.members[1]!.witness, witnessVerifierKey(witnesses[0]!.key))
    assert.equal('endpoint' in consortium.members[4]!, false, 'absent stays absent')
    const m = member('x', { endpoint: 'http://127.0.0.1:9' })
    for (const [field, value, why] of [
      ['endpoint', 'ftp://x', /endpoint is not an http\(s\) URL/],
      ['endpoint', 'http://a/?q=1', /endpoint is not an http\(s\) URL/],
      ['witness', ownLog.vkey, /witness is not a C2SP cosignature\/v1 verifier key/],
    ] as const) {
      assert.throws(() => consortiumOf([{ ...m, [field]: value }]), why)
    }
    // Changed after the member signed its card: refused.
    assert.throws(() => consortiumOf([{ ...m, witness: witnessVerifierKey(witnessKey()) }]), /CARD|card|differs/)
    assert.equal(memberWitnesses(consortium, signer.origin).length, 3)
    assert.equal(quorumWitnesses(consortium, signer.origin).length, 3)
    assert.equal(memberWitnesses(consortium, 'provena.log/other').length, 4, "another log's witnesses include this node's")
  })

  it('three witnesses cosign each new checkpoint, each from the size it last cosigned; verify --quorum 2 passes, 4 fails naming the checkpoint', async () => {
    const ws = memberWitnesses(consortium, signer.origin)
    log.append([Buffer.from('a'), Buffer.from('b'), Buffer.from('c'), Buffer.from('d'), Buffer.from('e')])
    const first = await gatherCosignatures(node, recordCheckpoint(db, log, signer), ws)
    assert.deepEqual(first.failed, [])
    assert.equal(first.cosigned.length, 3)
    log.append(Array.from({ length: 7 }, (_, i) => Buffer.from(`x${i}`)))
    const second = await gatherCosignatures(node, recordCheckpoint(db, log, signer), ws, { fetch: countingFetch })
    assert.equal(second.cosigned.length, 3)
    assert.deepEqual(statuses, [200, 200, 200], 'each sent the proof from 5 at once')
    const stored = listCheckpoints(db).map((c) => ({ treeSize: c.treeSize, note: c.note, cosignatures: cosignaturesAt(db, c.treeSize) }))
    const pinned = quorumWitnesses(consortium, signer.origin)
    const two = verifyQuorum(stored, pinned, 2)
    assert.equal(two.ok, true, JSON.stringify(two.failures))
    assert.deepEqual(two.checkpoints.map((c) => [c.treeSize, c.verified]), [[5, 3], [12, 3]])
    const four = verifyQuorum(stored, pinned, 4)
    assert.equal(four.ok, false)
    assert.deepEqual(four.failures.map((f) => f.code), ['VERIFY_QUORUM', 'VERIFY_QUORUM'])
    assert.match(four.failures[1]!.message, /the checkpoint of size 12 carries 3 valid cosignature\(s\) by the consortium's witnesses, 4 required/)
    // The cosigned note is a C2SP note whose extra lines are the cosignatures.
    assert.equal(verifyQuorum([{ treeSize: 12, note: cosignedNote(db, listCheckpoints(db)[1]!) }], pinned, 3).ok, true)
  })

  it('a cosignature by a key not in the file, or by the log’s own witness, is not counted', () => {
    const latest = listCheckpoints(db).at(-1)!
    const body = latest.note.slice(0, latest.note.indexOf('\n\n') + 1)
    const stranger = witnessKey()
    const forgedName = { ...witnessKey(), name: witnesses[0]!.key.name }
    const extra = [signCosignature(body, stranger, 1_800_000_000).trim(), signCosignature(body, forgedName, 1_800_000_000).trim(), signCosignature(body, selfWitness, 1_800_000_000).trim()]
    const lines = [...cosignaturesAt(db, latest.treeSize), ...extra]
    const pinned = quorumWitnesses(consortium, signer.origin)
    assert.equal(verifyQuorum([{ treeSize: latest.treeSize, note: latest.note, cosignatures: lines }], pinned, 3).ok, true)
    const r = verifyQuorum([{ treeSize: latest.treeSize, note: latest.note, cosignatures: lines }], pinned, 4)
    assert.equal(r.checkpoints[0]!.verified, 3)
    // Only the file's keys of other members: the stranger's, a same-name forgery and the log's own witness count for nothing.
    assert.equal(verifyQuorum([{ treeSize: latest.treeSize, note: latest.note, cosignatures: extra }], pinned, 1).checkpoints[0]!.verified, 0)
  })

  it('409: a witness that saw a size the node forgot answers with it, and the node retries from there', async () => {
    const w0 = witnesses[0]!.key
    db.prepare('DELETE FROM checkpoint_cosignatures WHERE witness = ?').run(w0.name)
    log.append([Buffer.from('y')])
    statuses.length = 0
    const r = await gatherCosignatures(node, recordCheckpoint(db, log, signer), memberWitnesses(consortium, signer.origin), { fetch: countingFetch })
    assert.deepEqual(r.failed, [])
    assert.equal(r.cosigned.length, 3)
    assert.deepEqual([...statuses].sort(), [200, 200, 200, 409])
    assert.equal(allCosignatures(db).get(13)?.length, 3)
  })

  it('a witness that is down or refuses is reported, the others’ cosignatures are kept', async () => {
    const ws = memberWitnesses(consortium, signer.origin)
    const down = { ...ws[0]!, endpoint: 'http://127.0.0.1:1' }
    log.append([Buffer.from('z')])
    const r = await gatherCosignatures(node, recordCheckpoint(db, log, signer), [down, ws[1]!, ws[2]!], { timeoutMs: 2000 })
    assert.equal(r.cosigned.length, 2)
    assert.equal(r.failed.length, 1)
    assert.equal(r.failed[0]!.error.code, 'WITNESS_BAD_RESPONSE')
    assert.match(r.failed[0]!.error.message, /no answer from http:\/\/127\.0\.0\.1:1\/witness\/add-checkpoint/)
    // A witness asked with a log it does not know (another origin) refuses: 404 reported.
    const other = recordCheckpoint(db, log, signer)
    const foreign = { treeSize: other.treeSize, note: other.note.replaceAll(signer.origin, 'provena.log/ffffffffffffffff') }
    const refused = await gatherCosignatures(node, foreign, [ws[1]!])
    assert.match(refused.failed[0]!.error.message, /refused the checkpoint .*: 404/)
  })
})
