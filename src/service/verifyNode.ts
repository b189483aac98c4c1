// `provena verify` on a data dir, and GET /v1/verify: the node's log checked against the
// chain (its anchored checkpoints and registered assets), its pinned consortium entry and,
// with a quorum, the cosignatures of the newest checkpoint.
import type { Provena } from '../app/index.js'
import { readChainEvidence, verifyLog, type VerifyReport } from '../audit/index.js'
import type { ChainClient, Deployment } from '../chain/index.js'
import { ProvenaError } from '../errors.js'
import { listCheckpoints } from '../log/index.js'
import { cosignaturesAt, parseVerifierKey, quorumWitnesses, readConsortiumFile, verifyQuorum, type QuorumReport } from '../node/index.js'

/** A verification report, with the cosignature check when a quorum was asked. */
export type NodeVerifyReport = VerifyReport & { quorum?: QuorumReport }

/**
 * `quorum` K: the newest checkpoint the node signed must carry K valid cosignatures by
 * distinct witnesses of the consortium file (`consortium` FILE, else the pinned one), other
 * than this log's own node's; keys from the file, never from the notes. The newest one
 * only: the log check proves every earlier checkpoint a prefix of it, and a witness
 * cosigns forward only (c2sp.org/tlog-witness), so a checkpoint signed before the
 * witnesses existed, or while one was down, can never gain their cosignature.
 */
export function checkQuorum(report: NodeVerifyReport, p: Provena, opts: { quorum?: number | undefined; consortium?: string | undefined }): NodeVerifyReport {
  if (opts.quorum === undefined) return report
  const c = opts.consortium ? readConsortiumFile(opts.consortium) : p.consortium
  if (!c) {
    throw new ProvenaError('CLI_BAD_ARGUMENT', 'verify --quorum K counts cosignatures by the witnesses of a consortium file: this data dir pins none', {
      hint: 'pass --consortium FILE (its members\' "witness" vkeys)',
    })
  }
  const checkpoints = listCheckpoints(p.db).slice(-1).map((cp) => ({ treeSize: cp.treeSize, note: cp.note, cosignatures: cosignaturesAt(p.db, cp.treeSize) }))
  const q = verifyQuorum(checkpoints, quorumWitnesses(c, p.signer.origin), opts.quorum)
  return { ...report, quorum: q, ok: report.ok && q.ok, failures: [...report.failures, ...q.failures] }
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
  return checkQuorum(report, p, opts)
}
