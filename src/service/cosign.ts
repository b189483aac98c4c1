// Witnessing between member nodes (issue 13): a node asks the witnesses its pinned
// consortium file lists (other members' nodes, c2sp.org/tlog-witness) to cosign its newest
// checkpoint. `provena log cosign` and `provena serve` (after each anchoring) call it.
import type { Provena } from '../app/index.js'
import { ProvenaError } from '../errors.js'
import { latestCheckpoint } from '../log/index.js'
import { cosignatureKeyId, cosignaturesAt, cosignLatestCheckpoint, memberWitnesses, parseCosignatureLine, type GatherOptions, type Witness } from '../node/index.js'

/** What one round of gathering did, per witness (by member name, witness name and endpoint). */
export interface CosignReport {
  treeSize: number
  /** The witnesses asked: the other members' with a `witness` vkey and an `endpoint`. */
  asked: number
  cosigned: { member: string; witness: string; endpoint: string; line: string }[]
  failed: { member: string; witness: string; endpoint: string; code: string; message: string }[]
}

/**
 * Gathers cosignatures for the node's newest checkpoint from the witnesses of its pinned
 * consortium file, stores the valid ones (checkpoint_cosignatures) and reports each witness.
 * Undefined when there is nothing to do: a lone node, no other member's witness with an
 * endpoint, or no checkpoint yet. A witness that fails is reported, never thrown.
 *
 * @example
 * await cosignCheckpoint(p) // { treeSize: 9, asked: 2, cosigned: [{ member: 'st-mary', witness: 'provena.witness/…', … }], failed: [] }
 */
export async function cosignCheckpoint(p: Provena, opts: GatherOptions = {}): Promise<CosignReport | undefined> {
  const witnesses = memberWitnesses(p.consortium, p.signer.origin)
  const r = await cosignLatestCheckpoint(p, opts)
  if (!r) return undefined
  const byName = new Map(witnesses.map((w) => [w.name, w]))
  const who = (name: string) => ({ member: byName.get(name)?.member ?? '', witness: name, endpoint: byName.get(name)?.endpoint ?? '' })
  return {
    treeSize: r.treeSize,
    asked: witnesses.length,
    cosigned: r.cosigned.map((c) => ({ ...who(c.witness), line: c.line })),
    failed: r.failed.map((f) => ({ ...who(f.witness), code: f.error.code, message: f.error.message })),
  }
}

/** `provena log cosign`: as cosignCheckpoint, but nothing to do is an error naming why (WITNESS_NONE_TO_ASK). */
export async function cosignCheckpointNow(p: Provena, opts: GatherOptions = {}): Promise<CosignReport> {
  const r = await cosignCheckpoint(p, opts)
  if (r) return r
  if (!p.consortium) throw new ProvenaError('WITNESS_NONE_TO_ASK', `${p.dir} pins no consortium file: a lone node has no witnesses`, { hint: 'join a consortium (provena init --join FILE) whose members advertise their nodes (identity show NAME --endpoint URL)' })
  if (!latestCheckpoint(p.db)) throw new ProvenaError('WITNESS_NONE_TO_ASK', 'the log has no signed checkpoint yet: nothing to cosign', { hint: 'run provena log checkpoint' })
  throw new ProvenaError('WITNESS_NONE_TO_ASK', 'no other member of the pinned consortium file lists a witness with an endpoint', {
    hint: "each member advertises its node with provena identity show NAME --endpoint URL --json > card.json; the admin adds the card and hands out the file (consortium update)",
  })
}

/**
 * The witnesses of the pinned consortium file (with an endpoint) that have not cosigned the
 * node's newest checkpoint yet: whom `provena serve` asks again after an outage.
 */
export function missingCosigners(p: Provena): Witness[] {
  const checkpoint = latestCheckpoint(p.db)
  if (!checkpoint) return []
  const lines = cosignaturesAt(p.db, checkpoint.treeSize).map(parseCosignatureLine)
  return memberWitnesses(p.consortium, p.signer.origin).filter((w) => {
    const id = cosignatureKeyId(w.name, w.publicKey)
    return !lines.some((l) => l && l.name === w.name && l.keyId.equals(id))
  })
}
