import Database from 'better-sqlite3'
import { closeSync, existsSync, openSync, statSync } from 'node:fs'
import { checkpointWal } from './checkpointWal.js'
import { narrowMode } from './narrowMode.js'
import { dbErrors } from './errors.js'
import { LATEST_SCHEMA_VERSION, migrations } from './migrations.js'

export type Db = Database.Database

/**
 * Opens (creating if needed) the SQLite database at `path` in WAL mode with
 * synchronous=FULL, and migrates it to the latest schema. Refuses a database whose
 * schema is newer than this code (DB_TOO_NEW) rather than guess at it.
 */
export function openDatabase(path: string): Db {
  let db: Db
  try {
    // WARNING: the database holds data keys and salts. Made 0600 before SQLite opens it
    // (SQLite gives -wal and -shm the main file's mode); an older file is narrowed too.
    if (path !== ':memory:' && !path.startsWith('file:')) restrictFiles(path)
    db = new Database(path)
  } catch (cause) {
    throw dbErrors.cannotOpen(path, cause)
  }
  try {
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = FULL')
    db.pragma('foreign_keys = ON')
    // Deleted content is overwritten, not left in free pages: erased keys must not linger.
    db.pragma('secure_delete = ON')
    // A WAL left behind (an erasure that met a reader, a crash): copy it in now if no one
    // else reads, without waiting for anyone. Erased keys must not linger in it.
    if (existsSync(`${path}-wal`) && statSync(`${path}-wal`).size > 0) checkpointWal(db, { attempts: 1, busyMs: 0 })
    db.pragma('busy_timeout = 10000')
    migrate(db, path)
    return db
  } catch (error) {
    db.close()
    throw error
  }
}

/** Applies the pending migrations, each in its own transaction. */
export function migrate(db: Db, path = db.name): void {
  const current = db.pragma('user_version', { simple: true }) as number
  if (current > LATEST_SCHEMA_VERSION) throw dbErrors.tooNew(path, current, LATEST_SCHEMA_VERSION)
  for (const m of migrations) {
    if (m.version <= current) continue
    db.transaction(() => {
      db.exec(m.sql)
      m.run?.(db)
      db.pragma(`user_version = ${m.version}`)
    })()
  }
}


/** Creates `path` (mode 0600) if missing and narrows it and its -wal and -shm to 0600. */
function restrictFiles(path: string): void {
  if (!existsSync(path)) closeSync(openSync(path, 'a', 0o600))
  for (const f of [path, `${path}-wal`, `${path}-shm`]) {
    if (existsSync(f)) narrowMode(f, 0o600)
  }
}
