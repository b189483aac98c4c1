// The witness side of C2SP tlog-witness (c2sp.org/tlog-witness, "add-checkpoint"): a node
// cosigns another member's checkpoint only after checking that it extends the last one it
// cosigned for that log. The logs it witnesses and their keys come from the pinned
// consortium file, never from the request (ARCHITECTURE.md, principle 8).
import { sha256 } from '../crypto/index.js'
import type { Db } from '../db/index.js'
import { isProvenaError, ProvenaError } from '../errors.js'
import { EMPTY_ROOT, openCheckpoint, verifyConsistency } from '../log/index.js'
import { deriveWitnessKey, signCosignature, witnessVerifierKey, type WitnessKey } from './cosignature.js'
import type { KeyObject } from 'node:crypto'
import type { Consortium } from './consortium.js'
import { parseVerifierKey } from './consortium.js'
import { witnessErrors } from './errors.js'

/** The spec's bound on consistency proof lines. */
export const MAX_PROOF_LINES = 63
/** Content type of a 409 answer's body, "<size>\n" (c2sp.org/tlog-witness). */
export const TLOG_SIZE_CONTENT_TYPE = 'text/x.tlog.size'

/** What a witness runs against. */
export interface WitnessContext {
  db: Db
  key: WitnessKey
  /** The Ed25519 key of the log with this origin, as the pinned consortium file lists it; undefined for a log not witnessed. */
  logKey(origin: string): Buffer | undefined
  /** Milliseconds since the epoch (Date.now by default). */
  now?: () => number
}

/** A parsed add-checkpoint request body. */
export interface AddCheckpointRequest {
  oldSize: number
  proof: Buffer[]
  /** The signed checkpoint note, as sent. */
  note: string
  /** Its body: origin, size and root lines, extension lines, each newline-terminated. */
  body: string
  origin: string
  treeSize: number
  rootHash: Buffer
}

/** What the witness recorded and returned. */
export interface AddCheckpointResult {
  origin: string
  treeSize: number
  rootHash: Buffer
  /** The response body: the cosignature line(s), each newline-terminated. */
  cosignature: string
}

const DECIMAL = /^(0|[1-9][0-9]{0,15})$/

function parseSize(text: string, what: string): number {
  const n = DECIMAL.test(text) ? Number(text) : NaN
  if (!Number.isSafeInteger(n)) throw witnessErrors.malformed(`${what} "${text.slice(0, 40)}" is not a decimal tree size`)
  return n
}

function parseHash(text: string, what: string): Buffer {
  const h = Buffer.from(text, 'base64')
  if (h.length !== 32 || h.toString('base64') !== text) throw witnessErrors.malformed(`${what} is not 32 bytes of base64`)
  return h
}

/**
 * Parses an add-checkpoint body: "old <size>\n", up to 63 consistency proof lines (base64
 * hashes), an empty line, then a checkpoint note. Throws WITNESS_MALFORMED naming the line.
 * Checks the form only: no signature, no proof.
 */
export function parseAddCheckpoint(text: string): AddCheckpointRequest {
  const blank = text.indexOf('\n\n')
  if (blank < 0) throw witnessErrors.malformed('no empty line between the old size and proof lines and the checkpoint')
  const head = text.slice(0, blank).split('\n')
  if (head.length - 1 > MAX_PROOF_LINES) throw witnessErrors.malformed(`${head.length - 1} consistency proof lines, more than the ${MAX_PROOF_LINES} allowed`)
  const oldLine = head[0]!
  if (!oldLine.startsWith('old ')) throw witnessErrors.malformed('the first line is not "old <size>"')
  const oldSize = parseSize(oldLine.slice(4), 'old size')
  const proof = head.slice(1).map((l, i) => parseHash(l, `consistency proof line ${i + 1}`))
  const note = text.slice(blank + 2)
  const sep = note.indexOf('\n\n')
  if (sep < 0) throw witnessErrors.malformed('the checkpoint has no empty line before its signature lines')
  if (!note.endsWith('\n')) throw witnessErrors.malformed('the checkpoint does not end with a newline')
  const body = note.slice(0, sep + 1)
  const lines = body.slice(0, -1).split('\n')
  if (lines.length < 3) throw witnessErrors.malformed('the checkpoint needs origin, size and root hash lines')
  const origin = lines[0]!
  if (origin === '' || /\s/.test(origin)) throw witnessErrors.malformed('the checkpoint origin is empty or holds white space')
  const treeSize = parseSize(lines[1]!, 'checkpoint size')
  const rootHash = parseHash(lines[2]!, 'checkpoint root hash')
  if (oldSize > treeSize) throw witnessErrors.malformed(`old size ${oldSize} is larger than the checkpoint size ${treeSize}`)
  return { oldSize, proof, note, body, origin, treeSize, rootHash }
}

