import { segmentsFrom, type ExportReport, type UnlockedIdentity } from '../access/index.js'
import { nodeBaseUrl, readAhead, requestReleaseOverHttp, segmentsFetcher } from '../node/index.js'
import { exportReleased } from './accessExport.js'
import { requestAccess } from './accessRequest.js'
import type { ServiceContext } from './context.js'

/**
 * `provena dataset export DATASET --from URL --purpose P --as NAME`: the three steps of a
 * key release between nodes in one command, over HTTP. On this (the requester's) node: the
 * signed request (logged, anchored); posted to the controller's node, which checks it, the
 * chain and consent and answers with a release sealed to `as`'s pinned X25519 key; the
 * release checked here as a file would be; the ciphertext segments fetched by CID from the
 * controller's node (each hashed) and decrypted locally with `as`'s own key. Every request
 * to the other node is signed (RFC 9421) with `as`'s did:key.
 */
export async function exportFromNode(
  ctx: ServiceContext,
  opts: { from: string; dataset: string; purpose: string; as: UnlockedIdentity; out: string; onProgress?: ((done: number, total: number) => void) | undefined },
): Promise<ExportReport & { from: string }> {
  const from = nodeBaseUrl(opts.from)
  const key = { keyId: opts.as.did, privateKey: opts.as.signing.privateKey }
  const { request } = await requestAccess(ctx, { dataset: opts.dataset, purpose: opts.purpose, as: opts.as })
  const release = await requestReleaseOverHttp(from, request, key)
  const report = await exportReleased(ctx, {
    release,
    as: opts.as,
    // Fetched ahead, several a request, in the order the release lists them (read from it
    // unchecked: each segment is hashed against its CID when used).
    segments: segmentsFrom(readAhead(segmentsFetcher(from, key), releasedCids(release)), from),
    out: opts.out,
    purpose: opts.purpose,
    onProgress: opts.onProgress,
  })
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

