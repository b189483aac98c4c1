import { isCheckpointSignatureValid } from './checkpoint.js'
import type { StoredCheckpoint } from './checkpointStore.js'
import { CompactRange } from './compactRange.js'
import { hashLeaf } from './hasher.js'
import type { LogEntry } from './sqliteLog.js'

/** Where a log's bytes stop matching what was recorded and signed for them. */
export type LogDifference =
  /** Entry `index`'s bytes do not hash to its stored leaf hash: they were altered. */
  | { kind: 'leaf'; index: number; leaf: Buffer; storedLeafHash: Buffer; leafHash: Buffer }
  /**
   * The entries' bytes do not give the root of the signed checkpoint of `treeSize`, while
   * every checkpoint up to `from` matched: the first difference is in [from, treeSize).
   */
  | { kind: 'root'; from: number; treeSize: number; signedRoot: Buffer; root: Buffer }
  /** The checkpoint of `treeSize` is not signed by the log key. */
  | { kind: 'signature'; treeSize: number }
  /** A checkpoint covers more entries than the log holds. */
  | { kind: 'missing'; treeSize: number; size: number }

/**
 * Recomputes the log's tree from its entries' bytes (RFC 9162 §2.1.1) and checks it
 * against every signed checkpoint given (smallest first): each entry hashes to its stored
 * leaf hash, each checkpoint's root is the root of that many entries and its note
 * signature verifies under `log`. Returns the first difference, or undefined. O(n) hashes,
 * O(log n) memory: entries are streamed.
 */
export function findLogDifference(
  entries: Iterable<LogEntry>,
  checkpoints: readonly StoredCheckpoint[],
  log: { origin: string; publicKey: Uint8Array },
): LogDifference | undefined {
  const sorted = [...checkpoints].sort((a, b) => a.treeSize - b.treeSize)
  for (const c of sorted) {
    if (!isCheckpointSignatureValid({ origin: log.origin, treeSize: c.treeSize, rootHash: c.rootHash, mapRoot: c.mapRoot }, log.publicKey, c.signature)) {
      return { kind: 'signature', treeSize: c.treeSize }
    }
  }
  const range = new CompactRange()
  let next = 0
  let from = 0
  const check = (): LogDifference | undefined => {
    while (next < sorted.length && sorted[next]!.treeSize === range.size) {
      const c = sorted[next++]!
      const root = range.root()
      if (!root.equals(c.rootHash)) return { kind: 'root', from, treeSize: c.treeSize, signedRoot: c.rootHash, root }
      from = c.treeSize
    }
    return undefined
  }
  let found = check()
  if (found) return found
  for (const e of entries) {
    const leafHash = hashLeaf(e.leaf)
    if (!leafHash.equals(e.leafHash)) return { kind: 'leaf', index: e.index, leaf: e.leaf, storedLeafHash: e.leafHash, leafHash }
    range.appendLeafHash(leafHash)
    if (next < sorted.length && (found = check())) return found
  }
  if (next < sorted.length) return { kind: 'missing', treeSize: sorted[next]!.treeSize, size: range.size }
  return undefined
}
