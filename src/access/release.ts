// Key release (issue 12, attack 1): a dataset's data keys leave the controller's node only
// sealed with HPKE (RFC 9180) to the X25519 key of the requester as the controller's node
// knows it (its pinned member entry, never a key carried in the request), inside a release
// message the controller signs. The requester's node opens it with its own private key and
// decrypts the ciphertext segments it fetched by CID. This file holds both sides of the
// release body; the message checks are src/node/messages.ts, the operations src/service/.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { cryptoErrors, openWith, sealTo, sha256Hex } from '../crypto/index.js'
import type { Db } from '../db/index.js'
import { ProvenaError } from '../errors.js'
import { cidOf, type BlobStore } from '../store/index.js'
import { segmentCidsOf, writeRecords, type ImportedDataset, type RecordSelection } from './dataPlane.js'
import type { ExportRow } from './exportParallel.js'
import type { UnlockedIdentity } from './identities.js'

/** The message type of a request for a key release (requester → controller). */
export const ACCESS_REQUEST_TYPE = 'provena.access.request/v1'
/** The message type of a key release (controller → requester). */
export const ACCESS_RELEASE_TYPE = 'provena.access.release/v1'

/** HPKE `info` of a key release. */
const INFO = Buffer.from('provena/key-release/v1')
const KEY = 32
const PLACE = 5

/** The body of a request: which dataset (the purpose is the message's). */
export interface AccessRequestBody {
  dataset: string
}

/** The body of a key release. */
export interface KeyReleaseBody {
  dataset: string
  /** The dataset's Merkle root (hex), as registered. */
  root: string
  /** The request it answers: its message digest and nonce. */
  request: string
  requestNonce: string
  format: string
  /** CSV columns; null for JSON Lines. */
  columns: string[] | null
  subjectColumn: string
  records: number
  /** The ciphertext segments, by CID (CIDv1 raw sha2-256): fetch them from where the controller publishes them. */
  segments: string[]
  /** The subjects released, by pseudonym, in the order of `keys`. */
  pseudonyms: string[]
  /**
   * The records' places, base64 of five uint32 (little-endian) per record: its index in the
   * dataset, its segment (a position in `segments`), the offset and length of its
   * ciphertext in the segment, its subject (a position in `pseudonyms`).
   */
  places: string
  /** Records left out, by reason (erased, refused, withdrawn, no-consent, …). */
  excluded: Record<string, number>
  /** HPKE base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM: enc ‖ ciphertext of the data keys (32 bytes each, in `pseudonyms` order), base64. */
  keys: string
}

/**
 * The additional data of a release's HPKE message: dataset, requester DID, request nonce
 * and the digest of the pseudonyms in order, so the sealed keys cannot be moved to another
 * dataset, requester, request or subject order.
 */
export function releaseAad(dataset: string, requester: string, requestNonce: string, pseudonyms: readonly string[]): Buffer {
  return Buffer.from(`provena.key-release/v1:${dataset}:${requester}:${requestNonce}:${sha256Hex(Buffer.from(pseudonyms.join(','), 'utf8'))}`, 'utf8')
}

/**
 * The controller's side: the release body for the selected records, their subjects' keys
 * sealed to `to.x25519` (hex, the X25519 key the controller's node pins for the requester).
 */
