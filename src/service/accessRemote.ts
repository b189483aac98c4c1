import { segmentsFrom, type ExportReport, type UnlockedIdentity } from '../access/index.js'
import { faultPoint } from '../chain/index.js'
import type { DsseEnvelope } from '../crypto/index.js'
import { isProvenaError } from '../errors.js'
import { nodeBaseUrl, readAhead, requestReleaseOverHttp, segmentsFetcher } from '../node/index.js'
import { exportReleased } from './accessExport.js'
import { requestAccess } from './accessRequest.js'
import type { ServiceContext } from './context.js'

/** An export --from in progress on this node (access_remote_exports): the request sent, the release got. */
interface PendingExport {
  request: DsseEnvelope
  release: unknown
}

/**
 * `provena dataset export DATASET --from URL --purpose P --as NAME`: the three steps of a
 * key release between nodes in one command, over HTTP. On this (the requester's) node: the
 * signed request (logged, anchored); posted to the controller's node, which checks it, the
 * chain and consent and answers with a release sealed to `as`'s pinned X25519 key; the
 * release checked here as a file would be; the ciphertext segments fetched by CID from the
 * controller's node (each hashed) and decrypted locally with `as`'s own key. Every request
 * to the other node is signed (RFC 9421) with `as`'s did:key.
 *
 * Killed and run again (either node killed mid-way), the export completes without asking
 * twice: the request sent and the release got are kept here (access_remote_exports) until
 * the export is written; a rerun posts the same request (the controller answers it with
 * the same release, logged once) or reuses the release, and fetches the segments again.
 * Only a request the controller never recorded (its nonce spent before a crash) is replaced.
 */
export async function exportFromNode(
  ctx: ServiceContext,
  opts: { from: string; dataset: string; purpose: string; as: UnlockedIdentity; out: string; onProgress?: ((done: number, total: number) => void) | undefined },
): Promise<ExportReport & { from: string }> {
  const { db } = ctx.p
  const from = nodeBaseUrl(opts.from)
  const key = { keyId: opts.as.did, privateKey: opts.as.signing.privateKey }
  const pendingKey = JSON.stringify([from, opts.dataset.toLowerCase().replace(/^0x/, ''), opts.purpose, opts.as.did])
  const row = db.prepare('SELECT request, release FROM access_remote_exports WHERE key = ? AND request_expires_at > ?').get(pendingKey, Date.now()) as { request: string; release: string | null } | undefined
  const pending: PendingExport | undefined = row && { request: JSON.parse(row.request) as DsseEnvelope, release: row.release === null ? undefined : (JSON.parse(row.release) as unknown) }
  const newRequest = async (): Promise<DsseEnvelope> => {
    const r = await requestAccess(ctx, { dataset: opts.dataset, purpose: opts.purpose, as: opts.as })
    db.prepare('INSERT OR REPLACE INTO access_remote_exports (key, request, request_expires_at, release, created_at) VALUES (?, ?, ?, NULL, ?)').run(pendingKey, JSON.stringify(r.request), Date.parse(r.expiresAt), Date.now())
    return r.request
  }
  let release = pending?.release
  if (release === undefined) {
    const request = pending?.request ?? (await newRequest())
    try {
      release = await requestReleaseOverHttp(from, request, key)
    } catch (e) {
      // The controller spent the request's nonce but recorded no answer (killed before): ask anew.
      if (!pending || !isProvenaError(e) || !/MESSAGE_REPLAYED/.test(e.message)) throw e
      release = await requestReleaseOverHttp(from, await newRequest(), key)
    }
    db.prepare('UPDATE access_remote_exports SET release = ? WHERE key = ?').run(JSON.stringify(release), pendingKey)
  }
  faultPoint('export:after-release')
  const fetchSegment = readAhead(segmentsFetcher(from, key), releasedCids(release))
  const report = await exportReleased(ctx, {
    release,
    as: opts.as,
    // Fetched ahead, several a request, in the order the release lists them (read from it
    // unchecked: each segment is hashed against its CID when used).
    segments: segmentsFrom(async (cid) => {
      const bytes = await fetchSegment(cid)
      faultPoint('export:after-segment')
      return bytes
    }, from),
    out: opts.out,
    purpose: opts.purpose,
    onProgress: opts.onProgress,
  }).catch((e: unknown) => {
    // Kept for a rerun only when the controller's node could not be reached (killed, restarting).
    if (isProvenaError(e) && !isProvenaError(e, 'NODE_UNREACHABLE')) db.prepare('DELETE FROM access_remote_exports WHERE key = ?').run(pendingKey)
    throw e
  })
  db.prepare('DELETE FROM access_remote_exports WHERE key = ?').run(pendingKey)
  return { ...report, from }
}

/** The segment CIDs a key release lists, in order, read without checking it (a hint for reading ahead: [] when unreadable). */
function releasedCids(release: unknown): string[] {
  try {
    const payload = (release as { payload?: unknown }).payload
    if (typeof payload !== 'string') return []
    const body = JSON.parse(Buffer.from(payload, 'base64').toString('utf8')) as { segments?: unknown }
    return Array.isArray(body.segments) ? body.segments.filter((c): c is string => typeof c === 'string') : []
  } catch {
    return []
  }
}

