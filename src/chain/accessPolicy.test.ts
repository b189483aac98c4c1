import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { keccak256, toHex, type Abi, type Address, type Hex } from 'viem'
import { fundedClients, revertName, startTestChain } from '../testing.js'
import { AccessPolicyAbi, AssetRegistryAbi, deployContract, type ChainClient } from './index.js'

const role = (name: string) => keccak256(toHex(name))
const purpose = (p: string) => keccak256(toHex(p))
const id = (byte: string) => `0x${byte.repeat(32)}` as Hex
const DATASET = id('d5')
const ZERO = id('00')
const R = 'dpv:ScientificResearch'

describe('AccessPolicy on the embedded chain: allow, deny, expiry, revocation', () => {
  let chain: Awaited<ReturnType<typeof startTestChain>>
  let admin: ChainClient
  let hospital: ChainClient
  let trainer: ChainClient
  let outsider: ChainClient
  let rival: ChainClient
  let auditor: ChainClient
  let address: Address
  let registry: Address
  before(async () => {
    chain = await startTestChain()
    ;[admin, hospital, trainer, outsider, rival, auditor] = await fundedClients(chain.rpcUrl, 6)
    registry = (await deployContract(admin, 'AssetRegistry', [admin.account.address])).address
    address = (await deployContract(admin, 'AccessPolicy', [admin.account.address, registry])).address
  })
  after(async () => chain.stop())

  const sendTo = async (to: Address, abi: Abi, c: ChainClient, functionName: string, args: readonly unknown[]) => {
    const { request } = await c.publicClient.simulateContract({ address: to, abi, functionName, args, account: c.account } as never)
    const r = await c.publicClient.waitForTransactionReceipt({ hash: await c.walletClient.writeContract(request as never) })
    assert.equal(r.status, 'success')
    return r
  }
  const send = (c: ChainClient, functionName: string, args: readonly unknown[]) => sendTo(address, AccessPolicyAbi as Abi, c, functionName, args)
  const register = (c: ChainClient, dataset: Hex, kind = 0) => sendTo(registry, AssetRegistryAbi as Abi, c, 'register', [dataset, kind, ZERO, ZERO, []])
  const simulate = (c: ChainClient, functionName: string, args: readonly unknown[]) =>
    c.publicClient.simulateContract({ address, abi: AccessPolicyAbi, functionName, args, account: c.account } as never)
  const allowed = (who: ChainClient, p: string, dataset = DATASET) =>
    admin.publicClient.readContract({ address, abi: AccessPolicyAbi, functionName: 'isAllowed', args: [dataset, who.account.address, purpose(p)] }) as Promise<boolean>
  const ownerOf = (dataset: Hex) => admin.publicClient.readContract({ address, abi: AccessPolicyAbi, functionName: 'ownerOf', args: [dataset] }) as Promise<Address>
  const now = async () => Number((await admin.publicClient.getBlock()).timestamp)

  it('the admin adds members; the registrant of a dataset names its controller, once', async () => {
    assert.equal(await revertName(simulate(outsider, 'addMember', [outsider.account.address, role('TRAINER_ROLE')])), 'AccessControlUnauthorizedAccount')
    assert.equal(await revertName(simulate(admin, 'addMember', [trainer.account.address, role('KING_ROLE')])), 'AccessPolicyUnknownRole')
    await send(admin, 'addMember', [hospital.account.address, role('CONTROLLER_ROLE')])
    await send(admin, 'addMember', [rival.account.address, role('CONTROLLER_ROLE')])
    await send(admin, 'addMember', [trainer.account.address, role('TRAINER_ROLE')])
    await send(admin, 'addMember', [auditor.account.address, role('AUDITOR_ROLE')])
    await register(admin, DATASET)
    assert.equal(await revertName(simulate(admin, 'claimDataset', [DATASET, trainer.account.address])), 'AccessPolicyNotController')
    await send(admin, 'claimDataset', [DATASET, hospital.account.address])
    assert.equal(await ownerOf(DATASET), hospital.account.address)
    await send(admin, 'claimDataset', [DATASET, hospital.account.address]) // again: nothing changes
    assert.equal(await revertName(simulate(admin, 'claimDataset', [DATASET, rival.account.address])), 'AccessPolicyDatasetClaimed')
    assert.equal(await allowed(hospital, R), true, 'the owner may')
  })

  it('a controller cannot claim a dataset it did not register, even one seen pending in AssetRegistry.register (issue 12)', async () => {
    const pending = id('a1')
    // The id is public before the registration is mined: claiming it first is refused.
    assert.equal(await revertName(simulate(rival, 'claimDataset', [pending, rival.account.address])), 'AccessPolicyUnregisteredDataset')
    await register(admin, pending)
    assert.equal(await revertName(simulate(rival, 'claimDataset', [pending, rival.account.address])), 'AccessPolicyNotRegistrant')
    assert.equal(await revertName(simulate(hospital, 'claimDataset', [pending, hospital.account.address])), 'AccessPolicyNotRegistrant')
    // A model id is no dataset.
    const model = id('a2')
    await sendTo(registry, AssetRegistryAbi as Abi, admin, 'register', [model, 1, ZERO, ZERO, [pending]])
    assert.equal(await revertName(simulate(admin, 'claimDataset', [model, hospital.account.address])), 'AccessPolicyUnregisteredDataset')
    // A controller that registers its own dataset claims it for itself.
    await sendTo(registry, AssetRegistryAbi as Abi, admin, 'grantRole', [role('REGISTRAR_ROLE'), rival.account.address])
    const own = id('a3')
    await register(rival, own)
    await send(rival, 'claimDataset', [own, rival.account.address])
    assert.equal(await ownerOf(own), rival.account.address)
    assert.equal(await ownerOf(pending), '0x0000000000000000000000000000000000000000')
  })

  it('a grant allows exactly its grantee and purpose; non-members and past expiries are refused', async () => {
    assert.equal(await allowed(trainer, R), false)
    assert.equal(await revertName(simulate(trainer, 'grant', [DATASET, trainer.account.address, purpose(R), 0n])), 'AccessPolicyNotDatasetOwner')
    assert.equal(await revertName(simulate(hospital, 'grant', [DATASET, outsider.account.address, purpose(R), 0n])), 'AccessPolicyNotMember')
    assert.equal(await revertName(simulate(hospital, 'grant', [DATASET, trainer.account.address, purpose(R), BigInt((await now()) - 1)])), 'AccessPolicyExpiryInPast')
    await send(hospital, 'grant', [DATASET, trainer.account.address, purpose(R), BigInt((await now()) + 3600)])
    assert.equal(await allowed(trainer, R), true)
    assert.equal(await allowed(trainer, 'dpv:Marketing'), false, 'another purpose')
    assert.equal(await allowed(outsider, R), false, 'another account')
  })

  it('an auditor is never granted data, and a grantee re-roled as auditor loses its grant (issue 12)', async () => {
    assert.equal(await revertName(simulate(hospital, 'grant', [DATASET, auditor.account.address, purpose('dpv:Marketing'), 0n])), 'AccessPolicyGranteeRoleNotAllowed')
    assert.equal(await allowed(auditor, 'dpv:Marketing'), false)
    assert.equal(await admin.publicClient.readContract({ address, abi: AccessPolicyAbi, functionName: 'mayUseData', args: [auditor.account.address] } as never), false)
    const p = 'dpv:Audit'
    await send(hospital, 'grant', [DATASET, trainer.account.address, purpose(p), 0n])
    assert.equal(await allowed(trainer, p), true)
    await send(admin, 'addMember', [trainer.account.address, role('AUDITOR_ROLE')])
    await send(admin, 'removeMember', [trainer.account.address, role('TRAINER_ROLE')])
    assert.equal(await allowed(trainer, p), false, 'an auditor now')
    await send(admin, 'addMember', [trainer.account.address, role('TRAINER_ROLE')])
    await send(admin, 'removeMember', [trainer.account.address, role('AUDITOR_ROLE')])
  })

  it('a grant stops at its expiry, and at revocation; a removed member loses it', async () => {
    await admin.publicClient.request({ method: 'evm_increaseTime', params: [3601] } as never)
    await admin.publicClient.request({ method: 'evm_mine', params: [] } as never)
    assert.equal(await allowed(trainer, R), false, 'expired')
    await send(hospital, 'grant', [DATASET, trainer.account.address, purpose(R), 0n])
    assert.equal(await allowed(trainer, R), true)
    await send(hospital, 'revoke', [DATASET, trainer.account.address, purpose(R)])
    assert.equal(await allowed(trainer, R), false, 'revoked')
    assert.equal(await revertName(simulate(hospital, 'revoke', [DATASET, trainer.account.address, purpose(R)])), 'AccessPolicyNoGrant')
    await send(hospital, 'grant', [DATASET, trainer.account.address, purpose(R), 0n])
    await send(admin, 'removeMember', [trainer.account.address, role('TRAINER_ROLE')])
    assert.equal(await allowed(trainer, R), false, 'no longer a member')
  })

  it('only the dataset controller, a member, announces an erasure (issue 12)', async () => {
    const pseudonym = id('5e')
    assert.equal(await revertName(simulate(outsider, 'announceErasure', [pseudonym, []])), 'AccessPolicyNoDatasets')
    assert.equal(await revertName(simulate(outsider, 'announceErasure', [pseudonym, [DATASET]])), 'AccessPolicyNotDatasetOwner')
    assert.equal(await revertName(simulate(rival, 'announceErasure', [pseudonym, [DATASET]])), 'AccessPolicyNotDatasetOwner')
    const r = await send(hospital, 'announceErasure', [pseudonym, [DATASET]])
    assert.equal(r.logs.length, 1)
  })

  it('a removed controller keeps no owner power: no use, grant, revoke or erasure (issue 12)', async () => {
    await send(admin, 'addMember', [trainer.account.address, role('TRAINER_ROLE')])
    await send(hospital, 'grant', [DATASET, trainer.account.address, purpose(R), 0n])
    await send(admin, 'removeMember', [hospital.account.address, role('CONTROLLER_ROLE')])
    assert.equal(await allowed(hospital, R), false, 'the former controller may not use it')
    assert.equal(await revertName(simulate(hospital, 'grant', [DATASET, rival.account.address, purpose(R), 0n])), 'AccessPolicyNotController')
    assert.equal(await revertName(simulate(hospital, 'revoke', [DATASET, trainer.account.address, purpose(R)])), 'AccessPolicyNotController')
    assert.equal(await revertName(simulate(hospital, 'announceErasure', [id('5e'), [DATASET]])), 'AccessPolicyNotController')
    // Made a controller again, it has its powers back.
    await send(admin, 'addMember', [hospital.account.address, role('CONTROLLER_ROLE')])
    assert.equal(await allowed(hospital, R), true)
  })
})
