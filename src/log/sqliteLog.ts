import type { Statement } from 'better-sqlite3'
import { insertMany, type Db } from '../db/index.js'
import { borderNodes, CompactRange } from './compactRange.js'
import { logErrors } from './errors.js'
import { hashLeaf } from './hasher.js'
import { consistencyProof, inclusionProof, subtreeHash, type NodeReader } from './proofs.js'

/** One stored entry of the log. */
export interface LogEntry {
  index: number
  leaf: Buffer
  leafHash: Buffer
  appendedAt: number
}

/**
 * The append-only RFC 9162 log kept in SQLite: entries with their leaf hashes, and the
 * root of every complete subtree, so inclusion and consistency proofs take O(log n) reads.
 *
 * Stateless between calls (size and border are read from the database), so an append
 * inside a caller's transaction that rolls back leaves nothing stale behind.
 */
export class SqliteLog implements NodeReader {
  readonly #db: Db
  readonly #selectNode: Statement
  readonly #selectLeafHash: Statement
  readonly #selectSize: Statement

  constructor(db: Db) {
    this.#db = db
    this.#selectNode = db.prepare('SELECT hash FROM log_nodes WHERE level = ? AND idx = ?').pluck()
    this.#selectLeafHash = db.prepare('SELECT leaf_hash FROM log_entries WHERE idx = ?').pluck()
    this.#selectSize = db.prepare('SELECT coalesce(max(idx) + 1, 0) FROM log_entries').pluck()
  }

  /** Number of entries. */
  size(): number {
    return this.#selectSize.get() as number
  }

  /** The hash of a complete subtree (NodeReader). */
  node(level: number, index: number): Buffer {
    const h = (level === 0 ? this.#selectLeafHash.get(index) : this.#selectNode.get(level, index)) as Buffer | undefined
    if (!h) throw logErrors.outOfRange(`no complete subtree at level ${level}, index ${index}`)
    return h
  }

  /**
   * Appends entries in one transaction (joining the caller's if there is one) and returns
   * the index of the first.
   */
  append(leaves: readonly Uint8Array[], now = Date.now()): number {
    return this.#db.transaction(() => {
      const range = this.#border()
      const first = range.size
      const entryRows: unknown[] = []
      const nodeRows: unknown[] = []
      const onNode = (level: number, index: number, hash: Buffer) => nodeRows.push(level, index, hash)
      for (const leaf of leaves) {
        const leafHash = hashLeaf(leaf)
        entryRows.push(range.size, leaf, leafHash, now)
        range.appendLeafHash(leafHash, onNode)
      }
      insertMany(this.#db, 'log_entries (idx, leaf, leaf_hash, appended_at)', 4, entryRows)
      insertMany(this.#db, 'log_nodes (level, idx, hash)', 3, nodeRows)
      return first
    })()
  }

  /** MTH of the first `treeSize` entries (default: all). */
  rootAt(treeSize = this.size()): Buffer {
    if (treeSize > this.size()) throw logErrors.outOfRange(`tree size ${treeSize} exceeds the log's ${this.size()} entries`)
    return subtreeHash(this, 0, treeSize)
  }

  /** Entry `index`. */
  entry(index: number): LogEntry {
    const row = this.#db.prepare('SELECT idx, leaf, leaf_hash, appended_at FROM log_entries WHERE idx = ?').get(index) as
      | { idx: number; leaf: Buffer; leaf_hash: Buffer; appended_at: number }
      | undefined
    if (!row) throw logErrors.outOfRange(`no log entry ${index} (the log has ${this.size()})`)
    return { index: row.idx, leaf: row.leaf, leafHash: row.leaf_hash, appendedAt: row.appended_at }
  }

  /** Entries with from <= index < to, in order, streamed. */
  *entries(from = 0, to = Number.MAX_SAFE_INTEGER): Generator<LogEntry> {
    const stmt = this.#db.prepare('SELECT idx, leaf, leaf_hash, appended_at FROM log_entries WHERE idx >= ? AND idx < ? ORDER BY idx')
    for (const row of stmt.iterate(from, to) as Iterable<{ idx: number; leaf: Buffer; leaf_hash: Buffer; appended_at: number }>) {
      yield { index: row.idx, leaf: row.leaf, leafHash: row.leaf_hash, appendedAt: row.appended_at }
    }
  }

  /** RFC 9162 inclusion proof of entry `index` in the tree of `treeSize`. */
  inclusionProof(index: number, treeSize = this.size()): Buffer[] {
    if (treeSize > this.size()) throw logErrors.outOfRange(`tree size ${treeSize} exceeds the log's ${this.size()} entries`)
    return inclusionProof(this, index, treeSize)
  }

  /** RFC 9162 consistency proof from `size1` to `size2`. */
  consistencyProof(size1: number, size2 = this.size()): Buffer[] {
    if (size2 > this.size()) throw logErrors.outOfRange(`tree size ${size2} exceeds the log's ${this.size()} entries`)
    return consistencyProof(this, size1, size2)
  }

  #border(): CompactRange {
    const size = this.size()
    return CompactRange.from(
      size,
      borderNodes(size).map(({ level, index }) => this.node(level, index)),
    )
  }
}
