import Database from 'better-sqlite3'
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