interface LogState {
  tree_size: number
  root_hash: Buffer
  note: string
}

/**
 * The last checkpoint this witness cosigned for the log whose origin hashes to `originHash`
 * (SHA-256 of the origin, lower-case hex), with the log's signatures and this witness's
 * cosignature: the monitoring `GET <prefix>/<origin hash>/checkpoint` of c2sp.org/tlog-witness.
 */
export function witnessedCheckpoint(db: Db, originHash: string): string | undefined {
  if (!/^[0-9a-f]{64}$/.test(originHash)) return undefined
  for (const r of db.prepare('SELECT origin, note, cosignature FROM witness_logs').all() as { origin: string; note: string; cosignature: string }[]) {
    if (sha256(Buffer.from(r.origin, 'utf8')).toString('hex') === originHash) return r.note + r.cosignature
  }
  return undefined
}

/** The last checkpoint this witness cosigned for `origin`, if any. */
export function witnessedState(db: Db, origin: string): { treeSize: number; rootHash: Buffer; note: string } | undefined {
  const row = db.prepare('SELECT tree_size, root_hash, note FROM witness_logs WHERE origin = ?').get(origin) as LogState | undefined
  return row && { treeSize: row.tree_size, rootHash: row.root_hash, note: row.note }
}

/**
 * Handles one add-checkpoint request (c2sp.org/tlog-witness): verifies the checkpoint's
 * signature under the log key pinned for its origin, checks that `old` is the size it last
 * cosigned and that the consistency proof leads from its recorded (size, root) to the new
 * checkpoint, records the new state and returns the cosignature. Check and record are one
 * IMMEDIATE transaction, so two concurrent requests cannot roll the state back.
 *
 * Throws WITNESS_MALFORMED (400), WITNESS_UNKNOWN_LOG (404), WITNESS_BAD_SIGNATURE (403),
 * WITNESS_OLD_SIZE_MISMATCH (409; `details.size` is the size to retry from),
 * WITNESS_BAD_PROOF / WITNESS_SPLIT_VIEW (422: never cosigned; the note is kept as evidence).
 *
 * @example
 * addCheckpoint(ctx, 'old 0\n\nprovena.log/…\n5\n…=\n\n— provena.log/… …\n') // { treeSize: 5, cosignature: '— provena.witness/… …\n', … }
 */
export function addCheckpoint(ctx: WitnessContext, text: string): AddCheckpointResult {
  const req = parseAddCheckpoint(text)
  const key = ctx.logKey(req.origin)
  if (!key) throw witnessErrors.unknownLog(req.origin)
  try {
    openCheckpoint(req.note, req.origin, key)
  } catch (e) {
    if (isProvenaError(e, 'LOG_BAD_CHECKPOINT')) throw witnessErrors.badSignature(req.origin)
    throw e
  }
  const now = (ctx.now ?? Date.now)()
  const result = ctx.db.transaction((): AddCheckpointResult | ProvenaError => {
    const last = witnessedState(ctx.db, req.origin) ?? { treeSize: 0, rootHash: EMPTY_ROOT, note: '' }
    if (req.oldSize !== last.treeSize) throw witnessErrors.oldSizeMismatch(req.origin, req.oldSize, last.treeSize)
    if (req.treeSize === 0 && !req.rootHash.equals(EMPTY_ROOT)) {
      throw witnessErrors.inconsistent(req.origin, { size: 0, root: EMPTY_ROOT }, { size: 0, root: req.rootHash }, 'a tree of size 0 has the root of the empty tree')
    }
    try {
      verifyConsistency(last.treeSize, req.treeSize, last.rootHash, req.rootHash, req.proof)
    } catch (e) {
      if (!isProvenaError(e, 'LOG_BAD_PROOF') && !isProvenaError(e, 'LOG_ROOT_MISMATCH')) throw e
      const error = witnessErrors.inconsistent(req.origin, { size: last.treeSize, root: last.rootHash }, { size: req.treeSize, root: req.rootHash }, e.message)
      // Validly signed by the log and yet not an extension: proof of misbehaviour, kept
      // (c2sp.org/tlog-witness allows logging it). The transaction commits this row only.
      ctx.db.prepare('INSERT INTO witness_evidence (origin, note, reason, received_at) VALUES (?, ?, ?, ?)').run(req.origin, req.note, error.message, now)
      return error
    }
    const cosignature = signCosignature(req.body, ctx.key, Math.max(1, Math.floor(now / 1000)))
    // Persisted before the answer leaves (the spec's MUST), in the transaction that checked.
    ctx.db
      .prepare(
        `INSERT INTO witness_logs (origin, tree_size, root_hash, note, cosignature, updated_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (origin) DO UPDATE SET tree_size = excluded.tree_size, root_hash = excluded.root_hash, note = excluded.note,
           cosignature = excluded.cosignature, updated_at = excluded.updated_at`,
      )
      .run(req.origin, req.treeSize, req.rootHash, req.note, cosignature, now)
    return { origin: req.origin, treeSize: req.treeSize, rootHash: req.rootHash, cosignature }
  }).immediate()
  if (result instanceof ProvenaError) throw result
  return result
}

