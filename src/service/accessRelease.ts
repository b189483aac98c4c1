import {
  ACCESS_RELEASE_TYPE,
  ACCESS_REQUEST_TYPE,
  buildKeyRelease,
  importedDataset,
  isAllowed,
  publishSegments,
  selectRecords,
  type AccessRequestBody,
  type KeyReleaseBody,
  type UnlockedIdentity,
} from '../access/index.js'
import { anchorNow } from '../app/index.js'
import { consentVerdicts, resolvePurpose } from '../consent/index.js'
import { canonicalJsonBytes, type DsseEnvelope } from '../crypto/index.js'
import { ProvenaError } from '../errors.js'
import { LOG_EVENT, type AccessReleasedEvent } from '../log/index.js'
import { claimedHeader, dbNonceTable, messageDigest, signMessage, verifyMessage } from '../node/index.js'
import { nodeMembers, type MemberDirectory } from './accessMembers.js'
import type { ServiceContext } from './context.js'

/** How long a key release stays valid for its recipient to open: a day. */
export const RELEASE_TTL_MS = 24 * 3_600_000

/** What `releaseAccess` returns. */
/** The body of a key release this node signed: its payload without the message header. */
function releaseBodyOf(release: DsseEnvelope): KeyReleaseBody {
  const { _type: _t, from: _f, to: _to, purpose: _p, issuedAt: _i, expiresAt: _e, nonce: _n, ...body } = JSON.parse(Buffer.from(release.payload, 'base64').toString('utf8')) as Record<string, unknown>
  return body as unknown as KeyReleaseBody
}

export interface AccessReleaseReport {
  release: DsseEnvelope
  digest: string
  body: KeyReleaseBody
  dataset: string
  requester: string
  purpose: string
  records: number
  excluded: Record<string, number>
  /** Segments copied to `segmentsOut` (0 without it). */
  segmentsWritten: number
  logIndex: number
}

/**
 * Answers a request for a key release on the controller's node (`provena access release`),
 * as `as`, the dataset's controller:
 * 1. the request is a message (src/node/messages.ts): signed by its sender's did:key,
 *    addressed to `as`, from a pinned member, within its time window, a nonce never seen;
 * 2. AccessPolicy allows the requester's pinned address to use the dataset for the
 *    request's purpose, now;
 * 3. the consent gate for that purpose: records of subjects whose consent does not hold
 *    now are left out, their keys never unwrapped;
 * 4. the other keys are sealed with HPKE to the requester's pinned X25519 key, in a
 *    release message `as` signs (records' places, segment CIDs, counts left out by reason).
 * The release — or the refusal, naming why — is logged and anchored; a refusal throws
 * (the request's nonce is spent either way: a new attempt needs a new request).
 * With `segmentsOut`, the segments the release names are copied there as CID-named files.
 */
