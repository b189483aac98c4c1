import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { join } from 'node:path'
import { type Address, type Hex } from 'viem'
import { generatePrivateKey } from 'viem/accounts'
import { openDatabase } from '../db/index.js'
import { hashLeaf, MemoryNodes, consistencyProof } from '../log/index.js'
import { ANVIL_DEV_KEY_1, readVector, revertName, startTestChain } from '../testing.js'
import { AccessPolicyAbi, AssetRegistryAbi, CheckpointAnchorAbi, connectChain, deployContract, ensureDeployment, ensureFunded, FederatedTrainingAbi, type ChainClient } from './index.js'

const h = (b: Buffer | string): Hex => `0x${typeof b === 'string' ? b : b.toString('hex')}`
const ZERO = h(Buffer.alloc(32))


describe('contracts on the embedded chain', () => {
  let chain: Awaited<ReturnType<typeof startTestChain>>
  let operator: ChainClient
  let stranger: ChainClient
  before(async () => {
    chain = await startTestChain()
    operator = await connectChain(chain.rpcUrl, generatePrivateKey())
    await ensureFunded(operator)
    stranger = await connectChain(chain.rpcUrl, ANVIL_DEV_KEY_1)
  })
  after(async () => chain.stop())

  const deployAnchor = async () => (await deployContract(operator, 'CheckpointAnchor', [operator.account.address, h(Buffer.alloc(32, 1)), 'test/log'])).address
  const anchor = (c: ChainClient, address: Address, size: number, root: Hex, proof: Hex[]) =>
    c.walletClient.writeContract({ address, abi: CheckpointAnchorAbi, functionName: 'anchor', args: [BigInt(size), root, ZERO, proof, '0x', '0x'], account: c.account, chain: c.chain })
  const simulate = (c: ChainClient, address: Address, size: number, root: Hex, proof: Hex[]) =>
    c.publicClient.simulateContract({ address, abi: CheckpointAnchorAbi, functionName: 'anchor', args: [BigInt(size), root, ZERO, proof, '0x', '0x'], account: c.account })
  const latest = async (address: Address) => (await operator.publicClient.readContract({ address, abi: CheckpointAnchorAbi, functionName: 'latest' })) as readonly [bigint, Hex]

  it('CheckpointAnchor accepts the RFC 6962 reference consistency proofs (1→8, 2→5, 6→8)', async () => {
    const v = readVector<{ roots: string[]; consistency: { size1: number; size2: number; proof: string[] }[] }>('rfc6962-merkle.json')
    for (const c of v.consistency.filter((c) => c.size1 < c.size2)) {
      const address = await deployAnchor()
      await operator.publicClient.waitForTransactionReceipt({ hash: await anchor(operator, address, c.size1, h(v.roots[c.size1 - 1]!), []) })
      await operator.publicClient.waitForTransactionReceipt({ hash: await anchor(operator, address, c.size2, h(v.roots[c.size2 - 1]!), c.proof.map(h)) })
      assert.deepEqual(await latest(address), [BigInt(c.size2), h(v.roots[c.size2 - 1]!)])
    }
  })

  it('CheckpointAnchor accepts a growing log and refuses forgery, shrinking, rewriting and strangers', async () => {
    const address = await deployAnchor()
    const nodes = new MemoryNodes(Array.from({ length: 100 }, (_, i) => hashLeaf(Buffer.from(`e${i}`))))
    const root = (n: number) => h(nodes.root(n))
    const proof = (a: number, b: number) => consistencyProof(nodes, a, b).map(h)
    let last = 0
    for (const size of [3, 4, 17, 64, 65, 99]) {
      const r = await operator.publicClient.waitForTransactionReceipt({ hash: await anchor(operator, address, size, root(size), last ? proof(last, size) : []) })
      assert.equal(r.status, 'success')
      last = size
    }
    assert.deepEqual(await latest(address), [99n, root(99)])
    assert.equal(await operator.publicClient.readContract({ address, abi: CheckpointAnchorAbi, functionName: 'checkpointCount' }), 6n)

    const forged = proof(99, 100)
    forged[0] = h(Buffer.alloc(32, 9))
    assert.equal(await revertName(simulate(operator, address, 100, root(100), forged)), 'CheckpointAnchorInconsistentProof')
    // A root for size 100 that does not extend the anchored tree, with the honest proof.
    assert.equal(await revertName(simulate(operator, address, 100, h(Buffer.alloc(32, 5)), proof(99, 100))), 'CheckpointAnchorInconsistentProof')
    assert.equal(await revertName(simulate(operator, address, 50, root(50), [])), 'CheckpointAnchorTreeSizeNotGrowing')
    assert.equal(await revertName(simulate(operator, address, 99, h(Buffer.alloc(32, 3)), [])), 'CheckpointAnchorTreeSizeNotGrowing')
    assert.equal(await revertName(simulate(stranger, address, 100, root(100), proof(99, 100))), 'CheckpointAnchorUnauthorizedOperator')
    // The honest next checkpoint still goes through.
    assert.equal((await simulate(operator, address, 100, root(100), proof(99, 100))).result, undefined)
  })

  it('AssetRegistry registers with lineage and refuses duplicates, unknown parents and non-registrars', async () => {
    const { address } = await deployContract(operator, 'AssetRegistry', [operator.account.address])
    const reg = (c: ChainClient, id: Hex, parents: Hex[]) =>
      c.publicClient.simulateContract({ address, abi: AssetRegistryAbi, functionName: 'register', args: [id, 0, ZERO, ZERO, parents], account: c.account })
    const send = async (id: Hex, kind: number, parents: Hex[]) =>
      operator.publicClient.waitForTransactionReceipt({
        hash: await operator.walletClient.writeContract({ address, abi: AssetRegistryAbi, functionName: 'register', args: [id, kind, ZERO, ZERO, parents], account: operator.account, chain: operator.chain }),
      })
    const ds = h(Buffer.alloc(32, 0xd5))
    const model = h(Buffer.alloc(32, 0x33))
    await send(ds, 0, [])
    await send(model, 1, [ds])
    const asset = (await operator.publicClient.readContract({ address, abi: AssetRegistryAbi, functionName: 'getAsset', args: [model] })) as { parents: readonly Hex[]; kind: number; status: number }
    assert.deepEqual([...asset.parents], [ds])
    assert.equal(asset.kind, 1)
    assert.equal(asset.status, 1)
    assert.equal(await revertName(reg(operator, ds, [])), 'AssetRegistryAlreadyRegistered')
    assert.equal(await revertName(reg(operator, h(Buffer.alloc(32, 1)), [h(Buffer.alloc(32, 2))])), 'AssetRegistryUnknownParent')
    assert.equal(await revertName(reg(operator, ZERO, [])), 'AssetRegistryInvalidId')
    assert.equal(await revertName(reg(stranger, h(Buffer.alloc(32, 4)), [])), 'AccessControlUnauthorizedAccount')
  })

  it('ensureDeployment wires AccessPolicy to its AssetRegistry, keeps a current deployment, and replaces a contract of an earlier interface with those that read it', async () => {
    const db = openDatabase(join(chain.dir, 'deploy-test.db'))
    const log = { logKey: h(Buffer.alloc(32, 7)), origin: 'test/deploy' }
    const first = await ensureDeployment(db, operator, log)
    assert.equal(first.deployedNow, true)
    const read = (address: Address, abi: typeof AccessPolicyAbi | typeof FederatedTrainingAbi, functionName: string) =>
      (operator.publicClient.readContract({ address, abi, functionName } as never) as Promise<Address>).then((a) => a.toLowerCase())
    assert.equal(await read(first.deployment.AccessPolicy, AccessPolicyAbi, 'registry'), first.deployment.AssetRegistry.toLowerCase())
    assert.equal(await read(first.deployment.FederatedTraining, FederatedTrainingAbi, 'policy'), first.deployment.AccessPolicy.toLowerCase())
    const again = await ensureDeployment(db, operator, log)
    assert.deepEqual([again.deployedNow, again.deployment], [false, first.deployment])
    // A contract of an earlier interface (here: code lacking AssetRegistry's functions) is
    // stale: it is replaced, and so are AccessPolicy, which reads it, and FederatedTraining,
    // which reads AccessPolicy; the rest is kept.
    db.prepare("UPDATE chain_deployments SET address = ? WHERE name = 'AssetRegistry'").run(first.deployment.ConsentVerifier)
    const replaced = await ensureDeployment(db, operator, log)
    assert.equal(replaced.deployedNow, true)
    for (const name of ['AssetRegistry', 'AccessPolicy', 'FederatedTraining'] as const) {
      assert.ok(![first.deployment[name], first.deployment.ConsentVerifier].includes(replaced.deployment[name]), `${name} replaced`)
    }
    assert.deepEqual([replaced.deployment.CheckpointAnchor, replaced.deployment.ConsentVerifier], [first.deployment.CheckpointAnchor, first.deployment.ConsentVerifier])
    db.close()
  })
})
