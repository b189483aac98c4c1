// The log's state map stored in SQLite: its leaves, plus the hash and leaf count of each
// of the 4,096 subtrees at depth 12 ("buckets"). A change rehashes only the buckets it
// touches (about n / 4,096 leaves each) and the 12 levels above them, so applying a batch
// costs O(batch × n / 4,096) instead of O(n); proofs read one bucket's leaves per key.
import { insertMany, type Db } from '../db/index.js'
import { hashChildren } from './hasher.js'
import { LeavesNode, MAP_EMPTY, proveKey, proveKeys, subtreeOfLeaves, type Leaves, type MapMultiProof, type MapNode, type MapProof } from './sparseMap.js'

export const BUCKET_DEPTH = 12
const BUCKETS = 1 << BUCKET_DEPTH

const bucketOf = (key: Uint8Array) => (key[0]! << 4) | (key[1]! >> 4)
/** [first key, first key of the next bucket) of bucket b, for a range query. */
function bucketRange(b: number): [Buffer, Buffer | undefined] {
  const lo = Buffer.alloc(32)
  lo[0] = b >> 4
  lo[1] = (b & 15) << 4
  if (b === BUCKETS - 1) return [lo, undefined]
  const hi = Buffer.alloc(32)
  hi[0] = (b + 1) >> 4
  hi[1] = ((b + 1) & 15) << 4
  return [lo, hi]
}

/** A change to the map: set `key` to `value`, or remove it (value null). */
export interface MapChange {
  key: Uint8Array
  value: Uint8Array | null
}

interface Top {
  hash: Buffer[]
  count: Int32Array
  prefix: Float64Array
}

/**
 * The map's leaves, bucket hashes and counts in SQLite, with two caches of what is committed:
 * the bucket level (`top`) and the hashes above it (`memo`). A change made inside a caller's
 * transaction is not committed yet, and may be rolled back (to a savepoint, or the whole
 * transaction): until that transaction ends, roots and proofs are computed from the
 * database each time and nothing is cached, so a rollback leaves no stale root behind.
 */
export class StoredMap {
  private top: Top | undefined
  private readonly memo = new Map<number, Buffer>()
  private version = -1
  /** The map was changed inside a transaction that has not ended yet. */
  private uncommitted = false

  constructor(private readonly db: Db) {}

  /** Number of keys. */
  size(): number {
    return (this.db.prepare('SELECT COALESCE(SUM(count), 0) FROM map_buckets').pluck().get() as number) ?? 0
  }

  /** The value of `key`, if present. */
  get(key: Uint8Array): Buffer | undefined {
    return this.db.prepare('SELECT value FROM map_leaves WHERE key = ?').pluck().get(key) as Buffer | undefined
  }

  /**
   * Applies changes (later ones win for the same key) and rehashes what they touch. Runs
   * in the caller's transaction when there is one, else in its own.
   */
  apply(changes: readonly MapChange[]): void {
    if (changes.length === 0) return
    // Keyed by latin1 strings: they sort in byte order, far faster than Buffer.compare.
    const latest = new Map<string, MapChange>()
    for (const c of changes) latest.set(Buffer.from(c.key.buffer, c.key.byteOffset, c.key.byteLength).toString('latin1'), c)
    const order = [...latest.keys()].sort()
    const dirty = new Set<number>()
    this.db.transaction(() => {
      const sets: Buffer[] = []
      const dels: Buffer[] = []
      for (const k of order) {
        const c = latest.get(k)!
        dirty.add(bucketOf(c.key))
        const key = Buffer.isBuffer(c.key) ? c.key : Buffer.from(c.key)
        if (c.value) sets.push(key, Buffer.isBuffer(c.value) ? c.value : Buffer.from(c.value))
        else dels.push(key)
      }
      insertMany(this.db, 'map_leaves (key, value)', 2, sets, 'INSERT OR REPLACE')
      const del = this.db.prepare('DELETE FROM map_leaves WHERE key = ?')
      for (const k of dels) del.run(k)
      this.rehash(dirty)
    })()
    this.top = undefined
    this.memo.clear()
    if (this.db.inTransaction) this.uncommitted = true
  }

  /** Recomputes the stored hash and count of the given buckets from their leaves. */
  private rehash(buckets: Set<number>): void {
    const put = this.db.prepare('INSERT OR REPLACE INTO map_buckets (bucket, hash, count) VALUES (?, ?, ?)')
    const drop = this.db.prepare('DELETE FROM map_buckets WHERE bucket = ?')
    const write = (b: number, l: Leaves) => {
      if (l.keys.length === 0) drop.run(b)
      else put.run(b, subtreeOfLeaves(l, 0, l.keys.length, BUCKET_DEPTH), l.keys.length)
    }
    if (buckets.size > BUCKETS / 16) {
      // Many buckets: one ordered scan of every leaf beats a range query per bucket.
      let current = -1
      let l: Leaves = { keys: [], values: [] }
      // Hashed while scanning, written after: SQLite cannot write while a read is open.
      const written = new Map<number, [Buffer, number]>()
      const flush = () => {
        if (current >= 0 && buckets.has(current)) written.set(current, [subtreeOfLeaves(l, 0, l.keys.length, BUCKET_DEPTH), l.keys.length])
      }
      for (const [k, v] of this.db.prepare('SELECT key, value FROM map_leaves ORDER BY key').raw().iterate() as Iterable<[Buffer, Buffer]>) {
        const b = bucketOf(k)
        if (b !== current) {
          flush()
          current = b
          l = { keys: [], values: [] }
        }
        if (buckets.has(b)) {
          l.keys.push(k)
          l.values.push(v)
        }
      }
      flush()
      for (const [b, [h, n]] of written) put.run(b, h, n)
      // A dirty bucket the scan never met has no leaf left.
      for (const b of buckets) if (!written.has(b)) drop.run(b)
      return
    }
    for (const b of buckets) write(b, this.bucketLeaves(b))
  }

