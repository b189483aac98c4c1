import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { migrate, migrations, type Db } from '../db/index.js'
import { assetEffect, enqueueOutbox, flushOutbox, listOutbox, listWaitingWrites, LOST_FROM_CHAIN, outboxKinds, recoverOutbox, registerOutboxEffect, type OutboxContext } from './index.js'
import '../access/index.js'
import '../fl/index.js'

/** A database at schema version `upTo`. */
function dbAt(upTo: number): Db {
  const db = new Database(':memory:') as Db
  for (const m of migrations.filter((x) => x.version <= upTo)) {
    db.exec(m.sql)
    m.run?.(db)
    db.pragma(`user_version = ${m.version}`)
  }
  return db
}

describe('the one outbox: effects registered by their domains', () => {
  it('access and fl register their writes beside the operator own; a kind is registered once', () => {
    for (const kind of ['asset', 'checkpoint', 'member', 'claim', 'grant', 'revoke', 'erasure', 'fl-task', 'fl-commit', 'fl-finalize', 'fl-cancel']) assert.ok(outboxKinds().includes(kind), kind)
    assert.throws(() => registerOutboxEffect({ kind: 'grant', key: () => 'x', applied: async () => true, call: async () => ({}) as never }), /registered twice/)
  })

  it("rows written before issue 12 stay readable after the migration: the operator's, reported", () => {
    const db = dbAt(7)
    db.prepare("INSERT INTO chain_outbox (chain, kind, key, payload, status, created_at, updated_at) VALUES ('embedded', 'asset', 'asset:0xab', ?, 'mined', 1, 1)").run(
      JSON.stringify({ id: '0xab', kind: 'dataset', root: '0x00', metadataDigest: '0x00', parents: [] }),
    )
    migrate(db)
    const [row] = listOutbox(db, 'embedded')
    assert.deepEqual([row!.kind, row!.key, row!.signer, row!.reported, row!.result, (row!.payload as { id: string }).id], ['asset', 'asset:0xab', null, true, null, '0xab'])
  })

  it("a write signed by an identity that is not unlocked waits; the operator's are sent around it", async () => {
    const db = dbAt(migrations.at(-1)!.version)
    const operator = '0x00000000000000000000000000000000000000aa'
    const controller = '0x00000000000000000000000000000000000000bb'
    const ctx = { db, client: { chainKey: 'embedded', account: { address: operator } }, deployment: {}, consistencyProof: () => [] } as unknown as OutboxContext
    // Registered in the chain already: flushing marks the operator's row mined without a client call.
    const applied = registerOutboxEffect<{ n: number }>({ kind: 'test-applied', key: (p) => `test-applied:${p.n}`, applied: async () => true, call: async () => ({}) as never })
    enqueueOutbox(db, 'embedded', applied.write({ n: 1 }, controller))
    enqueueOutbox(db, 'embedded', { kind: 'test-applied', payload: { n: 2 } })
    const never = registerOutboxEffect<{ n: number }>({ kind: 'test-pending', key: (p) => `test-pending:${p.n}`, applied: async () => false, call: async () => assert.fail('not sent without its key') })
    enqueueOutbox(db, 'embedded', never.write({ n: 3 }, controller))
    assert.equal(listOutbox(db, 'embedded')[0]!.signer, controller)
    const done = await flushOutbox(ctx)
    assert.deepEqual(done.map((r) => [r.key, r.status]), [
      ['test-applied:1', 'mined'],
      ['test-applied:2', 'mined'],
    ])
    assert.deepEqual(done.waiting?.map((w) => [w.key, w.signer]), [['test-pending:3', controller]])
    assert.deepEqual(listWaitingWrites(ctx).map((w) => w.key), ['test-pending:3'])
    assert.equal(assetEffect.key({ id: '0xab', kind: 'dataset', root: '0x00', metadataDigest: '0x00', parents: [] }), 'asset:0xab')
  })

  it('a chain that lost the blocks of a grant and its revocation gets both again, in order (the revocation is not taken as applied)', async () => {
    const db = dbAt(migrations.at(-1)!.version)
    let granted = false // the chain's state now: it lost both blocks, so nothing is granted
    const effect = (kind: string, applied: () => boolean) =>
      registerOutboxEffect<{ n: number }>({ kind, key: (p) => `${kind}:${p.n}`, applied: async () => applied(), call: async () => ({}) as never })
    const grant = effect('test-grant', () => granted)
    const revoke = effect('test-revoke', () => !granted)
    enqueueOutbox(db, 'embedded', grant.write({ n: 1 }))
    enqueueOutbox(db, 'embedded', revoke.write({ n: 1 }))
    const hashOf = (n: number) => `0x${n.toString(16).padStart(64, '0')}`
    db.prepare("UPDATE chain_outbox SET status = 'mined', block_number = id + 10, block_hash = '0x' || printf('%064x', id + 10)").run()
    // The chain now: block 11 (the grant's) and 12 (the revocation's) are other blocks.
    const client = {
      chainKey: 'embedded',
      account: { address: '0x00000000000000000000000000000000000000aa' },
      publicClient: { getBlockNumber: async () => 12n, getBlock: async ({ blockNumber }: { blockNumber: bigint }) => ({ hash: hashOf(Number(blockNumber) + 1000) }) },
    }
    const ctx = { db, client, deployment: {}, consistencyProof: () => [] } as unknown as OutboxContext
    assert.equal(await recoverOutbox(ctx), 2)
    assert.deepEqual(listOutbox(db, 'embedded').map((r) => [r.key, r.status, r.error]), [
      ['test-grant:1', 'decided', LOST_FROM_CHAIN],
      ['test-revoke:1', 'decided', LOST_FROM_CHAIN],
    ])
  })
})
