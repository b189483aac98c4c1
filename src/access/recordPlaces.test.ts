import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { migrations, openDatabase } from '../db/index.js'
import { placeOf } from './index.js'

describe('record places', () => {
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
