import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { aeadSeal } from '../crypto/index.js'
import { openDatabase } from '../db/index.js'
import { SubjectKeyVault } from './keyVault.js'

describe('subject key vault (keys sealed in blocks)', () => {
  it('keeps 2,500 keys in 3 blocks; erasing some re-seals their blocks and leaves the others readable', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'provena-vault-')), 'db.sqlite')
    const db = openDatabase(path)
    const kek = randomBytes(32)
    const vault = new SubjectKeyVault(db, 'did:key:c', kek)
    const keys = new Map(Array.from({ length: 2500 }, (_, i) => [`p${String(i).padStart(5, '0')}`, randomBytes(32)] as const))
    db.transaction(() => vault.insert(keys, 1))()
    assert.equal(db.prepare('SELECT count(*) FROM access_key_blocks').pluck().get(), 3)
    // A fresh vault (nothing cached) opens them from the sealed blocks.
    const reader = new SubjectKeyVault(db, 'did:key:c', kek)
    for (const [p, k] of keys) assert.ok(reader.key(reader.ref(p)!).equals(k))
    const sealedBefore = db.prepare('SELECT sealed FROM access_key_blocks WHERE id = 2').pluck().get() as Buffer
    db.transaction(() => reader.erase(['p01500', 'p01501'], 2))()
    db.pragma('wal_checkpoint(TRUNCATE)')
    const again = new SubjectKeyVault(db, 'did:key:c', kek)
    assert.equal(again.ref('p01500')!.erased, true)
    assert.ok(again.key(again.ref('p01502')!).equals(keys.get('p01502')!), 'a neighbour in the same block')
    assert.ok(again.key(again.ref('p00000')!).equals(keys.get('p00000')!), 'another block')
    assert.equal(readFileSync(path).indexOf(sealedBefore), -1, 'the block as sealed before the erasure is gone from the file')
    // Another controller's key-encryption key opens nothing.
    assert.throws(() => new SubjectKeyVault(db, 'did:key:c', randomBytes(32)).key(again.ref('p00001')!))
  })

  it('still reads and erases keys wrapped one by one (schema 2 data dirs)', () => {
    const db = openDatabase(join(mkdtempSync(join(tmpdir(), 'provena-vault-')), 'db.sqlite'))
    const kek = randomBytes(32)
    const key = randomBytes(32)
    const wrapped = aeadSeal(kek, key, Buffer.from('provena.subject-key/v1:did:key:c:old'))
    const controller = db.prepare('INSERT INTO access_controllers (did) VALUES (?)').run('did:key:c').lastInsertRowid
    db.prepare('INSERT INTO access_subject_keys (controller, pseudonym, wrapped_key, created_at) VALUES (?, ?, ?, ?)').run(controller, 'old', wrapped, 1)
    const vault = new SubjectKeyVault(db, 'did:key:c', kek)
    assert.ok(vault.key(vault.ref('old')!).equals(key))
    vault.erase(['old'], 2)
    const ref = vault.ref('old')!
    assert.deepEqual([ref.erased, ref.wrapped], [true, null])
  })
})
