import assert from 'node:assert/strict'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { dbPath, initDataDir, openProvena } from './index.js'

const mode = (path: string) => statSync(path).mode & 0o777

describe('data dir modes: 0700 for the folder, 0600 for the database, whoever made the folder', () => {
  it('narrows a folder made by mkdir (0755) and creates provena.db, -wal and -shm 0600', () => {
    const old = process.umask(0o022)
    try {
      const dir = join(mkdtempSync(join(tmpdir(), 'provena-modes-')), 'D')
      mkdirSync(dir)
      assert.equal(mode(dir), 0o755)
      initDataDir(dir, 'pw')
      const p = openProvena(dir)
      p.log.append([Buffer.from('{"type":"test/v1"}')])
      assert.equal(mode(dir), 0o700)
      assert.equal(mode(join(dir, 'keys')), 0o700)
      for (const f of [dbPath(dir), `${dbPath(dir)}-wal`, `${dbPath(dir)}-shm`]) {
        assert.ok(existsSync(f), f)
        assert.equal(mode(f), 0o600, f)
      }
      p.close()
    } finally {
      process.umask(old)
    }
  })

  it('narrows an existing data dir left readable by everyone when it is opened', () => {
    const dir = mkdtempSync(join(tmpdir(), 'provena-modes-'))
    initDataDir(dir, 'pw')
    chmodSync(dir, 0o755)
    chmodSync(dbPath(dir), 0o644)
    openProvena(dir).close()
    assert.equal(mode(dir), 0o700)
    assert.equal(mode(dbPath(dir)), 0o600)
  })
})
