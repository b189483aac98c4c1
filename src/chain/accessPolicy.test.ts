import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { keccak256, toHex, type Address, type Hex } from 'viem'
import { fundedClients, revertName, startTestChain } from '../testing.js'
import { AccessPolicyAbi, deployContract, type ChainClient } from './index.js'

const role = (name: string) => keccak256(toHex(name))
const purpose = (p: string) => keccak256(toHex(p))
const DATASET = `0x${'d5'.repeat(32)}` as Hex


describe('AccessPolicy on the embedded chain: allow, deny, expiry, revocation', () => {
  let chain: Awaited<ReturnType<typeof startTestChain>>
  let admin: ChainClient
  let hospital: ChainClient
  let trainer: ChainClient
  let outsider: ChainClient
  let address: Address
  before(async () => {
    chain = await startTestChain()
    ;[admin, hospital, trainer, outsider] = await fundedClients(chain.rpcUrl, 4)
    address = (await deployContract(admin, 'AccessPolicy', [admin.account.address])).address
  })
  after(async () => chain.stop())

  const send = async (c: ChainClient, functionName: string, args: readonly unknown[]) => {
    const { request } = await c.publicClient.simulateContract({ address, abi: AccessPolicyAbi, functionName, args, account: c.account } as never)
    const r = await c.publicClient.waitForTransactionReceipt({ hash: await c.walletClient.writeContract(request as never) })
    assert.equal(r.status, 'success')
  }
  const simulate = (c: ChainClient, functionName: string, args: readonly unknown[]) =>
    c.publicClient.simulateContract({ address, abi: AccessPolicyAbi, functionName, args, account: c.account } as never)
  const allowed = (who: ChainClient, p: string) =>
    admin.publicClient.readContract({ address, abi: AccessPolicyAbi, functionName: 'isAllowed', args: [DATASET, who.account.address, purpose(p)] }) as Promise<boolean>
  const now = async () => Number((await admin.publicClient.getBlock()).timestamp)

  it('the admin adds members; only a controller claims a dataset, once', async () => {
    assert.equal(await revertName(simulate(outsider, 'addMember', [outsider.account.address, role('TRAINER_ROLE')])), 'AccessControlUnauthorizedAccount')
    assert.equal(await revertName(simulate(admin, 'addMember', [trainer.account.address, role('KING_ROLE')])), 'AccessPolicyUnknownRole')
    await send(admin, 'addMember', [hospital.account.address, role('CONTROLLER_ROLE')])
    await send(admin, 'addMember', [trainer.account.address, role('TRAINER_ROLE')])
    assert.equal(await revertName(simulate(trainer, 'claimDataset', [DATASET])), 'AccessControlUnauthorizedAccount')
    await send(hospital, 'claimDataset', [DATASET])
    assert.equal(await allowed(hospital, 'dpv:ScientificResearch'), true, 'the owner may')
  })

  it('a grant allows exactly its grantee and purpose; non-members and past expiries are refused', async () => {
    assert.equal(await allowed(trainer, 'dpv:ScientificResearch'), false)
    assert.equal(await revertName(simulate(trainer, 'grant', [DATASET, trainer.account.address, purpose('dpv:ScientificResearch'), 0n])), 'AccessPolicyNotDatasetOwner')
    assert.equal(await revertName(simulate(hospital, 'grant', [DATASET, outsider.account.address, purpose('dpv:ScientificResearch'), 0n])), 'AccessPolicyNotMember')
    assert.equal(await revertName(simulate(hospital, 'grant', [DATASET, trainer.account.address, purpose('dpv:ScientificResearch'), BigInt((await now()) - 1)])), 'AccessPolicyExpiryInPast')
    await send(hospital, 'grant', [DATASET, trainer.account.address, purpose('dpv:ScientificResearch'), BigInt((await now()) + 3600)])
    assert.equal(await allowed(trainer, 'dpv:ScientificResearch'), true)
    assert.equal(await allowed(trainer, 'dpv:Marketing'), false, 'another purpose')
    assert.equal(await allowed(outsider, 'dpv:ScientificResearch'), false, 'another account')
  })

  it('a grant stops at its expiry, and at revocation; a removed member loses it', async () => {
    await admin.publicClient.request({ method: 'evm_increaseTime', params: [3601] } as never)
    await admin.publicClient.request({ method: 'evm_mine', params: [] } as never)
    assert.equal(await allowed(trainer, 'dpv:ScientificResearch'), false, 'expired')
    await send(hospital, 'grant', [DATASET, trainer.account.address, purpose('dpv:ScientificResearch'), 0n])
    assert.equal(await allowed(trainer, 'dpv:ScientificResearch'), true)
    await send(hospital, 'revoke', [DATASET, trainer.account.address, purpose('dpv:ScientificResearch')])
    assert.equal(await allowed(trainer, 'dpv:ScientificResearch'), false, 'revoked')
    assert.equal(await revertName(simulate(hospital, 'revoke', [DATASET, trainer.account.address, purpose('dpv:ScientificResearch')])), 'AccessPolicyNoGrant')
    await send(hospital, 'grant', [DATASET, trainer.account.address, purpose('dpv:ScientificResearch'), 0n])
    await send(admin, 'removeMember', [trainer.account.address, role('TRAINER_ROLE')])
    assert.equal(await allowed(trainer, 'dpv:ScientificResearch'), false, 'no longer a member')
  })
})
