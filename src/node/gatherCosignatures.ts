// The log side of C2SP tlog-witness: a node sends its newest checkpoint, with the
// consistency proof from the size each witness last cosigned, to the other members'
// witnesses, and keeps the cosignatures they return (c2sp.org/tlog-cosignature).
import type { Db } from '../db/index.js'
import { isProvenaError, type ProvenaError } from '../errors.js'
import { latestCheckpoint } from '../log/index.js'
import { cosignatureKeyId, noteBody, parseCosignatureLine, parseWitnessVerifierKey, verifyCosignature, type WitnessIdentity } from './cosignature.js'
import type { Consortium } from './consortium.js'
import { witnessErrors } from './errors.js'
import { MAX_PROOF_LINES } from './witness.js'

/** A member's witness as the pinned consortium file lists it. */
export interface Witness extends WitnessIdentity {
  /** The member whose node runs it (its name in the file). */
  member: string
  /** The node's base URL: add-checkpoint is POST `<endpoint>/witness/add-checkpoint`. */
  endpoint: string
}

/** A cosignature a node gathered for one of its checkpoints. */
export interface StoredCosignature {
  treeSize: number
  witness: string
  keyId: string
  line: string
  timestamp: number
  receivedAt: number
}

export interface GatherResult {
  treeSize: number
  cosigned: StoredCosignature[]
  failed: { witness: string; error: ProvenaError }[]
}

/** What gathering needs of a node: its database and its log (for consistency proofs). `Provena` has both. */
export interface LogHolder {
  db: Db
  log: { consistencyProof(size1: number, size2: number): Buffer[] }
}

export interface GatherOptions {
  /** Per request; default 10 s. */
  timeoutMs?: number
  fetch?: typeof fetch
  now?: () => number
}

/**
 * The witnesses of the pinned consortium file that may vouch for the log `ownOrigin`: every
 * member with a `witness` vkey and an `endpoint`, except the member(s) whose node keeps
 * that log (a log does not witness itself). A key listed twice is one witness.
 */
export function memberWitnesses(c: Consortium | undefined, ownOrigin: string): Witness[] {
  const out: Witness[] = []
  for (const m of c?.members ?? []) {
    if (!m.witness || m.log?.origin === ownOrigin) continue
    const w = parseWitnessVerifierKey(m.witness)
    if (!w || out.some((o) => o.publicKey.equals(w.publicKey))) continue
    // Without an endpoint it cannot be asked, but its cosignatures still count (quorumWitnesses).
    if (m.endpoint) out.push({ ...w, member: m.name, endpoint: m.endpoint })
  }
  return out
}

/** The witness keys a checkpoint of `origin` is counted against: as memberWitnesses, endpoints or not. */
export function quorumWitnesses(c: Consortium | undefined, origin: string): (WitnessIdentity & { member: string })[] {
  const out: (WitnessIdentity & { member: string })[] = []
  for (const m of c?.members ?? []) {
    if (!m.witness || m.log?.origin === origin) continue
    const w = parseWitnessVerifierKey(m.witness)
    if (w && !out.some((o) => o.publicKey.equals(w.publicKey))) out.push({ ...w, member: m.name })
  }
  return out
}

/** The cosignature lines stored for the checkpoint of `treeSize`. */
export function cosignaturesAt(db: Db, treeSize: number): string[] {
  return db.prepare('SELECT line FROM checkpoint_cosignatures WHERE tree_size = ? ORDER BY witness, key_id').pluck().all(treeSize) as string[]
}

/** Every stored cosignature line by tree size. */
export function allCosignatures(db: Db): Map<number, string[]> {
  const out = new Map<number, string[]>()
  for (const r of db.prepare('SELECT tree_size, line FROM checkpoint_cosignatures ORDER BY tree_size, witness, key_id').all() as { tree_size: number; line: string }[]) {
    const list = out.get(r.tree_size) ?? []
    list.push(r.line)
    out.set(r.tree_size, list)
  }
  return out
}

/** A signed checkpoint note with the cosignatures gathered for it appended (a C2SP note with more signature lines). */
export function cosignedNote(db: Db, checkpoint: { treeSize: number; note: string }): string {
  return checkpoint.note + cosignaturesAt(db, checkpoint.treeSize).map((l) => `${l}\n`).join('')
}

function lastCosignedSize(db: Db, w: WitnessIdentity, atMost: number): number {
  const size = db
    .prepare('SELECT MAX(tree_size) FROM checkpoint_cosignatures WHERE witness = ? AND key_id = ? AND tree_size <= ?')
    .pluck()
    .get(w.name, cosignatureKeyId(w.name, w.publicKey).toString('hex'), atMost) as number | null
  return size ?? 0
}

/** The add-checkpoint body: "old <size>\n", the proof lines, an empty line, the note. */
export function addCheckpointBody(oldSize: number, proof: readonly Uint8Array[], note: string): string {
  return `old ${oldSize}\n${proof.map((h) => `${Buffer.from(h).toString('base64')}\n`).join('')}\n${note}`
}

/**
 * Asks one witness to cosign `checkpoint`, from the size it last cosigned for this node
 * (0 at first); on 409 Conflict, once more from the size the witness gives. Returns the
 * valid cosignature lines by that witness's pinned key; throws WITNESS_BAD_RESPONSE naming
 * the witness otherwise (its refusal's status and text as the reason).
 */
