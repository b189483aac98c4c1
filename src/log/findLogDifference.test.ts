import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { generateEd25519 } from '../crypto/index.js'
import { openDatabase, type Db } from '../db/index.js'
import { describeEntry, findLogDifference, hashLeaf, listCheckpoints, recordCheckpoint, SqliteLog, type LogSigner } from './index.js'

const pair = generateEd25519()
const signer: LogSigner = { origin: 'test.log/find', privateKey: pair.privateKey, publicKey: pair.publicKeyBytes }
const entry = (i: number) => Buffer.from(`{"type":"test/v1","i":${i}}`)

/** A log of 10 entries with signed checkpoints at sizes 4 and 9. */
function signedLog(): { db: Db; log: SqliteLog } {
  const db = openDatabase(join(mkdtempSync(join(tmpdir(), 'provena-find-')), 'db.sqlite'))
  const log = new SqliteLog(db)
  log.append([0, 1, 2, 3].map(entry))
  recordCheckpoint(db, log, signer)
  log.append([4, 5, 6, 7, 8].map(entry))
  recordCheckpoint(db, log, signer)
  log.append([entry(9)])
  return { db, log }
}
const check = (db: Db, log: SqliteLog) => findLogDifference(log.entries(), listCheckpoints(db), signer)

describe('findLogDifference: the log recomputed from its bytes against its signed checkpoints', () => {
  it('finds nothing in an untouched log', () => {
    const { db, log } = signedLog()
    assert.equal(check(db, log), undefined)
  })

  it('names the entry whose bytes no longer hash to their stored leaf hash', () => {
    const { db, log } = signedLog()
    db.prepare('UPDATE log_entries SET leaf = ? WHERE idx = 6').run(Buffer.from('{"type":"test/v1","i":666}'))
    const d = check(db, log)
    assert.equal(d?.kind, 'leaf')
    assert.equal(d.kind === 'leaf' && d.index, 6)
    assert.equal(describeEntry(d.kind === 'leaf' ? d.leaf : Buffer.alloc(0)), 'test/v1: {"type":"test/v1","i":666}')
  })

  it('names the range between checkpoints when the stored leaf hash was rewritten too', () => {
    const { db, log } = signedLog()
    const leaf = Buffer.from('{"type":"test/v1","i":666}')
    db.prepare('UPDATE log_entries SET leaf = ?, leaf_hash = ? WHERE idx = 6').run(leaf, hashLeaf(leaf))
    assert.deepEqual(
      (({ kind, from, treeSize }) => ({ kind, from, treeSize }))(check(db, log) as { kind: string; from: number; treeSize: number }),
      { kind: 'root', from: 4, treeSize: 9 },
    )
  })

  it('refuses a checkpoint not signed by the log key, and one beyond the log', () => {
    const { db, log } = signedLog()
    db.prepare('UPDATE log_checkpoints SET signature = ? WHERE tree_size = 9').run(Buffer.alloc(64))
    assert.deepEqual(check(db, log), { kind: 'signature', treeSize: 9 })
    const { db: db2, log: log2 } = signedLog()
    const c = listCheckpoints(db2)
    assert.deepEqual(findLogDifference(log2.entries(0, 8), c, signer), { kind: 'missing', treeSize: 9, size: 8 })
  })
})

describe('describeEntry', () => {
  it('gives the event type and the first bytes, as text or hex', () => {
    assert.equal(describeEntry(Buffer.from('{"type":"a/v1","x":1}')), 'a/v1: {"type":"a/v1","x":1}')
    assert.equal(describeEntry(Buffer.from('plain text')), 'plain text')
    // The top-level type, not a nested one that comes first in canonical order.
    assert.equal(describeEntry(Buffer.from('{"evidence":{"type":"x"},"type":"b/v1"}'), 8), 'b/v1: {"eviden… (39 bytes)')
    assert.equal(describeEntry(Buffer.of(0, 1, 255)), '0x0001ff')
    assert.equal(describeEntry(Buffer.alloc(60, 0x61), 4), 'aaaa… (60 bytes)')
  })
})