export function buildKeyRelease(
  db: Db,
  dataset: ImportedDataset,
  selection: RecordSelection,
  to: { did: string; x25519: string },
  request: { digest: string; nonce: string },
): KeyReleaseBody {
  const cidOf = segmentCidsOf(db)
  const segmentAt = new Map<number, number>()
  const segments: string[] = []
  const subjectAt = new Map<number, number>()
  const pseudonyms: string[] = []
  const keys: Buffer[] = []
  const places = Buffer.allocUnsafe(4 * PLACE * selection.rows.length)
  selection.rows.forEach((r, i) => {
    let seg = segmentAt.get(r.segment)
    if (seg === undefined) {
      segmentAt.set(r.segment, (seg = segments.length))
      segments.push(cidOf(r.segment))
    }
    let subj = subjectAt.get(r.subject)
    if (subj === undefined) {
      subjectAt.set(r.subject, (subj = pseudonyms.length))
      pseudonyms.push(selection.pseudonyms.get(r.subject)!)
      keys.push(selection.keys.get(r.subject)!)
    }
    const at = 4 * PLACE * i
    places.writeUInt32LE(r.idx, at)
    places.writeUInt32LE(seg, at + 4)
    places.writeUInt32LE(r.offset, at + 8)
    places.writeUInt32LE(r.length, at + 12)
    places.writeUInt32LE(subj, at + 16)
  })
  const recipient = Buffer.from(to.x25519, 'hex')
  if (recipient.length !== 32) throw new ProvenaError('ACCESS_BAD_RECIPIENT_KEY', `the X25519 key pinned for ${to.did} is not 32 bytes of hex`)
  const sealed = sealTo(recipient, INFO, releaseAad(dataset.id, to.did, request.nonce, pseudonyms), Buffer.concat(keys))
  return {
    dataset: dataset.id,
    root: dataset.root,
    request: request.digest,
    requestNonce: request.nonce,
    format: dataset.format,
    columns: dataset.columns ?? null,
    subjectColumn: dataset.subjectColumn,
    records: selection.rows.length,
    segments,
    pseudonyms,
    places: places.toString('base64'),
    excluded: selection.excluded,
    keys: sealed.toString('base64'),
  }
}

const badRelease = (field: string, why: string) => new ProvenaError('ACCESS_BAD_RELEASE', `the key release's field "${field}" ${why}`)

/** What the requester's node needs to decrypt: the rows (subject = position in `pseudonyms`), the keys, the CIDs. */
export interface OpenedRelease {
  rows: ExportRow[]
  keys: Buffer[]
  pseudonyms: string[]
  segments: string[]
}

/**
 * The requester's side: checks the body's fields and opens the sealed keys with the
 * requester's own X25519 private key. ACCESS_BAD_RELEASE names a malformed field;
 * CRYPTO_DECRYPT_FAILED an HPKE message that is not for this identity or was altered.
 */
export function openKeyRelease(body: KeyReleaseBody, me: Pick<UnlockedIdentity, 'did' | 'x25519PrivateKey'>): OpenedRelease {
  const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string')
  for (const f of ['dataset', 'root', 'request', 'requestNonce', 'format', 'subjectColumn', 'places', 'keys'] as const) if (typeof body[f] !== 'string') throw badRelease(f, 'is missing or not a string')
  if (!/^[0-9a-f]{64}$/.test(body.dataset)) throw badRelease('dataset', 'is not a dataset id (64 hex digits)')
  if (body.columns !== null && !isStrings(body.columns)) throw badRelease('columns', 'is not a list of column names or null')
  if (!isStrings(body.segments)) throw badRelease('segments', 'is not a list of CIDs')
  if (!isStrings(body.pseudonyms)) throw badRelease('pseudonyms', 'is not a list of pseudonyms')
  if (!Number.isSafeInteger(body.records) || body.records < 0) throw badRelease('records', 'is not a count')
  const places = Buffer.from(body.places, 'base64')
  if (places.length !== 4 * PLACE * body.records) throw badRelease('places', `holds ${places.length} bytes, not ${4 * PLACE} for each of ${body.records} records`)
  const rows: ExportRow[] = new Array(body.records)
  for (let i = 0, last = -1; i < body.records; i++) {
    const at = 4 * PLACE * i
    const r = { idx: places.readUInt32LE(at), segment: places.readUInt32LE(at + 4), offset: places.readUInt32LE(at + 8), length: places.readUInt32LE(at + 12), subject: places.readUInt32LE(at + 16) }
    if (r.idx <= last) throw badRelease('places', `lists record ${r.idx} out of index order`)
    if (r.segment >= body.segments.length) throw badRelease('places', `names segment ${r.segment} of ${body.segments.length}`)
    if (r.subject >= body.pseudonyms.length) throw badRelease('places', `names subject ${r.subject} of ${body.pseudonyms.length}`)
    last = r.idx
    rows[i] = r
  }
  let plain: Buffer
  try {
    plain = openWith(me.x25519PrivateKey, INFO, releaseAad(body.dataset, me.did, body.requestNonce, body.pseudonyms), Buffer.from(body.keys, 'base64'))
  } catch {
    throw cryptoErrors.decryptFailed(`the key release's sealed keys do not open with the X25519 key of ${me.did}: sealed to another key, or altered`)
  }
  if (plain.length !== KEY * body.pseudonyms.length) throw badRelease('keys', `holds ${plain.length / KEY} keys for ${body.pseudonyms.length} subjects`)
  const keys = body.pseudonyms.map((_, i) => plain.subarray(KEY * i, KEY * i + KEY))
  return { rows, keys, pseudonyms: body.pseudonyms, segments: body.segments }
}

