// `provena verify` on a data dir, and GET /v1/verify: the node's log checked against the
// chain (its anchored checkpoints and registered assets), its pinned consortium entry and,
// with a quorum, the cosignatures of the newest checkpoint.
import type { Provena } from '../app/index.js'
import { readChainEvidence, verifyLog, type VerifyReport } from '../audit/index.js'
import type { AnchoredCheckpoint, ChainClient, Deployment } from '../chain/index.js'
import { ProvenaError } from '../errors.js'
import { listCheckpoints } from '../log/index.js'
import { anchoredQuorumCheckpoint, cosignaturesAt, parseVerifierKey, quorumWitnesses, readConsortiumFile, verifyQuorum, type Consortium, type QuorumReport } from '../node/index.js'

/** A verification report, with the cosignature check when a quorum was asked. */
export type NodeVerifyReport = VerifyReport & { quorum?: QuorumReport }

/**
 * `quorum` K: the newest checkpoint anchored on-chain must carry, on-chain (emitted with
 * it or added by addCosignatures), K valid cosignatures by distinct witnesses of the
 * consortium file, other than this log's own node's; keys from the file, never from the
 * chain or the notes. The newest one only: the log check proves every earlier checkpoint
 * a prefix of it, and a witness cosigns forward only (c2sp.org/tlog-witness). What counts
 * is what the chain carries, so that an auditor with the chain, the log and the file alone
 * reaches the same verdict; on the data dir, cosignatures gathered but not on-chain yet
 * are reported (`local`), never counted.
 */
export function checkQuorum(
  report: NodeVerifyReport,
  evidence: { logInfo: { origin: string }; checkpoints: AnchoredCheckpoint[] },
  c: Consortium,
  quorum: number,
  local?: (treeSize: number) => readonly string[],
): NodeVerifyReport {
  const witnesses = quorumWitnesses(c, evidence.logInfo.origin)
  const checkpoints = evidence.checkpoints.slice(-1).map((cp) => anchoredQuorumCheckpoint(evidence.logInfo.origin, cp, witnesses))
  const q: QuorumReport & { local?: QuorumReport['checkpoints'][number] & { notOnChain: number } } = verifyQuorum(checkpoints, witnesses, quorum)
  const latest = checkpoints[0]
  if (latest && local) {
    const both = verifyQuorum([{ ...latest, cosignatures: [...(latest.cosignatures ?? []), ...local(latest.treeSize)] }], witnesses, 0).checkpoints[0]!
    q.local = { ...both, notOnChain: both.verified - q.checkpoints[0]!.verified }
  }
  return { ...report, quorum: q, ok: report.ok && q.ok, failures: [...report.failures, ...q.failures] }
}

/** The consortium file whose witnesses count for a quorum: `file`, else the pinned one. */
export function quorumConsortium(file: string | undefined, pinned: Consortium | undefined): Consortium {
  const c = file ? readConsortiumFile(file) : pinned
  if (!c) {
    throw new ProvenaError('CLI_BAD_ARGUMENT', 'verify --quorum K counts cosignatures by the witnesses of a consortium file: this data dir pins none', {
      hint: 'pass --consortium FILE (its members\' "witness" vkeys)',
    })
  }
  return c
}

/**
 * The data dir's log against the chain: only the log's entries (bytes and recorded leaf
 * hashes) and the checkpoints the operator signed are read from the data dir, never the
 * registry tables. A member node: the consortium trusts the anchor and key pinned for
 * this node's log, not whatever this data dir recorded.
 */
export async function verifyNode(
  p: Provena,
  chain: { client: ChainClient; deployment: Deployment },
  opts: { quorum?: number | undefined; consortium?: string | undefined } = {},
): Promise<NodeVerifyReport> {
  const localCheckpoints = listCheckpoints(p.db)
  const evidence = await readChainEvidence(chain.client.publicClient, chain.deployment, chain.deployment.fromBlock)
  let report: NodeVerifyReport = verifyLog({ ...evidence, entries: p.log.entries(), localCheckpoints })
  const pinned = p.consortium?.members.find((m) => m.log?.origin === p.signer.origin)?.log
  if (pinned) {
    const key = parseVerifierKey(pinned.vkey)
    const problem =
      pinned.anchor.toLowerCase() !== chain.deployment.CheckpointAnchor.toLowerCase()
        ? `this node's CheckpointAnchor ${chain.deployment.CheckpointAnchor} is not the one the consortium pins for its log (${pinned.anchor})`
        : !key?.publicKey.equals(p.signer.publicKey)
          ? `the consortium pins another key for this node's log (${pinned.vkey})`
          : undefined
    if (problem) report = { ...report, ok: false, failures: [{ code: 'VERIFY_NOT_PINNED', message: problem }, ...report.failures] }
  }
  if (opts.quorum !== undefined) report = checkQuorum(report, evidence, quorumConsortium(opts.consortium, p.consortium), opts.quorum, (size) => cosignaturesAt(p.db, size))
  return report
}
