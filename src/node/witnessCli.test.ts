import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { witnessRoutes } from '../api/witness.js'
import { anchorLateCosignatures, openChain, openProvena } from '../app/index.js'
import { didKeyFromEd25519, generateEd25519, generateX25519 } from '../crypto/index.js'
import { listCheckpoints } from '../log/index.js'
import { runCli, TEST_PASSPHRASE } from '../testing.js'
import { CONSORTIUM_TYPE, gatherCosignatures, memberWitnesses, signMemberCard, witnessVerifierKey, writeConsortiumFile, type Consortium, type ConsortiumMember } from './index.js'
import { tempDb, witnessKey } from './witnessFixtures.js'

const addr = () => privateKeyToAccount(generatePrivateKey()).address

// A node's log, anchored on its embedded chain, cosigned by three witnesses (other
// processes' worth of state: their own databases and keys, over loopback HTTP); then
// `provena verify --quorum K` against a consortium file that lists the three.
describe('provena verify --quorum K (issue 13: witnessed checkpoints)', () => {
  const work = mkdtempSync(join(tmpdir(), 'provena-quorum-'))
  const A = join(work, 'A')
  const a = (...args: string[]) => runCli([...args, '--dir', A])
  const apps: FastifyInstance[] = []
  const file = join(work, 'consortium.json')

  before(async () => {
    assert.equal((await a('init')).code, 0)
    assert.equal((await a('node', 'start')).code, 0)
    writeFileSync(join(work, 'p.csv'), 'id,age\n' + Array.from({ length: 12 }, (_, i) => `P-${i},${30 + i}`).join('\n') + '\n')
    const reg = await a('dataset', 'register', join(work, 'p.csv'), '--name', 'p')
    assert.equal(reg.code, 0, reg.stderr)
    assert.equal((await a('log', 'checkpoint')).code, 0)

    const p = openProvena(A, { passphrase: TEST_PASSPHRASE })
    try {
      const members: Consortium['members'] = []
      for (let i = 0; i < 3; i++) {
        const key = witnessKey()
        const app = Fastify()
        await app.register(witnessRoutes, { witness: { db: tempDb(), key, logKey: (o) => (o === p.signer.origin ? p.signer.publicKey : undefined) } })
        await app.listen({ host: '127.0.0.1', port: 0 })
        apps.push(app)
        const ad = app.server.address()
        const signing = generateEd25519()
        const m: ConsortiumMember = {
          name: `hospital-${i}`,
          did: didKeyFromEd25519(signing.publicKeyBytes),
          role: 'controller',
          address: addr(),
          x25519: generateX25519().publicKey.toString('hex'),
          log: null,
          endpoint: `http://127.0.0.1:${typeof ad === 'object' && ad ? ad.port : 0}`,
          witness: witnessVerifierKey(key),
        }
        members.push({ ...m, card: signMemberCard(m, signing.privateKey) })
      }
      const c: Consortium = {
        _type: CONSORTIUM_TYPE,
        chainId: 31337,
        rpcUrl: null,
        contracts: { AssetRegistry: addr(), AccessPolicy: addr(), FederatedTraining: addr() },
        admin: { did: didKeyFromEd25519(generateEd25519().publicKeyBytes), address: addr() },
        members,
      }
      writeConsortiumFile(file, c)
      // Every stored checkpoint, oldest first, as anchoring would have sent each.
      for (const cp of listCheckpoints(p.db)) {
        const r = await gatherCosignatures(p, cp, memberWitnesses(c, p.signer.origin))
        assert.deepEqual(r.failed, [])
      }
      // Only what the chain carries counts: the cosignatures gathered after anchoring are added on-chain.
      const chain = await openChain(p)
      try {
        assert.equal(await anchorLateCosignatures(p, chain), 3)
        assert.equal(await anchorLateCosignatures(p, chain), 0, 'the same cosignatures are added once')
      } finally {
        await chain.close()
      }
    } finally {
      p.close()
    }
  })
  after(async () => {
    for (const app of apps) await app.close()
    await a('node', 'stop')
  })

  it('--quorum 2 passes and --quorum 3 too; --quorum 4 exits 3 naming each checkpoint and how many verified', async () => {
    const two = await a('verify', '--quorum', '2', '--consortium', file)
    assert.equal(two.code, 0, two.stdout + two.stderr)
    assert.match(two.stdout, /cosignatures +the latest anchored checkpoint \(size \d+\) cosigned on-chain by 3 of the 3 witness\(es\) of the consortium file \(quorum 2\)/)
    assert.equal((await a('verify', '--quorum', '3', '--consortium', file)).code, 0)
    const four = await a('verify', '--quorum', '4', '--consortium', file, '--json')
    assert.equal(four.code, 3, four.stderr)
    const report = four.json<{ ok: boolean; failures: { code: string; message: string }[]; quorum: { checkpoints: { treeSize: number; verified: number }[] } }>()
    assert.equal(report.ok, false)
    assert.ok(report.failures.length === 1 && report.failures.every((f) => f.code === 'VERIFY_QUORUM'))
    assert.match(report.failures.at(-1)!.message, /the checkpoint of size \d+ carries 3 valid cosignature\(s\) by the consortium's witnesses, 4 required/)
    assert.equal(report.quorum.checkpoints.length, 1) // the latest: earlier ones are prefixes of it
    assert.ok(report.quorum.checkpoints.every((c) => c.verified === 3))
  })

  it('a newer checkpoint nobody cosigned fails --quorum 1, named; without witnesses to count, --quorum is bad usage', async () => {
    writeFileSync(join(work, 'q.csv'), 'id,age\nQ-1,50\n')
    assert.equal((await a('dataset', 'register', join(work, 'q.csv'), '--name', 'q')).code, 0)
    const one = await a('verify', '--quorum', '1', '--consortium', file)
    assert.equal(one.code, 3)
    assert.match(one.stdout + one.stderr, /the checkpoint of size \d+ carries 0 valid cosignature\(s\) by the consortium's witnesses, 1 required/)
    const none = await a('verify', '--quorum', '1')
    assert.equal(none.code, 2, none.stderr)
    assert.match(none.stderr, /pins none/)
    assert.equal((await a('verify', '--quorum', '0')).code, 2)
  })
})
