import { describeEntry, findLogDifference, listCheckpoints, type LogDifference } from '../log/index.js'
import type { Provena } from './provena.js'

/**
 * Recomputes the data dir's log from its entries' bytes and checks it against every
 * checkpoint the operator signed and kept; returns the first difference, or undefined.
 */
export function checkLogAgainstCheckpoints(p: Provena): { difference: LogDifference | undefined; checkpoints: number } {
  const checkpoints = listCheckpoints(p.db)
  return { difference: findLogDifference(p.log.entries(), checkpoints, { origin: p.signer.origin, publicKey: p.signer.publicKey }), checkpoints: checkpoints.length }
}

/** A difference in words, naming the entry (index and what it holds) where there is one. */
export function describeLogDifference(d: LogDifference): string {
  switch (d.kind) {
    case 'leaf':
      return `log entry ${d.index} (${describeEntry(d.leaf)}) does not hash to the leaf hash recorded when it was logged: its bytes were altered`
    case 'root':
      return `the entries' bytes do not give the root of the signed checkpoint of size ${d.treeSize} (signed ${d.signedRoot.toString('hex')}, recomputed ${d.root.toString('hex')}); the first difference is among entries ${d.from} to ${d.treeSize - 1}`
    case 'signature':
      return `the stored checkpoint of size ${d.treeSize} is not signed by this log's key`
    case 'missing':
      return `the signed checkpoint of size ${d.treeSize} covers more entries than the ${d.size} in the log`
  }
}
