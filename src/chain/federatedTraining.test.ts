import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { keccak256, toHex, type Address, type Hex } from 'viem'
import { fundedClients, revertName, startTestChain } from '../testing.js'
import { AccessPolicyAbi, deployContract, FederatedTrainingAbi, type ChainClient } from './index.js'

const role = (name: string) => keccak256(toHex(name))
const h = (s: string) => keccak256(toHex(s))

describe('FederatedTraining on the embedded chain: membership, rounds, deadlines, replays', () => {
  let chain: Awaited<ReturnType<typeof startTestChain>>
  let admin: ChainClient
  let aggregator: ChainClient
  let a: ChainClient
  let b: ChainClient
  let stranger: ChainClient
  let fl: Address
  before(async () => {
    chain = await startTestChain()
    ;[admin, aggregator, a, b, stranger] = await fundedClients(chain.rpcUrl, 5)
    const policy = (await deployContract(admin, 'AccessPolicy', [admin.account.address])).address
    for (const [c, r] of [
      [aggregator, 'PROCESSOR_ROLE'],
      [a, 'CONTROLLER_ROLE'],
      [b, 'CONTROLLER_ROLE'],
    ] as const) {
      const hash = await admin.walletClient.writeContract({ address: policy, abi: AccessPolicyAbi, functionName: 'addMember', args: [c.account.address, role(r)], account: admin.account, chain: admin.chain })
      await admin.publicClient.waitForTransactionReceipt({ hash })
    }
    fl = (await deployContract(admin, 'FederatedTraining', [policy])).address
  })
  after(async () => chain.stop())

  const simulate = (c: ChainClient, functionName: string, args: readonly unknown[]) =>
    c.publicClient.simulateContract({ address: fl, abi: FederatedTrainingAbi, functionName, args, account: c.account } as never)
  const send = async (c: ChainClient, functionName: string, args: readonly unknown[]) => {
    const { request } = await simulate(c, functionName, args)
    const r = await c.publicClient.waitForTransactionReceipt({ hash: await c.walletClient.writeContract(request as never) })
    assert.equal(r.status, 'success')
  }

  it('only members create tasks, with members as participants and sane parameters', async () => {
    assert.equal(await revertName(simulate(stranger, 'createTask', [h('spec'), h('p'), [a.account.address], 1, 1, 60n])), 'FederatedTrainingNotMember')
    assert.equal(await revertName(simulate(aggregator, 'createTask', [h('spec'), h('p'), [a.account.address, stranger.account.address], 1, 1, 60n])), 'FederatedTrainingNotMember')
    assert.equal(await revertName(simulate(aggregator, 'createTask', [h('spec'), h('p'), [a.account.address], 1, 2, 60n])), 'FederatedTrainingBadTask')
    assert.equal(await revertName(simulate(aggregator, 'createTask', [h('spec'), h('p'), [a.account.address], 0, 1, 60n])), 'FederatedTrainingBadTask')
    await send(aggregator, 'createTask', [h('spec'), h('p'), [a.account.address, b.account.address], 2, 2, 60n])
  })

  it('commitments: participants only, once a round, no replay, not after the deadline; finalisation waits for the minimum or the deadline', async () => {
    const task = 1n
    assert.equal(await revertName(simulate(stranger, 'commitUpdate', [task, 1, h('u0'), h('sealed-u0'), 10n, h('m0')])), 'FederatedTrainingNotMember')
    assert.equal(await revertName(simulate(aggregator, 'commitUpdate', [task, 1, h('u0'), h('sealed-u0'), 10n, h('m0')])), 'FederatedTrainingNotParticipant')
    assert.equal(await revertName(simulate(a, 'commitUpdate', [task, 2, h('u1'), h('sealed-u1'), 10n, h('m1')])), 'FederatedTrainingWrongRound')
    await send(a, 'commitUpdate', [task, 1, h('u1'), h('sealed-u1'), 10n, h('m1')])
    assert.equal(await revertName(simulate(a, 'commitUpdate', [task, 1, h('u2'), h('sealed-u2'), 10n, h('m1')])), 'FederatedTrainingAlreadyCommitted')
    assert.equal(await revertName(simulate(b, 'commitUpdate', [task, 1, h('u1'), h('sealed-u1'), 10n, h('m1')])), 'FederatedTrainingReplayedUpdate')
    // One of two committed, before the deadline: too early; only the aggregator finalises.
    assert.equal(await revertName(simulate(aggregator, 'finalizeRound', [task, 1, h('agg1'), [a.account.address], [], []])), 'FederatedTrainingTooFewClients')
    assert.equal(await revertName(simulate(a, 'finalizeRound', [task, 1, h('agg1'), [a.account.address], [], []])), 'FederatedTrainingNotAggregator')
    await admin.publicClient.request({ method: 'evm_increaseTime', params: [61] } as never)
    await admin.publicClient.request({ method: 'evm_mine', params: [] } as never)
    assert.equal(await revertName(simulate(b, 'commitUpdate', [task, 1, h('u3'), h('sealed-u3'), 10n, h('m3')])), 'FederatedTrainingRoundClosed')
    // Every committed client must be accepted or rejected, with one reason per rejection.
    assert.equal(await revertName(simulate(aggregator, 'finalizeRound', [task, 1, h('agg1'), [], [], []])), 'FederatedTrainingBadTask')
    assert.equal(await revertName(simulate(aggregator, 'finalizeRound', [task, 1, h('agg1'), [b.account.address], [], []])), 'FederatedTrainingNotCommitted')
    await send(aggregator, 'finalizeRound', [task, 1, h('agg1'), [a.account.address], [], []])
    const t = (await admin.publicClient.readContract({ address: fl, abi: FederatedTrainingAbi, functionName: 'taskOf', args: [task] })) as { round: number; done: boolean }
    assert.deepEqual([t.round, t.done], [2, false])
    // Round 2: both commit; b is rejected with reason 5 (norm); the task completes.
    await send(a, 'commitUpdate', [task, 2, h('u4'), h('sealed-u4'), 10n, h('m4')])
    await send(b, 'commitUpdate', [task, 2, h('u5'), h('sealed-u5'), 10n, h('m5')])
    await send(aggregator, 'finalizeRound', [task, 2, h('final'), [a.account.address], [b.account.address], [5]])
    const done = (await admin.publicClient.readContract({ address: fl, abi: FederatedTrainingAbi, functionName: 'taskOf', args: [task] })) as { done: boolean; finalModel: Hex }
    assert.deepEqual([done.done, done.finalModel], [true, h('final')])
    assert.equal(await revertName(simulate(a, 'commitUpdate', [task, 3, h('u6'), h('sealed-u6'), 10n, h('m6')])), 'FederatedTrainingTaskDone')
  })
})
