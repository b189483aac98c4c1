import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import { describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { openDatabase } from './openDatabase.js'
import { migrations } from './migrations.js'
import { placeOf } from '../access/index.js'
import { destroySalts, readRecordChunks, recordLine } from '../registry/index.js'

describe('schema migrations', () => {
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

  it('schema 6 moves a schema-5 data dir\'s per-record rows onto integer handles, losing nothing', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'provena-migrate-')), 'provena.db')
    const old = new Database(path)
    for (const m of migrations.filter((m) => m.version <= 5)) old.exec(m.sql)
    old.pragma('user_version = 5')
    const d1 = 'a'.repeat(64)
    const d2 = 'b'.repeat(64)
    old.prepare('INSERT INTO access_datasets VALUES (?, ?, ?, ?, ?)').run(d1, 'did:key:c1', 'id', 'csv', '["id","x"]')
    old.prepare('INSERT INTO access_datasets VALUES (?, ?, ?, ?, ?)').run(d2, 'did:key:c2', 'id', 'jsonl', null)
    const key = old.prepare('INSERT INTO access_subject_keys (controller, pseudonym, wrapped_key, created_at, erased_at, block, slot) VALUES (?, ?, ?, ?, ?, ?, ?)')
    key.run('did:key:c1', 'p1', null, 1, null, 1, 0)
    key.run('did:key:c1', 'p2', null, 1, 5, 1, 1)
    key.run('did:key:c2', 'p1', Buffer.from('wrapped'), 1, null, null, null) // same pseudonym, other controller
    const rec = old.prepare('INSERT INTO access_records VALUES (?, ?, ?, ?, ?, ?)')
    rec.run(d1, 0, 'p1', 'cidA', 0, 100)
    rec.run(d1, 1, 'p2', 'cidA', 100, 90)
    rec.run(d1, 2, 'p1', 'cidB', 0, 80)
    rec.run(d2, 0, 'p1', 'cidC', 0, 70)
    old.close()

    const db = openDatabase(path)
    const datasetNo = (d: string) => db.prepare('SELECT id FROM access_datasets WHERE dataset = ?').pluck().get(d) as number
    const subject = db.prepare('SELECT c.did, k.pseudonym, k.erased_at, k.wrapped_key FROM access_subject_keys k JOIN access_controllers c ON c.id = k.controller WHERE k.id = ?').raw()
    const cid = db.prepare('SELECT cid FROM access_segments WHERE id = ?').pluck()
    const rows = [
      [d1, 0],
      [d1, 1],
      [d1, 2],
      [d2, 0],
    ].map(([d, i]) => {
      const place = placeOf(db, datasetNo(d as string), i as number)!
      return [d, i, ...(subject.get(place.subject) as unknown[]).slice(0, 2), cid.get(place.segment), place.offset, place.length, ...(subject.get(place.subject) as unknown[]).slice(2)]
    })
    assert.deepEqual(rows, [
      [d1, 0, 'did:key:c1', 'p1', 'cidA', 0, 100, null, null],
      [d1, 1, 'did:key:c1', 'p2', 'cidA', 100, 90, 5, null],
      [d1, 2, 'did:key:c1', 'p1', 'cidB', 0, 80, null, null],
      [d2, 0, 'did:key:c2', 'p1', 'cidC', 0, 70, null, Buffer.from('wrapped')],
    ])
    assert.equal(placeOf(db, datasetNo(d1), 3), undefined)
    assert.equal(db.prepare("SELECT count(*) FROM sqlite_master WHERE name LIKE 'access_records%'").pluck().get(), 0, 'the per-record rows are gone')
    assert.equal(db.prepare('SELECT count(*) FROM access_segments').pluck().get(), 3)
    assert.deepEqual(db.prepare('SELECT block, slot FROM access_subject_keys k JOIN access_controllers c ON c.id = k.controller WHERE c.did = ? AND pseudonym = ?').raw().get('did:key:c1', 'p2'), [1, 1])
    // Whose records, by subject, in the table kept for it.
    assert.deepEqual(db.prepare('SELECT subject, dataset, idx FROM access_subject_records ORDER BY subject, dataset, idx').raw().all(), [
      [1, 1, 0],
      [1, 1, 2],
      [2, 1, 1],
      [3, 2, 0],
    ])
    db.close()
  })
})
