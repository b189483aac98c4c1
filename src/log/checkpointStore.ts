import type { KeyObject } from 'node:crypto'
import type { Db } from '../db/index.js'
import { signCheckpoint } from './checkpoint.js'
import type { SqliteLog } from './sqliteLog.js'

/** The log operator's signing identity: the origin line doubles as the note key name. */
export interface LogSigner {
  origin: string
  privateKey: KeyObject
  publicKey: Buffer
}

/** A checkpoint the operator signed, as stored. */
export interface StoredCheckpoint {
  treeSize: number
  rootHash: Buffer
  mapRoot: Buffer
  note: string
  signature: Buffer
  createdAt: number
}

/** 32 zero bytes: the map root of a log that keeps no state map yet. */
export const EMPTY_MAP_ROOT = Buffer.alloc(32)

/**
 * Signs a checkpoint of the log's current size and stores it; returns the stored one when
 * a checkpoint of that size exists already (signing is idempotent per size).
 */
export function recordCheckpoint(db: Db, log: SqliteLog, signer: LogSigner, mapRoot: Buffer = EMPTY_MAP_ROOT, now = Date.now()): StoredCheckpoint {
  return db.transaction(() => {
    const treeSize = log.size()
    const existing = checkpointAt(db, treeSize)
    if (existing) return existing
    const rootHash = log.rootAt(treeSize)
    const { note, signature } = signCheckpoint({ origin: signer.origin, treeSize, rootHash, mapRoot }, signer.origin, signer.privateKey, signer.publicKey)
    db.prepare('INSERT INTO log_checkpoints (tree_size, root_hash, map_root, note, signature, created_at) VALUES (?, ?, ?, ?, ?, ?)').run(
      treeSize,
      rootHash,
      mapRoot,
      note,
      signature,
      now,
    )
    return { treeSize, rootHash, mapRoot, note, signature, createdAt: now }
  })()
}

/** The stored checkpoint of `treeSize`, if any. */
export function checkpointAt(db: Db, treeSize: number): StoredCheckpoint | undefined {
  const row = db.prepare('SELECT * FROM log_checkpoints WHERE tree_size = ?').get(treeSize) as CheckpointRow | undefined
  return row && fromRow(row)
}

/** The newest stored checkpoint, if any. */
export function latestCheckpoint(db: Db): StoredCheckpoint | undefined {
  const row = db.prepare('SELECT * FROM log_checkpoints ORDER BY tree_size DESC LIMIT 1').get() as CheckpointRow | undefined
  return row && fromRow(row)
}

/** Every stored checkpoint, oldest (smallest) first. */
export function listCheckpoints(db: Db): StoredCheckpoint[] {
  return (db.prepare('SELECT * FROM log_checkpoints ORDER BY tree_size').all() as CheckpointRow[]).map(fromRow)
}

interface CheckpointRow {
  tree_size: number
  root_hash: Buffer
  map_root: Buffer
  note: string
  signature: Buffer
  created_at: number
}

function fromRow(r: CheckpointRow): StoredCheckpoint {
  return { treeSize: r.tree_size, rootHash: r.root_hash, mapRoot: r.map_root, note: r.note, signature: r.signature, createdAt: r.created_at }
}
