// `provena verify --quorum K`: each checkpoint must carry K valid cosignatures by distinct
// witnesses of the consortium file. Keys come from the file, never from the note checked.
// Pure: no database, no network.
import { formatCheckpoint } from '../log/checkpoint.js'
import { countCosigners, noteBody, unpackCosignatures, type WitnessIdentity } from './cosignature.js'

export interface QuorumCheckpoint {
  treeSize: number
  /** The signed note; cosignature lines it carries count too. */
  note: string
  /** Cosignature lines kept apart from the note (checkpoint_cosignatures). */
  cosignatures?: readonly string[]
}

export interface QuorumReport {
  ok: boolean
  quorum: number
  witnesses: number
  /** Per checkpoint, how many distinct pinned witnesses cosigned it validly, and which. */
  checkpoints: { treeSize: number; verified: number; witnesses: string[] }[]
  failures: { code: 'VERIFY_QUORUM'; message: string }[]
}

/**
 * Counts, for each checkpoint, the distinct witnesses of `witnesses` whose cosignature
 * verifies over its body; each one with fewer than `quorum` is a VERIFY_QUORUM failure
 * naming the checkpoint and the count. No checkpoint at all fails too (nothing vouched for).
 *
 * @example
 * verifyQuorum([{ treeSize: 7, note, cosignatures: lines }], pinnedWitnesses, 2)
 * // { ok: true, quorum: 2, witnesses: 3, checkpoints: [{ treeSize: 7, verified: 3, witnesses: [...] }], failures: [] }
 */
export function verifyQuorum(checkpoints: readonly QuorumCheckpoint[], witnesses: readonly WitnessIdentity[], quorum: number): QuorumReport {
  const failures: QuorumReport['failures'] = []
  const out: QuorumReport['checkpoints'] = []
  const distinct = new Set(witnesses.map((w) => w.publicKey.toString('hex'))).size
  for (const c of checkpoints) {
    const body = noteBody(c.note)
    const inNote = c.note.slice(body.length).split('\n').filter((l) => l !== '')
    const { count, names } = countCosigners(body, [...inNote, ...(c.cosignatures ?? [])], witnesses)
    out.push({ treeSize: c.treeSize, verified: count, witnesses: names })
    if (count < quorum) {
      failures.push({
        code: 'VERIFY_QUORUM',
        message: `the checkpoint of size ${c.treeSize} carries ${count} valid cosignature(s) by the consortium's witnesses, ${quorum} required (${distinct} witness(es) in the file${names.length ? `; cosigned by ${names.join(', ')}` : ''})`,
      })
    }
  }
  if (checkpoints.length === 0) failures.push({ code: 'VERIFY_QUORUM', message: `no checkpoint to check: ${quorum} cosignature(s) required` })
  return { ok: failures.length === 0, quorum, witnesses: distinct, checkpoints: out, failures }
}

/**
 * A checkpoint as anchored on-chain, ready for verifyQuorum: its body rebuilt from the
 * anchored fields under the log's origin (the note signature is the verifier's to check,
 * as `verify` does), and its packed on-chain cosignatures named after the pinned witnesses
 * (a key id none of them has is dropped). Only what the chain carries counts.
 *
 * @example
 * verifyQuorum([anchoredQuorumCheckpoint(origin, anchored.at(-1)!, witnesses)], witnesses, 2)
 */
export function anchoredQuorumCheckpoint(
  origin: string,
  c: { treeSize: number; rootHash: Buffer; mapRoot: Buffer; cosignatures: readonly Buffer[] },
  witnesses: readonly WitnessIdentity[],
): QuorumCheckpoint {
  return { treeSize: c.treeSize, note: formatCheckpoint({ origin, treeSize: c.treeSize, rootHash: c.rootHash, mapRoot: c.mapRoot }), cosignatures: unpackCosignatures(c.cosignatures, witnesses) }
}