  /** The leaves of one bucket, sorted. */
  bucketLeaves(b: number): Leaves {
    const [lo, hi] = bucketRange(b)
    const rows = (
      hi
        ? this.db.prepare('SELECT key, value FROM map_leaves WHERE key >= ? AND key < ? ORDER BY key').raw().all(lo, hi)
        : this.db.prepare('SELECT key, value FROM map_leaves WHERE key >= ? ORDER BY key').raw().all(lo)
    ) as [Buffer, Buffer][]
    return { keys: rows.map((r) => r[0]), values: rows.map((r) => r[1]) }
  }

  /**
   * The bucket level and the memo of the hashes above it: the caches when they hold
   * committed state, else (the map changed in a transaction still open) fresh ones that are
   * not kept.
   */
  private view(): { top: Top; memo: Map<number, Buffer> } {
    if (this.uncommitted) {
      if (this.db.inTransaction) return { top: this.readTop(), memo: new Map() }
      // The transaction ended, committed or rolled back: the caches were not filled since.
      this.uncommitted = false
    }
    return { top: this.loadTop(), memo: this.memo }
  }

  private loadTop(): Top {
    // Another connection (another process) may have changed the map since: SQLite's
    // data_version moves when one commits.
    const version = this.db.pragma('data_version', { simple: true }) as number
    if (version !== this.version) {
      this.top = undefined
      this.memo.clear()
      this.version = version
    }
    return (this.top ??= this.readTop())
  }

  private readTop(): Top {
    const hash: Buffer[] = new Array(BUCKETS).fill(MAP_EMPTY)
    const count = new Int32Array(BUCKETS)
    for (const [b, h, c] of this.db.prepare('SELECT bucket, hash, count FROM map_buckets').raw().all() as [number, Buffer, number][]) {
      hash[b] = h
      count[b] = c
    }
    const prefix = new Float64Array(BUCKETS + 1)
    for (let i = 0; i < BUCKETS; i++) prefix[i + 1] = prefix[i]! + count[i]!
    return { hash, count, prefix }
  }

  /** The root node of the map, for walks (proofs). */
  rootNode(): MapNode {
    const { top, memo } = this.view()
    return this.topNode(top, memo, 0, 0, BUCKETS)
  }

  /** The map's root hash. */
  root(): Buffer {
    return this.rootNode().hash()
  }

  /** A single-key proof (membership or non-membership). */
  prove(key: Uint8Array): MapProof {
    return proveKey(this.rootNode(), key)
  }

  /** One multiproof for many keys. */
  proveMany(keys: readonly Uint8Array[]): MapMultiProof {
    return proveKeys(this.rootNode(), keys)
  }

  /** A subtree above or at the bucket level: buckets [lo, hi) at `depth` (<= 12). */
  private topNode(top: Top, memo: Map<number, Buffer>, depth: number, lo: number, hi: number): MapNode {
    const self = this
    const count = () => top.prefix[hi]! - top.prefix[lo]!
    return {
      depth,
      count,
      hash(): Buffer {
        const n = count()
        if (n === 0) return MAP_EMPTY
        if (depth === BUCKET_DEPTH) return top.hash[lo]!
        if (n === 1) {
          for (let b = lo; b < hi; b++) if (top.count[b] === 1) return top.hash[b]!
        }
        const id = depth * BUCKETS + lo
        let h = memo.get(id)
        if (!h) {
          const [l, r] = this.children()
          memo.set(id, (h = hashChildren(l.hash(), r.hash())))
        }
        return h
      },
      single(): [Buffer, Buffer] {
        for (let b = lo; b < hi; b++) {
          if (top.count[b] === 1) {
            const l = self.bucketLeaves(b)
            return [l.keys[0]!, l.values[0]!]
          }
        }
        throw new Error('single() of a subtree without exactly one leaf')
      },
      children(): [MapNode, MapNode] {
        if (depth === BUCKET_DEPTH) {
          const l = self.bucketLeaves(lo)
          return new LeavesNode(l, 0, l.keys.length, BUCKET_DEPTH).children()
        }
        const mid = (lo + hi) >>> 1
        return [self.topNode(top, memo, depth + 1, lo, mid), self.topNode(top, memo, depth + 1, mid, hi)]
      },
    }
  }
}
