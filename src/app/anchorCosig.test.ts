import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import { type Hex } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { witnessRoutes } from '../api/witness.js'
import { CheckpointAnchorAbi, connectChain, listOutboxByKeyPrefix, readAnchoredCheckpoints } from '../chain/index.js'
import { didKeyFromEd25519, generateEd25519, generateX25519 } from '../crypto/index.js'
import { latestCheckpoint, recordCheckpoint } from '../log/index.js'
import {
  anchoredQuorumCheckpoint,
  CONSORTIUM_TYPE,
  cosignaturesAt,
  gatherCosignatures,
  memberWitnesses,
  quorumWitnesses,
  signMemberCard,
  verifyQuorum,
  witnessVerifierKey,
  writeConsortiumFile,
  type Consortium,
  type ConsortiumMember,
} from '../node/index.js'
import { tempDb, witnessKey } from '../node/witnessFixtures.js'
import { ANVIL_DEV_KEY_1, revertName, runCli, TEST_PASSPHRASE } from '../testing.js'
import { anchorIfDue, anchorLateCosignatures, anchorNow, openChain, openProvena, type ChainSession, type Provena } from './index.js'

const addr = () => privateKeyToAccount(generatePrivateKey()).address

// Issue 13: a node anchors its checkpoint together with the cosignatures it gathered first
// (three witnesses over loopback HTTP, one of them slow), a late one by addCosignatures;
// `verify --quorum` counts what the chain carries, keys from the consortium file.
describe('cosignatures anchored on-chain with the checkpoint (CheckpointAnchor, anchorNow, verify --quorum)', () => {
  const work = mkdtempSync(join(tmpdir(), 'provena-anchorcosig-'))
  const dir = join(work, 'A')
  const file = join(work, 'consortium.json')
  const apps: FastifyInstance[] = []
  /** Milliseconds witness 2 waits before answering (slow: beyond the anchoring's wait). */
  let slowMs = 0
  let p: Provena
  let chain: ChainSession
  let consortium: Consortium
  const onChain = async () => (await readAnchoredCheckpoints(chain.client.publicClient, chain.deployment.CheckpointAnchor)).at(-1)!
  const counted = async () => {
    const cp = await onChain()
    const witnesses = quorumWitnesses(consortium, p.signer.origin)
    return verifyQuorum([anchoredQuorumCheckpoint(p.signer.origin, cp, witnesses)], witnesses, 0).checkpoints[0]!.verified
  }
  const entries = (n: number) => Array.from({ length: n }, (_, i) => Buffer.from(`{"type":"test/v1","i":${p.log.size() + i}}`))
  const gasOf = async (hash: Hex | null) => Number((await chain.client.publicClient.getTransactionReceipt({ hash: hash! })).gasUsed)

  before(async () => {
    assert.equal((await runCli(['init', '--dir', dir])).code, 0)
    assert.equal((await runCli(['node', 'start', '--dir', dir])).code, 0)
    p = openProvena(dir, { passphrase: TEST_PASSPHRASE })
    const members: Consortium['members'] = []
    for (let i = 0; i < 3; i++) {
      const key = witnessKey()
      const app = Fastify()
      if (i === 2) app.addHook('onRequest', async () => void (slowMs && (await new Promise((r) => setTimeout(r, slowMs)))))
      await app.register(witnessRoutes, { witness: { db: tempDb(), key, logKey: (o) => (o === p.signer.origin ? p.signer.publicKey : undefined) } })
      await app.listen({ host: '127.0.0.1', port: 0 })
      apps.push(app)
      const signing = generateEd25519()
      const m: ConsortiumMember = {
        name: `hospital-${i}`,
        did: didKeyFromEd25519(signing.publicKeyBytes),
        role: 'controller',
        address: addr(),
        x25519: generateX25519().publicKey.toString('hex'),
        log: null,
        endpoint: `http://127.0.0.1:${(app.server.address() as { port: number }).port}`,
        witness: witnessVerifierKey(key),
      }
      members.push({ ...m, card: signMemberCard(m, signing.privateKey) })
    }
    consortium = { _type: CONSORTIUM_TYPE, chainId: 31337, rpcUrl: null, contracts: { AssetRegistry: addr(), AccessPolicy: addr(), FederatedTraining: addr() }, admin: { did: didKeyFromEd25519(generateEd25519().publicKeyBytes), address: addr() }, members }
    writeConsortiumFile(file, consortium)
    chain = await openChain(p) // the data dir's own contracts; its consortium given to the anchoring below
    p.consortium = consortium
  })
  after(async () => {
    for (const app of apps) await app.close()
    await chain?.close()
    p?.close()
    await runCli(['node', 'stop', '--dir', dir])
  })

  it('gathers the three cosignatures first and anchors them with the checkpoint in one transaction; gas with 0 and 3', async () => {
    p.consortium = undefined
    p.log.append(entries(5))
    const bare = await anchorNow(p, chain, { cosign: true })
    assert.equal((await onChain()).cosignatures.length, 0)
    p.consortium = consortium
    p.log.append(entries(5))
    const a = await anchorNow(p, chain, { cosign: true })
    assert.equal(a.anchoredNow, true)
    const cp = await onChain()
    assert.equal(cp.treeSize, 10)
    assert.equal(cp.cosignatures.length, 3, 'the event carries the three, 76 bytes each')
    assert.ok(cp.cosignatures.every((c) => c.length === 76))
    assert.equal(await counted(), 3)
    const [g0, g3] = [await gasOf(bare.transactionHash), await gasOf(a.transactionHash)]
    process.stderr.write(`gas: anchor with 0 cosignatures ${g0} (first checkpoint), with 3 ${g3} (with a consistency proof)\n`)
  })

  it('a witness slower than the wait is left out of the anchoring, then added once by addCosignatures', async () => {
    slowMs = 1500
    p.log.append(entries(3))
    const t0 = Date.now()
    await anchorNow(p, chain, { cosign: { timeoutMs: 500 } })
    assert.ok(Date.now() - t0 < 1400, 'the anchoring waited for the slow witness')
    assert.equal((await onChain()).cosignatures.length, 2)
    assert.equal(await counted(), 2)
    // The serve loop's later round: the slow witness answers; its cosignature goes on-chain by itself.
    const checkpoint = latestCheckpoint(p.db)!
    const r = await gatherCosignatures(p, checkpoint, memberWitnesses(consortium, p.signer.origin))
    assert.equal(r.failed.length, 0)
    assert.equal(await anchorLateCosignatures(p, chain), 1)
    assert.equal(await counted(), 3)
    assert.equal(await anchorLateCosignatures(p, chain), 0, 'nothing new: no second transaction')
    const rows = listOutboxByKeyPrefix(p.db, chain.client.chainKey, 'cosignatures', `cosignatures:${checkpoint.treeSize}:`)
    assert.equal(rows.length, 1)
    process.stderr.write(`gas: addCosignatures with 1 ${await gasOf(rows[0]!.txHash)}\n`)
    slowMs = 0
  })

  it("two anchorings at once in one process (serve's schedule gathering cosignatures, a request's write) send the checkpoint once", async () => {
    p.log.append(entries(2))
    const [scheduled, request] = await Promise.all([anchorNow(p, chain), anchorNow(p, chain)])
    assert.equal(scheduled.anchoredSize, p.log.size())
    assert.equal(request.anchoredSize, p.log.size())
    assert.equal((await onChain()).treeSize, p.log.size())
  })

  it('only the operator adds, to the latest checkpoint, whole 76-byte cosignatures', async () => {
    const stranger = await connectChain(chain.client.rpcUrl, ANVIL_DEV_KEY_1)
    const size = BigInt((await onChain()).treeSize)
    const one = `0x${'11'.repeat(76)}` as Hex
    const add = (c: typeof stranger, treeSize: bigint, packed: Hex) =>
      c.publicClient.simulateContract({ address: chain.deployment.CheckpointAnchor, abi: CheckpointAnchorAbi, functionName: 'addCosignatures', args: [treeSize, packed], account: c.account })
    assert.equal(await revertName(add(stranger, size, one)), 'CheckpointAnchorUnauthorizedOperator')
    assert.equal(await revertName(add(chain.client, size - 1n, one)), 'CheckpointAnchorNotLatest')
    assert.equal(await revertName(add(chain.client, size, `0x${'11'.repeat(75)}`)), 'CheckpointAnchorBadCosignatures')
    assert.equal(await revertName(add(chain.client, size, '0x')), 'CheckpointAnchorBadCosignatures')
    await add(chain.client, size, one) // the operator's, well-formed: accepted (verifiers ignore a key id they do not pin)
  })

  it('a checkpoint signed but never queued (a crash while gathering) is anchored by the next scheduled anchoring', async () => {
    p.log.append(entries(2))
    const c = recordCheckpoint(p.db, p.log, p.signer, p.map.root()) // what anchorNow stored before a kill -9
    assert.equal(latestCheckpoint(p.db)!.treeSize, c.treeSize)
    const a = await anchorIfDue(p, chain, Date.now(), { cosign: true })
    assert.equal(a?.anchoredNow, true)
    assert.equal((await onChain()).treeSize, c.treeSize)
    assert.equal((await onChain()).cosignatures.length, 3)
  })

  it('verify --quorum counts the cosignatures on-chain only: one gathered into the data dir but not on-chain is reported, not counted', async () => {
    p.consortium = undefined
    p.log.append(entries(2))
    await anchorNow(p, chain) // anchored bare
    const checkpoint = latestCheckpoint(p.db)!
    await gatherCosignatures(p, checkpoint, memberWitnesses(consortium, p.signer.origin))
    assert.equal(cosignaturesAt(p.db, checkpoint.treeSize).length, 3)
    const r = await runCli(['verify', '--quorum', '1', '--consortium', file, '--dir', dir, '--json'])
    assert.equal(r.code, 3, r.stdout + r.stderr)
    const q = r.json<{ quorum: { checkpoints: { treeSize: number; verified: number }[]; local: { verified: number; notOnChain: number } } }>().quorum
    assert.deepEqual(q.checkpoints, [{ treeSize: checkpoint.treeSize, verified: 0, witnesses: [] }])
    assert.equal(q.local.notOnChain, 3)
    assert.equal(await anchorLateCosignatures(p, chain), 3)
    const ok = await runCli(['verify', '--quorum', '3', '--consortium', file, '--dir', dir])
    assert.equal(ok.code, 0, ok.stdout + ok.stderr)
    assert.match(ok.stdout, /cosigned on-chain by 3 of the 3 witness/)
  })
})
