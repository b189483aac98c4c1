import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { createPublicClient, http, type Address, type PublicClient } from 'viem'
import { AccessPolicyAbi, FederatedTrainingAbi } from '../chain/index.js'
import { runCli } from '../testing.js'

/**
 * Issue 12, point 6: grants, dataset claims, erasure announcements and FL commitments and
 * finalisations go through the one outbox. Each is killed (SIGKILL) at every step: after
 * the decision is committed, after the signed transaction is recorded, after it is
 * broadcast (before its receipt); the same command run again leaves exactly one on-chain
 * effect and one log entry.
 */
const FAULTS = ['outbox:after-decided', 'outbox:after-sent', 'outbox:after-broadcast'] as const
const PURPOSES = ['dpv:ScientificResearch', 'dpv:AcademicResearch', 'dpv:CommercialResearch'] as const

describe('every chain write survives a kill at every step, exactly once (grant, claim, erasure, FL commit, FL finalisation)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'provena-outbox-crash-'))
  const work = mkdtempSync(join(tmpdir(), 'provena-outbox-crash-files-'))
  const env = { PROVENA_PASSPHRASE: 'pw for tests' }
  const cli = (args: string[], fault?: string) => runCli([...args, '--dir', dir], { ...env, PROVENA_FAULT: fault })
  let pc: PublicClient
  let contracts: { AccessPolicy: Address; FederatedTraining: Address }
  let fromBlock = 0n
  const address = async (name: string) => (await cli(['identity', 'list', '--json'])).json<{ identities: { name: string; address: Address }[] }>().identities.find((i) => i.name === name)!.address
  const logEvents = async (type: string) =>
    (await cli(['log', 'entries', '--json'])).json<{ entries: { leaf: string }[] }>().entries.map((e) => JSON.parse(Buffer.from(e.leaf, 'base64').toString('utf8')) as Record<string, unknown>).filter((e) => e.type === type)
  const events = (abi: typeof AccessPolicyAbi | typeof FederatedTrainingAbi, at: Address, eventName: string, args: Record<string, unknown>) =>
    pc.getContractEvents({ address: at, abi, eventName, args, fromBlock } as never) as Promise<{ args: Record<string, unknown> }[]>
  const killedThenRerun = async (args: string[], fault: string) => {
    const killed = await cli(args, fault)
    assert.equal(killed.signal, 'SIGKILL', `${args.join(' ')} with PROVENA_FAULT=${fault} was not killed: this write does not go through the outbox (exit ${killed.code}: ${killed.stderr})`)
    const rerun = await cli([...args, '--json'])
    assert.equal(rerun.code, 0, `${fault}: ${rerun.stdout}${rerun.stderr}`)
    return rerun
  }
  const header = 'patient,x,target'
  const csv = (name: string, subjects: string[]) => {
    const file = join(work, name)
    writeFileSync(file, `${header}\n${subjects.map((s, i) => `${s},${i % 7},${i % 2}`).join('\n')}\n`)
    return file
  }

  before(async () => {
    assert.equal((await cli(['init'])).code, 0)
    assert.equal((await cli(['node', 'start'])).code, 0)
    for (const [name, role] of [
      ['st-mary', 'controller'],
      ['lab', 'trainer'],
      ['agg', 'processor'],
    ]) {
      const r = await cli(['identity', 'create', name!, '--role', role!])
      assert.equal(r.code, 0, r.stderr)
    }
    const info = (await cli(['chain', 'info', '--json'])).json<{ rpcUrl: string; contracts: typeof contracts }>()
    pc = createPublicClient({ transport: http(info.rpcUrl) }) as PublicClient
    contracts = info.contracts
  })
  after(async () => void (await cli(['node', 'stop'])))

  const datasets: string[] = []
  it('dataset claim: `dataset import` killed at each step, run again: claimed once for its controller', async () => {
    for (const [k, fault] of FAULTS.entries()) {
      const subjects = Array.from({ length: 12 }, (_, i) => `S${k}-${i}`)
      const file = csv(`d${k}.csv`, subjects)
      const r = await killedThenRerun(['dataset', 'import', file, '--subject-column', 'patient', '--as', 'st-mary'], `${fault}:claim`)
      const id = r.json<{ id: string }>().id
      datasets.push(id)
      const claimed = await events(AccessPolicyAbi, contracts.AccessPolicy, 'DatasetClaimed', { dataset: `0x${id}` })
      assert.equal(claimed.length, 1, `${fault}: one DatasetClaimed`)
      assert.equal(String(claimed[0]!.args.owner).toLowerCase(), (await address('st-mary')).toLowerCase())
      assert.equal((await logEvents('provena.asset.registered/v1')).filter((e) => (e.asset as { id: string }).id === id).length, 1, `${fault}: one registration entry`)
    }
  })

  it('access grant: killed at each step, run again: one AccessGranted, one log entry', async () => {
    const lab = (await address('lab')).toLowerCase()
    for (const [k, fault] of FAULTS.entries()) {
      const purpose = PURPOSES[k]!
      await killedThenRerun(['access', 'grant', datasets[0]!, '--to', 'lab', '--purpose', purpose, '--as', 'st-mary'], `${fault}:grant`)
      const granted = (await events(AccessPolicyAbi, contracts.AccessPolicy, 'AccessGranted', { dataset: `0x${datasets[0]}` })).filter((e) => String(e.args.grantee).toLowerCase() === lab)
      assert.equal(granted.length, k + 1, `${fault}: one AccessGranted per grant`)
      assert.equal((await logEvents('provena.access.granted/v1')).filter((e) => e.purpose === purpose).length, 1, `${fault}: one log entry`)
    }
  })

  it('subject erase: killed at each step, run again: one SubjectErased announcement, one log entry', async () => {
    for (const [k, fault] of FAULTS.entries()) {
      const r = await killedThenRerun(['subject', 'erase', `S${k}-0`, '--as', 'st-mary'], `${fault}:erasure`)
      const pseudonym = r.json<{ pseudonym: string }>().pseudonym
      assert.equal((await events(AccessPolicyAbi, contracts.AccessPolicy, 'SubjectErased', { pseudonym: `0x${pseudonym}` })).length, 1, `${fault}: one announcement`)
      assert.equal((await logEvents('provena.subject.erased/v1')).filter((e) => e.pseudonym === pseudonym).length, 1, `${fault}: one log entry`)
    }
  })

  it('FL commit and finalisation: each round killed at one step, run again: one UpdateCommitted and one RoundFinalized, one log entry each', async () => {
    // The controller's own dataset, with consent for the task's purpose.
    const subjects = Array.from({ length: 24 }, (_, i) => `F-${i}`)
    const imported = await cli(['dataset', 'import', csv('fl.csv', subjects), '--subject-column', 'patient', '--as', 'st-mary', '--json'])
    assert.equal(imported.code, 0, imported.stderr)
    const dataset = imported.json<{ id: string }>().id
    const consents = join(work, 'consents.csv')
    writeFileSync(consents, `subject,purpose,action\n${subjects.map((s) => `${s},${PURPOSES[0]},grant`).join('\n')}\n`)
    assert.equal((await cli(['consent', 'import', consents, '--as', 'st-mary'])).code, 0)
    const created = await cli(['fl', 'task', 'create', '--model-spec', 'logistic', '--features', '1', '--purpose', PURPOSES[0], '--participants', 'st-mary', '--rounds', String(FAULTS.length), '--as', 'agg', '--json'])
    assert.equal(created.code, 0, created.stderr)
    const task = created.json<{ task: number }>().task
    const client = (await address('st-mary')).toLowerCase()
    for (const [k, fault] of FAULTS.entries()) {
      const round = k + 1
      await killedThenRerun(['fl', 'client', 'run', '--task', String(task), '--dataset', dataset, '--as', 'st-mary'], `${fault}:fl-commit`)
      const committed = (await events(FederatedTrainingAbi, contracts.FederatedTraining, 'UpdateCommitted', { task: BigInt(task), round })).filter((e) => String(e.args.client).toLowerCase() === client)
      assert.equal(committed.length, 1, `${fault}: one commitment in round ${round}`)
      assert.equal((await logEvents('provena.fl.update-committed/v1')).filter((e) => e.task === task && e.round === round).length, 1, `${fault}: one commitment entry`)

      const r = await killedThenRerun(['fl', 'aggregate', '--task', String(task), '--as', 'agg'], `${fault}:fl-finalize`)
      assert.equal(r.json<{ round: number }>().round, round)
      assert.equal((await events(FederatedTrainingAbi, contracts.FederatedTraining, 'RoundFinalized', { task: BigInt(task), round })).length, 1, `${fault}: one finalisation of round ${round}`)
      assert.equal((await logEvents('provena.fl.round/v1')).filter((e) => e.task === task && e.round === round).length, 1, `${fault}: one round entry`)
    }
    // The last round registered the final model, once.
    const models = (await logEvents('provena.asset.registered/v1')).filter((e) => (e.asset as { kind: string; name: string }).kind === 'model')
    assert.equal(models.length, 1)
    const v = await cli(['verify', '--json'])
    assert.equal(v.code, 0, v.stdout)
  })

  it('a write signed by an identity whose key is not unlocked waits, is named on stderr, and is sent by the next command run as it', async () => {
    // Killed after deciding: the grant's row waits for st-mary's key.
    const killed = await cli(['access', 'grant', datasets[1]!, '--to', 'lab', '--purpose', PURPOSES[0], '--as', 'st-mary'], 'outbox:after-decided:grant')
    assert.equal(killed.signal, 'SIGKILL')
    const other = await cli(['log', 'checkpoint'])
    assert.equal(other.code, 0, other.stderr)
    assert.match(other.stderr, /1 chain write\(s\) wait for st-mary's key \(grant\)/)
    assert.equal((await events(AccessPolicyAbi, contracts.AccessPolicy, 'AccessGranted', { dataset: `0x${datasets[1]}` })).length, 0)
    const next = await cli(['access', 'grant', datasets[1]!, '--to', 'lab', '--purpose', PURPOSES[0], '--as', 'st-mary', '--json'])
    assert.equal(next.code, 0, next.stderr)
    assert.equal((await events(AccessPolicyAbi, contracts.AccessPolicy, 'AccessGranted', { dataset: `0x${datasets[1]}` })).length, 1)
    assert.equal((await logEvents('provena.access.granted/v1')).filter((e) => e.dataset === datasets[1]).length, 1)
    assert.doesNotMatch((await cli(['log', 'checkpoint'])).stderr, /wait for/)
  })
})