/**
 * The witness's answer to `add-checkpoint` as HTTP: status, content type and body. Errors
 * that are not the protocol's propagate.
 */
export function addCheckpointResponse(ctx: WitnessContext, text: string): { status: number; contentType: string; body: string } {
  let result: AddCheckpointResult | Error
  try {
    result = addCheckpoint(ctx, text)
  } catch (e) {
    result = e as Error
  }
  if (!(result instanceof Error)) return { status: 200, contentType: 'text/plain; charset=utf-8', body: result.cosignature }
  const e = result
  if (!isProvenaError(e) || !e.code.startsWith('WITNESS_')) throw e
  const status = WITNESS_STATUS[e.code as keyof typeof WITNESS_STATUS] ?? 400
  if (e.code === 'WITNESS_OLD_SIZE_MISMATCH') return { status, contentType: TLOG_SIZE_CONTENT_TYPE, body: `${e.details!.size as number}\n` }
  return { status, contentType: 'text/plain; charset=utf-8', body: `${e.message}\n` }
}

/** The HTTP status c2sp.org/tlog-witness gives each refusal (the same as src/errorCatalogue.ts). */
export const WITNESS_STATUS = {
  WITNESS_MALFORMED: 400,
  WITNESS_BAD_SIGNATURE: 403,
  WITNESS_UNKNOWN_LOG: 404,
  WITNESS_OLD_SIZE_MISMATCH: 409,
  WITNESS_BAD_PROOF: 422,
  WITNESS_SPLIT_VIEW: 422,
} as const

/**
 * The logs a node witnesses: every member log of the pinned consortium file but its own
 * (`ownOrigin`), origin → Ed25519 key from the pinned vkey.
 */
export function witnessedLogs(c: Consortium | undefined, ownOrigin: string): Map<string, Buffer> {
  const logs = new Map<string, Buffer>()
  for (const m of c?.members ?? []) {
    if (!m.log || m.log.origin === ownOrigin) continue
    const key = parseVerifierKey(m.log.vkey)
    if (key) logs.set(m.log.origin, key.publicKey)
  }
  return logs
}

/**
 * The witness of an open data dir (a `Provena`): its database, the witness key derived from
 * its operator key (unlocks it), and the logs of its pinned consortium file but its own.
 *
 * @example
 * await app.register(witnessRoutes, { witness: witnessContextFor(p) })
 */
export function witnessContextFor(p: { db: Db; signer: { origin: string; privateKey: KeyObject }; consortium: Consortium | undefined }): WitnessContext {
  const logs = witnessedLogs(p.consortium, p.signer.origin)
  return { db: p.db, key: deriveWitnessKey(p.signer.privateKey), logKey: (origin) => logs.get(origin) }
}

/**
 * The optional member-entry fields that make a node a witness of the others' logs: its
 * witness vkey (derived from the operator key: unlocks it) and, when it serves, its base
 * URL. A member puts them in its entry before signing its card (service/consortium.ts
 * `memberEntryOf`).
 *
 * @example
 * witnessCardFields(p, 'https://node.st-mary.example') // { endpoint: 'https://node.st-mary.example', witness: 'provena.witness/…+1a2b3c4d+BN…' }
 */
export function witnessCardFields(p: { signer: { privateKey: KeyObject } }, endpoint?: string): { endpoint?: string; witness: string } {
  return { ...(endpoint !== undefined ? { endpoint } : {}), witness: witnessVerifierKey(deriveWitnessKey(p.signer.privateKey)) }
}