/** Where the requester's node reads ciphertext segments: bytes by CID. */
export type SegmentSource = (cid: string) => Promise<Buffer>

/**
 * Segments published in a directory as CID-named files (`DIR/<cid>`, as `--segments-out`
 * writes them). Each file is hashed: bytes that do not hash to their CID are named.
 */
export function segmentsFromDir(dir: string): SegmentSource {
  return async (cid) => {
    const path = join(dir, cid)
    if (!existsSync(path)) throw new ProvenaError('ACCESS_SEGMENT_MISSING', `segment ${cid} is not in ${dir}`, { hint: 'ask the controller for the segments: provena access release … --segments-out DIR' })
    return checkedSegment(cid, readFileSync(path), path)
  }
}

/** Segments from a block store, hashed as they come. */
export function segmentsFromStore(store: BlobStore): SegmentSource {
  return async (cid) => checkedSegment(cid, await store.get(cid), `the ${store.kind} store`)
}

/**
 * Segments fetched by CID from somewhere else (another node over HTTP), hashed as they
 * come: `fetchBytes` returns the bytes, `where` names the source in errors.
 */
export function segmentsFrom(fetchBytes: (cid: string) => Promise<Buffer>, where: string): SegmentSource {
  return async (cid) => checkedSegment(cid, await fetchBytes(cid), where)
}

function checkedSegment(cid: string, bytes: Buffer, where: string): Buffer {
  const actual = cidOf(bytes)
  if (actual !== cid) throw new ProvenaError('ACCESS_SEGMENT_ALTERED', `segment ${cid} (${where}) does not hash to its CID: its bytes are ${actual} (a wrong or altered block)`)
  return bytes
}

/**
 * Copies the segments a release names from the controller's store into `dir`, one file per
 * segment named by its CID (the same CID `ipfs add --cid-version 1 --raw-leaves` gives).
 */
export async function publishSegments(store: BlobStore, cids: readonly string[], dir: string): Promise<number> {
  mkdirSync(dir, { recursive: true })
  let written = 0
  for (const cid of new Set(cids)) {
    const path = join(dir, cid)
    if (existsSync(path)) continue
    const tmp = `${path}.tmp-${process.pid}`
    writeFileSync(tmp, await store.get(cid))
    renameSync(tmp, path)
    written++
  }
  return written
}

/**
 * Decrypts a release's records with the opened keys, fetching each segment by CID from
 * `segments`, and writes them (pseudonyms in the subject column) to `out`.
 */
export async function writeReleasedRecords(
  body: KeyReleaseBody,
  opened: OpenedRelease,
  opts: { segments: SegmentSource; out: string; parallelFrom?: number | undefined; onProgress?: ((done: number, total: number) => void) | undefined },
): Promise<void> {
  await writeRecords({
    dataset: body.dataset,
    columns: body.columns ?? undefined,
    subjectColumn: body.subjectColumn,
    rows: opened.rows,
    keyOf: (s) => opened.keys[s]!,
    pseudonymOf: (s) => opened.pseudonyms[s]!,
    segmentBytes: (s) => opts.segments(opened.segments[s]!),
    out: opts.out,
    failed: (idx) => {
      throw cryptoErrors.decryptFailed(`record ${idx} of dataset ${body.dataset.slice(0, 12)} does not decrypt with its released key: its ciphertext or key was altered (GCM tag mismatch)`)
    },
    parallelFrom: opts.parallelFrom,
    onProgress: opts.onProgress,
  })
}
