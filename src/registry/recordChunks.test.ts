import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { migrations, openDatabase } from '../db/index.js'
import { destroySalts, readRecordChunks, recordLine } from './index.js'

describe('per-record registry data in chunks of 1,024', () => {
  it('schema 7 packs a schema-6 data dir\'s per-record registry rows into chunks of 1,024, erased salts and all', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'provena-migrate-')), 'provena.db')
    const old = new Database(path)
    for (const m of migrations.filter((m) => m.version <= 6)) old.exec(m.sql)
    old.pragma('user_version = 6')
    const put = old.prepare('INSERT INTO registry_records (dataset, idx, line, salt, commitment) VALUES (?, ?, ?, ?, ?)')
    const salt = (d: string, i: number) => (d === 'd1' && i === 1500 ? Buffer.alloc(32) : createHash('sha256').update(`salt ${d} ${i}`).digest())
    const commitment = (d: string, i: number) => createHash('sha256').update(`c ${d} ${i}`).digest()
    const sizes = { d1: 2500, d2: 3 }
    for (const [d, n] of Object.entries(sizes)) for (let i = 0; i < n; i++) put.run(d, i, i + 2, salt(d, i), commitment(d, i))
    old.close()

    const db = openDatabase(path)
    assert.equal(db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'registry_records'").pluck().get(), 0, 'the old table is gone')
    assert.equal(db.prepare("SELECT count(*) FROM registry_record_chunks WHERE dataset = 'd1'").pluck().get(), 3)
    for (const [d, n] of Object.entries(sizes)) {
      const r = readRecordChunks(db, d)
      assert.equal(r.count, n)
      for (let i = 0; i < n; i++) {
        assert.equal(r.lines[i], i + 2)
        assert.ok(r.salts.subarray(32 * i, 32 * i + 32).equals(salt(d, i)), `${d} salt ${i}`)
        assert.ok(r.commitments.subarray(32 * i, 32 * i + 32).equals(commitment(d, i)), `${d} commitment ${i}`)
      }
      assert.equal(recordLine(db, d, n - 1), n + 1)
      assert.equal(recordLine(db, d, n), undefined)
    }
    // Erasure zeroes exactly the salts named, across chunks, and nothing else.
    db.transaction(() => destroySalts(db, 'd1', [0, 1025, 2499]))()
    const after = readRecordChunks(db, 'd1')
    for (let i = 0; i < 2500; i++) {
      const zero = after.salts.subarray(32 * i, 32 * i + 32).equals(Buffer.alloc(32))
      assert.equal(zero, [0, 1025, 1500, 2499].includes(i), `salt ${i}`)
    }
    db.close()
  })
})
