import { segmentsFrom, type ExportReport, type UnlockedIdentity } from '../access/index.js'
import { nodeBaseUrl, requestReleaseOverHttp, segmentFetcher } from '../node/index.js'
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
    segments: segmentsFrom(segmentFetcher(from, key), from),
    out: opts.out,
    purpose: opts.purpose,
    onProgress: opts.onProgress,
  })
  return { ...report, from }
}
