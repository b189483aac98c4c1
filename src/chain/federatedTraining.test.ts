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
  let c: ChainClient
  let stranger: ChainClient
  let fl: Address
  let policy: Address
  before(async () => {
    chain = await startTestChain()
    ;[admin, aggregator, a, b, c, stranger] = await fundedClients(chain.rpcUrl, 6)
    const registry = (await deployContract(admin, 'AssetRegistry', [admin.account.address])).address
    policy = (await deployContract(admin, 'AccessPolicy', [admin.account.address, registry])).address
    for (const [m, r] of [
      [aggregator, 'PROCESSOR_ROLE'],
      [a, 'CONTROLLER_ROLE'],
      [b, 'CONTROLLER_ROLE'],
      [c, 'CONTROLLER_ROLE'],
    ] as const) {
      const hash = await admin.walletClient.writeContract({ address: policy, abi: AccessPolicyAbi, functionName: 'addMember', args: [m.account.address, role(r)], account: admin.account, chain: admin.chain })
      await admin.publicClient.waitForTransactionReceipt({ hash })
    }
    fl = (await deployContract(admin, 'FederatedTraining', [policy])).address
  })
  after(async () => chain.stop())

  const simulate = (who: ChainClient, functionName: string, args: readonly unknown[]) =>
    who.publicClient.simulateContract({ address: fl, abi: FederatedTrainingAbi, functionName, args, account: who.account } as never)
  const send = async (who: ChainClient, functionName: string, args: readonly unknown[]) => {
    const { request } = await simulate(who, functionName, args)
    const r = await who.publicClient.waitForTransactionReceipt({ hash: await who.walletClient.writeContract(request as never) })
    assert.equal(r.status, 'success')
    return r
  }

  it('only members create tasks, with members as participants and sane parameters', async () => {
    assert.equal(await revertName(simulate(stranger, 'createTask', [h('spec'), h('p'), [a.account.address], 1, 1, 60n])), 'FederatedTrainingNotMember')
    assert.equal(await revertName(simulate(aggregator, 'createTask', [h('spec'), h('p'), [a.account.address, stranger.account.address], 1, 1, 60n])), 'FederatedTrainingNotMember')
    assert.equal(await revertName(simulate(aggregator, 'createTask', [h('spec'), h('p'), [a.account.address], 1, 2, 60n])), 'FederatedTrainingInvalidMinClients')
    assert.equal(await revertName(simulate(aggregator, 'createTask', [h('spec'), h('p'), [a.account.address], 0, 1, 60n])), 'FederatedTrainingInvalidRounds')
    await send(aggregator, 'createTask', [h('spec'), h('p'), [a.account.address, b.account.address], 2, 2, 60n])
  })

  it('commitments: participants only, once a round, no replay, not after the deadline; finalisation waits for the minimum or the deadline', async () => {
    const task = 1n
    assert.equal(await revertName(simulate(stranger, 'commitUpdate', [task, 1, h('u0'), h('sealed-u0'), 10n, h('m0')])), 'FederatedTrainingNotMember')
    assert.equal(await revertName(simulate(aggregator, 'commitUpdate', [task, 1, h('u0'), h('sealed-u0'), 10n, h('m0')])), 'FederatedTrainingNotParticipant')
    assert.equal(await revertName(simulate(a, 'commitUpdate', [task, 2, h('u1'), h('sealed-u1'), 10n, h('m1')])), 'FederatedTrainingWrongRound')
    await send(a, 'commitUpdate', [task, 1, h('u1'), h('sealed-u1'), 10n, h('m1')])
    assert.equal(await revertName(simulate(a, 'commitUpdate', [task, 1, h('u2'), h('sealed-u2'), 10n, h('m1')])), 'FederatedTrainingAlreadyCommitted')
    // Another client may commit the same digest (replays are per client: nobody is locked out).
    assert.equal((await simulate(b, 'commitUpdate', [task, 1, h('u1'), h('sealed-u1'), 10n, h('m1')])).result, undefined)
    // One of two committed, before the deadline: too early; only the aggregator finalises.
    assert.equal(await revertName(simulate(aggregator, 'finalizeRound', [task, 1, h('agg1'), [a.account.address], [], []])), 'FederatedTrainingTooFewClients')
    assert.equal(await revertName(simulate(a, 'finalizeRound', [task, 1, h('agg1'), [a.account.address], [], []])), 'FederatedTrainingNotAggregator')
    await admin.publicClient.request({ method: 'evm_increaseTime', params: [61] } as never)
    await admin.publicClient.request({ method: 'evm_mine', params: [] } as never)
    assert.equal(await revertName(simulate(b, 'commitUpdate', [task, 1, h('u3'), h('sealed-u3'), 10n, h('m3')])), 'FederatedTrainingRoundClosed')
    // Every committed client must be accepted or rejected, with one reason per rejection.
    assert.equal(await revertName(simulate(aggregator, 'finalizeRound', [task, 1, h('agg1'), [], [], []])), 'FederatedTrainingClientNotSettled')
    assert.equal(await revertName(simulate(aggregator, 'finalizeRound', [task, 1, h('agg1'), [], [a.account.address], []])), 'FederatedTrainingReasonsMismatch')
    assert.equal(await revertName(simulate(aggregator, 'finalizeRound', [task, 1, h('agg1'), [b.account.address], [], []])), 'FederatedTrainingNotCommitted')
    await send(aggregator, 'finalizeRound', [task, 1, h('agg1'), [a.account.address], [], []])
    const t = (await admin.publicClient.readContract({ address: fl, abi: FederatedTrainingAbi, functionName: 'taskOf', args: [task] })) as { round: number; done: boolean }
    assert.deepEqual([t.round, t.done], [2, false])
    // Round 2: a client may not replay its own earlier digest; both commit; b is rejected with reason 5 (norm); the task completes.
    assert.equal(await revertName(simulate(a, 'commitUpdate', [task, 2, h('u1'), h('sealed-u1'), 10n, h('m1')])), 'FederatedTrainingReplayedUpdate')
    await send(a, 'commitUpdate', [task, 2, h('u4'), h('sealed-u4'), 10n, h('m4')])
    await send(b, 'commitUpdate', [task, 2, h('u5'), h('sealed-u5'), 10n, h('m5')])
    await send(aggregator, 'finalizeRound', [task, 2, h('final'), [a.account.address], [b.account.address], [5]])
    const done = (await admin.publicClient.readContract({ address: fl, abi: FederatedTrainingAbi, functionName: 'taskOf', args: [task] })) as { done: boolean; finalModel: Hex }
    assert.deepEqual([done.done, done.finalModel], [true, h('final')])
    assert.equal(await revertName(simulate(a, 'commitUpdate', [task, 3, h('u6'), h('sealed-u6'), 10n, h('m6')])), 'FederatedTrainingTaskDone')
  })

  const read = (functionName: string, args: readonly unknown[]) => admin.publicClient.readContract({ address: fl, abi: FederatedTrainingAbi, functionName, args } as never) as Promise<unknown>
  const newTask = async (participants: ChainClient[], rounds: number, minClients: number, roundTimeout: bigint) => {
    await send(aggregator, 'createTask', [h('spec'), h('p'), participants.map((x) => x.account.address), rounds, minClients, roundTimeout])
    return (await read('taskCount', [])) as bigint
  }
  const later = async (seconds: number) => {
    await admin.publicClient.request({ method: 'evm_increaseTime', params: [seconds] } as never)
    await admin.publicClient.request({ method: 'evm_mine', params: [] } as never)
  }

  it('finalisation settles every committed client exactly once: no [B,B] dropping C, no B accepted and rejected (issue 12)', async () => {
    const task = await newTask([a, b, c], 1, 2, 60n)
    await send(b, 'commitUpdate', [task, 1, h('e-b'), h('sealed-e-b'), 10n, h('m')])
    await send(c, 'commitUpdate', [task, 1, h('e-c'), h('sealed-e-c'), 10n, h('m')])
    const B = b.account.address
    const C = c.account.address
    assert.equal(await revertName(simulate(aggregator, 'finalizeRound', [task, 1, h('agg'), [B, B], [], []])), 'FederatedTrainingClientSettledTwice')
    assert.equal(await revertName(simulate(aggregator, 'finalizeRound', [task, 1, h('agg'), [B], [B], [5]])), 'FederatedTrainingClientSettledTwice')
    assert.equal(await revertName(simulate(aggregator, 'finalizeRound', [task, 1, h('agg'), [B], [], []])), 'FederatedTrainingClientNotSettled')
    assert.equal(await revertName(simulate(aggregator, 'finalizeRound', [task, 1, h('agg'), [B, C, a.account.address], [], []])), 'FederatedTrainingNotCommitted')
    const r = await send(aggregator, 'finalizeRound', [task, 1, h('agg'), [B], [C], [8]])
    assert.equal(r.status, 'success')
    const outcome = async (x: ChainClient) => ((await read('commitmentOf', [task, 1, x.account.address])) as { outcome: number }).outcome
    assert.deepEqual([await outcome(b), await outcome(c), await outcome(a)], [1, 2, 0])
  })

  it("replay protection is per client: committing a victim's digest first does not lock the victim out (issue 12)", async () => {
    const task = await newTask([a, b], 2, 2, 60n)
    const victims = h('victim update')
    await send(b, 'commitUpdate', [task, 1, victims, h('sealed-b'), 10n, h('m')])
    await send(a, 'commitUpdate', [task, 1, victims, h('sealed-a'), 10n, h('m')])
    await send(aggregator, 'finalizeRound', [task, 1, h('agg'), [a.account.address], [b.account.address], [7]])
    // The victim replaying its own update in a later round is still refused.
    assert.equal(await revertName(simulate(a, 'commitUpdate', [task, 2, victims, h('sealed-a2'), 10n, h('m')])), 'FederatedTrainingReplayedUpdate')
  })

  it('a round timeout that would overflow the deadline is refused at creation; the maximum works (issue 12)', async () => {
    assert.equal(await revertName(simulate(aggregator, 'createTask', [h('spec'), h('p'), [a.account.address], 1, 1, 2n ** 64n - 1n])), 'FederatedTrainingInvalidRoundTimeout')
    assert.equal(await revertName(simulate(aggregator, 'createTask', [h('spec'), h('p'), [a.account.address], 1, 1, 0n])), 'FederatedTrainingInvalidRoundTimeout')
    const max = (await read('MAX_ROUND_TIMEOUT', [])) as bigint
    assert.equal(max, 365n * 24n * 3600n)
    const task = await newTask([a], 1, 1, max)
    const t = (await read('taskOf', [task])) as { roundStartedAt: bigint }
    assert.equal(await read('deadlineOf', [task]), t.roundStartedAt + max)
    await send(a, 'commitUpdate', [task, 1, h('t-a'), h('sealed-t-a'), 10n, h('m')])
    await send(aggregator, 'finalizeRound', [task, 1, h('final'), [a.account.address], [], []])
  })

  it('a round nobody committed to is finalised after its deadline, and the aggregator cancels a task (issue 12)', async () => {
    const task = await newTask([a, b], 2, 1, 60n)
    assert.equal(await revertName(simulate(aggregator, 'finalizeRound', [task, 1, h('init'), [], [], []])), 'FederatedTrainingTooFewClients')
    await later(61)
    const r = await send(aggregator, 'finalizeRound', [task, 1, h('init'), [], [], []])
    assert.equal(r.logs.length, 3, 'two ClientDropped and RoundFinalized')
    assert.equal(((await read('taskOf', [task])) as { round: number }).round, 2)
    assert.equal(await revertName(simulate(a, 'cancelTask', [task])), 'FederatedTrainingNotAggregator')
    // An aggregator removed from the consortium publishes no aggregate, but may still stop its task.
    const setRole = async (functionName: 'addMember' | 'removeMember') =>
      admin.publicClient.waitForTransactionReceipt({
        hash: await admin.walletClient.writeContract({ address: policy, abi: AccessPolicyAbi, functionName, args: [aggregator.account.address, role('PROCESSOR_ROLE')], account: admin.account, chain: admin.chain }),
      })
    await setRole('removeMember')
    await later(61)
    assert.equal(await revertName(simulate(aggregator, 'finalizeRound', [task, 2, h('init'), [], [], []])), 'FederatedTrainingNotMember')
    await send(aggregator, 'cancelTask', [task])
    await setRole('addMember')
    const t = (await read('taskOf', [task])) as { done: boolean; cancelled: boolean; finalModel: Hex }
    assert.deepEqual([t.done, t.cancelled, t.finalModel], [true, true, `0x${'00'.repeat(32)}`])
    assert.equal(await revertName(simulate(a, 'commitUpdate', [task, 2, h('x'), h('sealed-x'), 10n, h('m')])), 'FederatedTrainingTaskDone')
    assert.equal(await revertName(simulate(aggregator, 'finalizeRound', [task, 2, h('x'), [], [], []])), 'FederatedTrainingTaskDone')
    assert.equal(await revertName(simulate(aggregator, 'cancelTask', [task])), 'FederatedTrainingTaskDone')
  })
})
