import {
  ACCESS_RELEASE_TYPE,
  datasetOwner,
  isAllowed,
  logExportEvent,
  openKeyRelease,
  writeReleasedRecords,
  type ExportReport,
  type KeyReleaseBody,
  type SegmentSource,
  type UnlockedIdentity,
} from '../access/index.js'
import { anchorNow } from '../app/index.js'
import type { DsseEnvelope } from '../crypto/index.js'
import { ProvenaError } from '../errors.js'
import { dbNonceTable, messageDigest, verifyMessage } from '../node/index.js'
import { nodeMembers, type MemberDirectory } from './accessMembers.js'
import type { ServiceContext } from './context.js'

/**
 * Exports a dataset from a key release on the requester's node (`provena dataset export
 * --release`), as `as`, the identity the release is addressed to:
 * 1. the release is a message (src/node/messages.ts) from a pinned member, to `as`, in its
 *    time window, a nonce never seen;
 * 2. its sender is the dataset's controller: the member whose address owns the dataset in
 *    AccessPolicy on the chain;
 * 3. it answers a request this node made (same nonce, digest, dataset, purpose, controller),
 *    and AccessPolicy still allows `as` the dataset for its purpose (not revoked, not expired);
 * 4. the data keys open with `as`'s own X25519 private key; each segment is fetched by CID
 *    from `segments` and hashed; records are decrypted (AES-256-GCM, dataset id and index
 *    as additional data) and written with pseudonyms in the subject column.
 * The export is logged (or why it was refused or failed) and anchored on this node.
 */
export async function exportReleased(
  ctx: ServiceContext,
  opts: {
    release: unknown
    as: UnlockedIdentity
    segments: SegmentSource
    out: string
    /** The purpose the export is for, when the caller names one: the release's must be it (MESSAGE_WRONG_PURPOSE). */
    purpose?: string | undefined
    members?: MemberDirectory | undefined
    parallelFrom?: number | undefined
    onProgress?: ((done: number, total: number) => void) | undefined
    now?: number | undefined
  },
): Promise<ExportReport> {
  const { p, chain } = ctx
  const members = opts.members ?? nodeMembers(p)
  // The log entry names what the release says only once its signature and header held.
  let purpose: string | null = null
  let dataset = ''
  let excluded: Record<string, number> = {}
  let digest: string | undefined
  const log = (outcome: string, records: number) =>
    logExportEvent(p, { actor: opts.as.did, dataset, purpose, records, excluded, outcome, release: digest })
  let checked = false
  let written = false
  try {
    const nonces = dbNonceTable(p.db)
    const m = verifyMessage<KeyReleaseBody>(opts.release, {
      type: ACCESS_RELEASE_TYPE,
      isOwn: (did) => did === opts.as.did,
      isMember: (did) => members.byDid(did) !== undefined,
      purpose: opts.purpose,
      nonces,
      recordNonce: false,
      now: opts.now,
    })
    digest = messageDigest(opts.release as DsseEnvelope)
    purpose = m.purpose
    dataset = typeof m.dataset === 'string' && /^[0-9a-f]{64}$/.test(m.dataset) ? m.dataset : ''
    if (m.excluded && typeof m.excluded === 'object') excluded = m.excluded
    // A release this node asked for: the request it answers is in this node's database.
    const asked = p.db.prepare('SELECT * FROM access_requests WHERE nonce = ?').get(String(m.requestNonce)) as
      | { digest: string; dataset: string; requester: string; controller: string; purpose: string }
      | undefined
    if (!asked || asked.digest !== m.request || asked.dataset !== m.dataset || asked.requester !== opts.as.did || asked.controller !== m.from || asked.purpose !== m.purpose) {
      throw new ProvenaError('ACCESS_NOT_REQUESTED', `the key release answers no request ${opts.as.name} made from this node (request ${String(m.request).slice(0, 16)}…)`, {
        hint: 'a release is taken only in answer to this node\'s own provena access request',
      })
    }
    // Signed by the dataset's controller: the member owning it in AccessPolicy.
    const sender = members.byDid(m.from)!
    const owner = await datasetOwner(chain.client, chain.deployment, m.dataset)
    if (owner.toLowerCase() !== sender.address.toLowerCase()) {
      throw new ProvenaError('ACCESS_NOT_OWNER', `the key release is signed by ${sender.name} (${sender.address}), but AccessPolicy names ${owner} the owner of dataset ${m.dataset.slice(0, 12)}`)
    }
    // Granted still: a release taken before a revocation or expiry is not used after it.
    if (!(await isAllowed(chain.client, chain.deployment, m.dataset, opts.as.address, m.purpose))) {
      throw new ProvenaError('ACCESS_DENIED', `AccessPolicy no longer allows ${opts.as.name} (${opts.as.address}) to use dataset ${m.dataset.slice(0, 12)} for ${m.purpose}: the grant was revoked or expired after the release`, {
        hint: 'the controller grants it again, then this release can be used',
      })
    }
    checked = true
    const opened = openKeyRelease(m, opts.as)
    await writeReleasedRecords(m, opened, { segments: opts.segments, out: opts.out, parallelFrom: opts.parallelFrom, onProgress: opts.onProgress })
    written = true
    nonces.record(m.from, m.nonce, Date.parse(m.expiresAt), opts.now ?? Date.now())
    const logIndex = log('granted', m.records)
    return { dataset: m.dataset, out: opts.out, purpose: m.purpose, records: m.records, erased: excluded.erased ?? 0, excluded, logIndex }
  } catch (error) {
    if (!written) log(`${checked ? 'failed' : 'refused'}: ${(error as { code?: string }).code ?? 'error'}`, 0)
    throw error
  } finally {
    await anchorNow(p, chain)
  }
}
