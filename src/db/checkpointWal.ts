import type Database from 'better-sqlite3'

/** What `PRAGMA wal_checkpoint(TRUNCATE)` reported on the last attempt. */
export interface WalCheckpoint {
  /** Whether every frame of the WAL reached the database and the WAL was truncated. */
  done: boolean
  attempts: number
  /** Frames in the WAL, and how many were copied into the database (-1 when it could not run). */
  log: number
  checkpointed: number
}

/**
 * Copies the write-ahead log into the database and truncates it, retrying while another
 * connection holds a read transaction on an older snapshot (SQLite then answers busy=1
 * and leaves frames behind: https://www.sqlite.org/pragma.html#pragma_wal_checkpoint).
 * Each attempt waits up to `busyMs` for readers; `attempts` tries, `waitMs` apart.
 */
export function checkpointWal(db: Database.Database, opts: { attempts?: number; busyMs?: number; waitMs?: number } = {}): WalCheckpoint {
  const { attempts = 5, busyMs = 500, waitMs = 200 } = opts
  const before = db.pragma('busy_timeout', { simple: true }) as number
  let last: WalCheckpoint = { done: false, attempts: 0, log: -1, checkpointed: -1 }
  try {
    db.pragma(`busy_timeout = ${busyMs}`)
    for (let k = 1; k <= attempts; k++) {
      const [r] = db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number; log: number; checkpointed: number }[]
      last = { done: r!.busy === 0 && r!.log === r!.checkpointed, attempts: k, log: r!.log, checkpointed: r!.checkpointed }
      if (last.done) break
      if (k < attempts) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, waitMs)
    }
  } finally {
    db.pragma(`busy_timeout = ${before}`)
  }
  return last
}