export async function releaseAccess(
  ctx: ServiceContext,
  opts: {
    request: unknown
    as: UnlockedIdentity
    segmentsOut?: string | undefined
    /** Serve the release's segments from this node (GET /v1/segments/{cid}) to the requester until the release expires. */
    serveSegments?: boolean | undefined
    ttlMs?: number | undefined
    members?: MemberDirectory | undefined
    now?: number | undefined
  },
): Promise<AccessReleaseReport> {
  const { p, chain, plane } = ctx
  const members = opts.members ?? nodeMembers(p)
  const claimed = claimedHeader(opts.request)
  let digest = ''
  try {
    digest = messageDigest(opts.request as DsseEnvelope)
  } catch {
    // Not JSON-shaped enough to hash: verifyMessage names it below.
  }
  // Over HTTP, a request answered already (its answer lost: the requester's node or this
  // one was killed) gets the same release again, logged once: the request's digest names
  // the exact envelope that was verified, and the caller is its sender (the route checks).
  if (opts.serveSegments && digest) {
    const answered = p.db.prepare('SELECT answer FROM access_release_answers WHERE request = ? AND requester = ? AND expires_at > ?').pluck().get(digest, claimed?.from ?? '', opts.now ?? Date.now()) as string | undefined
    if (answered) {
      // Stored without its body (the envelope carries it: half the bytes to write), read back from the envelope.
      const a = JSON.parse(answered) as Omit<AccessReleaseReport, 'body'>
      return { ...a, body: releaseBodyOf(a.release) }
    }
  }
  // What an unverified request claims, for the log entry of its refusal: kept only when it
  // has the shape of what it claims to be (nobody writes arbitrary text into the log).
  const claimedDataset = (() => {
    try {
      const v = JSON.parse(Buffer.from((opts.request as DsseEnvelope).payload, 'base64').toString('utf8')) as { dataset?: unknown }
      return typeof v.dataset === 'string' && /^[0-9a-f]{64}$/.test(v.dataset) ? v.dataset : null
    } catch {
      return null
    }
  })()
  const shaped = (v: string | undefined, re: RegExp) => (v !== undefined && v.length <= 256 && re.test(v) ? v : null)
  const logRelease = (e: Partial<AccessReleasedEvent> & { outcome: string }) => {
    const event: AccessReleasedEvent = {
      type: LOG_EVENT.accessReleased,
      actor: opts.as.did,
      time: new Date().toISOString(),
      dataset: claimedDataset,
      requester: shaped(claimed?.from, /^did:key:z[1-9A-HJ-NP-Za-km-z]+$/),
      purpose: shaped(claimed?.purpose, /^[\x21-\x7e]+$/),
      request: digest,
      release: null,
      records: 0,
      excluded: {},
      verified,
      ...e,
    }
    return p.log.append([canonicalJsonBytes(event)])
  }
  // Whether the request's signature, sender, recipient, time and nonce held: until then the
  // entry's requester and purpose are only what the request claims.
  let verified = false
  try {
    const m = verifyMessage<AccessRequestBody>(opts.request, {
      type: ACCESS_REQUEST_TYPE,
      isOwn: (did) => did === opts.as.did,
      isMember: (did) => members.byDid(did) !== undefined,
      nonces: dbNonceTable(p.db),
      now: opts.now,
    })
    verified = true
    const requester = members.byDid(m.from)!
    if (typeof m.dataset !== 'string' || !/^[0-9a-f]{64}$/.test(m.dataset)) throw new ProvenaError('MESSAGE_MALFORMED', 'the request names no dataset id (field "dataset", 64 hex digits)')
    const dataset = importedDataset(p.db, m.dataset)
    if (dataset.controller !== opts.as.did) {
      throw new ProvenaError('ACCESS_NOT_CONTROLLER', `${opts.as.name} is not the controller of dataset ${dataset.id.slice(0, 12)}: only its controller releases its keys`)
    }
    const purpose = resolvePurpose(m.purpose, p.config.purposes).id
    if (!(await isAllowed(chain.client, chain.deployment, dataset.id, requester.address, purpose))) {
      throw new ProvenaError('ACCESS_DENIED', `AccessPolicy does not allow ${requester.name} (${requester.address}) to use dataset ${dataset.id.slice(0, 12)} for ${purpose} now: no active grant on-chain`, {
        hint: `the controller grants it first: provena access grant ${dataset.id.slice(0, 12)} --to ${requester.did} --purpose ${purpose}`,
      })
    }
    // The consent decision is taken now, just before any key is unwrapped.
    const selection = selectRecords(p.db, dataset, opts.as, (pseudonyms) => consentVerdicts({ db: p.db }, pseudonyms, dataset.id, purpose, Date.now()))
    const body = buildKeyRelease(p.db, dataset, selection, requester, { digest, nonce: m.nonce })
    const { envelope } = signMessage(opts.as, { _type: ACCESS_RELEASE_TYPE, to: requester.did, purpose: m.purpose, body }, { ttlMs: opts.ttlMs ?? RELEASE_TTL_MS, now: opts.now })
    const releaseDigest = messageDigest(envelope)
    // The ciphertext first (harmless without the keys), so that a release logged is complete.
    const segmentsWritten = opts.segmentsOut ? await publishSegments(plane.store, body.segments, opts.segmentsOut) : 0
    const logIndex = p.db.transaction(() => {
      if (opts.serveSegments) {
        const expiresAt = (opts.now ?? Date.now()) + (opts.ttlMs ?? RELEASE_TTL_MS)
        const add = p.db.prepare('INSERT OR IGNORE INTO access_released_segments (requester, cid, release, expires_at) VALUES (?, ?, ?, ?)')
        for (const cid of body.segments) add.run(requester.did, cid, releaseDigest, expiresAt)
      }
      const logIndex = logRelease({ dataset: dataset.id, requester: requester.did, purpose: m.purpose, release: releaseDigest, records: body.records, excluded: body.excluded, outcome: 'released' })
      if (opts.serveSegments) {
        const report: Omit<AccessReleaseReport, 'body'> = { release: envelope, digest: releaseDigest, dataset: dataset.id, requester: requester.did, purpose: m.purpose, records: body.records, excluded: body.excluded, segmentsWritten: 0, logIndex }
        p.db.prepare('INSERT OR REPLACE INTO access_release_answers (request, requester, answer, expires_at) VALUES (?, ?, ?, ?)').run(digest, requester.did, JSON.stringify(report), (opts.now ?? Date.now()) + (opts.ttlMs ?? RELEASE_TTL_MS))
      }
      return logIndex
    })()
    return { release: envelope, digest: releaseDigest, body, dataset: dataset.id, requester: requester.did, purpose: m.purpose, records: body.records, excluded: body.excluded, segmentsWritten, logIndex }
  } catch (error) {
    logRelease({ outcome: `refused: ${(error as { code?: string }).code ?? 'error'}` })
    throw error
  } finally {
    await anchorNow(p, chain)
  }
}

/**
 * A ciphertext segment this node serves to `requester` (GET /v1/segments/{cid}): only one
 * named by an unexpired release this node issued to it (releaseAccess with
 * `serveSegments`). Throws ACCESS_SEGMENT_NOT_RELEASED otherwise: a member cannot read
 * another's segments, nor a segment after its release expired.
 */
export async function releasedSegment(ctx: ServiceContext, requester: string, cid: string, now = Date.now()): Promise<Buffer> {
  const held = ctx.p.db.prepare('SELECT 1 FROM access_released_segments WHERE requester = ? AND cid = ? AND expires_at > ? LIMIT 1').get(requester, cid, now)
  if (!held) {
    throw new ProvenaError('ACCESS_SEGMENT_NOT_RELEASED', `segment ${cid} is not named by any unexpired key release this node issued to ${requester}`, {
      hint: 'request access again: provena dataset export DATASET --from URL --purpose P',
    })
  }
  return ctx.plane.store.get(cid)
}