export async function requestCosignature(p: LogHolder, checkpoint: { treeSize: number; note: string }, w: Witness, opts: GatherOptions = {}): Promise<string[]> {
  const doFetch = opts.fetch ?? fetch
  const url = `${w.endpoint.replace(/\/+$/, '')}/witness/add-checkpoint`
  const body = noteBody(checkpoint.note)
  let old = lastCosignedSize(p.db, w, checkpoint.treeSize)
  for (let attempt = 0; attempt < 2; attempt++) {
    const proof = old > 0 && old < checkpoint.treeSize ? p.log.consistencyProof(old, checkpoint.treeSize) : []
    if (proof.length > MAX_PROOF_LINES) throw witnessErrors.badResponse(w.name, `the proof from ${old} has ${proof.length} lines, more than the spec allows`)
    let res: Response
    let text: string
    try {
      res = await doFetch(url, {
        method: 'POST',
        headers: { 'content-type': 'text/plain; charset=utf-8' },
        body: addCheckpointBody(old, proof, checkpoint.note),
        signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
      })
      text = await res.text()
    } catch (e) {
      throw witnessErrors.badResponse(w.name, `no answer from ${url} (${(e as Error).message})`, e)
    }
    if (res.status === 409) {
      const size = /^(0|[1-9][0-9]{0,15})\n?$/.test(text) ? Number(text.trim()) : NaN
      if (!Number.isSafeInteger(size)) throw witnessErrors.badResponse(w.name, `409 without a tree size in its body`)
      if (size > checkpoint.treeSize) throw witnessErrors.badResponse(w.name, `it last cosigned size ${size} of this log, larger than this checkpoint (${checkpoint.treeSize})`)
      if (size === old) throw witnessErrors.badResponse(w.name, `409 naming the old size sent (${old})`)
      old = size
      continue
    }
    if (res.status !== 200) throw witnessErrors.badResponse(w.name, `refused the checkpoint of size ${checkpoint.treeSize} from old size ${old}: ${res.status} ${text.trim().slice(0, 300)}`)
    const lines = text.split('\n').filter((l) => l !== '')
    const valid = lines.filter((l) => verifyCosignature(body, l, w) !== undefined)
    if (valid.length === 0) throw witnessErrors.badResponse(w.name, `200 without a valid cosignature by its pinned key (${lines.length} line(s))`)
    return valid
  }
  throw witnessErrors.badResponse(w.name, 'kept answering 409 Conflict')
}

/**
 * Sends `checkpoint` (the node's own, signed) to each witness in parallel and stores the
 * valid cosignatures they return (checkpoint_cosignatures). A witness that refuses or
 * fails is reported in `failed`, never thrown: the others' cosignatures are kept.
 *
 * @example
 * await gatherCosignatures(p, latestCheckpoint(p.db)!, memberWitnesses(p.consortium, p.signer.origin))
 * // { treeSize: 42, cosigned: [{ witness: 'provena.witness/…', line: '— provena.witness/… …', … }], failed: [] }
 */
export async function gatherCosignatures(p: LogHolder, checkpoint: { treeSize: number; note: string }, witnesses: readonly Witness[], opts: GatherOptions = {}): Promise<GatherResult> {
  const now = opts.now ?? Date.now
  const results = await Promise.allSettled(witnesses.map((w) => requestCosignature(p, checkpoint, w, opts)))
  const cosigned: StoredCosignature[] = []
  const failed: GatherResult['failed'] = []
  const put = p.db.prepare('INSERT OR IGNORE INTO checkpoint_cosignatures (tree_size, witness, key_id, line, timestamp, received_at) VALUES (?, ?, ?, ?, ?, ?)')
  results.forEach((r, i) => {
    const w = witnesses[i]!
    if (r.status === 'rejected') {
      const e = r.reason
      failed.push({ witness: w.name, error: isProvenaError(e) ? e : witnessErrors.badResponse(w.name, String(e), e) })
      return
    }
    for (const line of r.value) {
      const c = parseCosignatureLine(line)!
      const row: StoredCosignature = { treeSize: checkpoint.treeSize, witness: w.name, keyId: c.keyId.toString('hex'), line, timestamp: c.timestamp, receivedAt: now() }
      put.run(row.treeSize, row.witness, row.keyId, row.line, row.timestamp, row.receivedAt)
      cosigned.push(row)
    }
  })
  return { treeSize: checkpoint.treeSize, cosigned, failed }
}

/**
 * The hook for anchoring: gathers cosignatures for the node's newest checkpoint from the
 * witnesses of its pinned consortium file. Undefined on a lone node, without a checkpoint,
 * or when no other member lists a witness with an endpoint.
 */
export async function cosignLatestCheckpoint(
  p: LogHolder & { consortium: Consortium | undefined; signer: { origin: string } },
  opts: GatherOptions = {},
): Promise<GatherResult | undefined> {
  const witnesses = memberWitnesses(p.consortium, p.signer.origin)
  const checkpoint = latestCheckpoint(p.db)
  if (witnesses.length === 0 || !checkpoint) return undefined
  return gatherCosignatures(p, checkpoint, witnesses, opts)
}
