import { ACCESS_REQUEST_TYPE, datasetOwner, type AccessRequestBody, type UnlockedIdentity } from '../access/index.js'
import { anchorNow } from '../app/index.js'
import { canonicalJsonBytes, type DsseEnvelope } from '../crypto/index.js'
import { ProvenaError } from '../errors.js'
import { LOG_EVENT, type AccessRequestedEvent } from '../log/index.js'
import { messageDigest, signMessage } from '../node/index.js'
import { nodeMembers, type MemberDirectory } from './accessMembers.js'
import type { ServiceContext } from './context.js'

/** How long a request stays valid by default: a day. */
export const REQUEST_TTL_MS = 24 * 3_600_000

/** What `requestAccess` returns: the signed request and where it is logged. */
export interface AccessRequestReport {
  request: DsseEnvelope
  digest: string
  nonce: string
  dataset: string
  to: string
  purpose: string
  expiresAt: string
  logIndex: number
}

/**
 * Signs a request for a key release on the requester's node (`provena access request`):
 * from `as`, to the dataset's controller — `to` when given, else the member whose address
 * owns the dataset in AccessPolicy — for `purpose`. The request carries no key: the
 * controller's node seals the release to the X25519 key it pins for the requester. The
 * request is kept in this node's database (a release is taken only in answer to one),
 * logged and anchored.
 *
 * @example
 * await requestAccess(ctx, { dataset: '9f2c…', purpose: 'dpv:ScientificResearch', as: lab })
 * // { request: { payloadType: 'application/vnd.provena.message+json', … }, to: 'did:key:z6Mk…', … }
 */
export async function requestAccess(
  ctx: ServiceContext,
  opts: { dataset: string; purpose: string; as: UnlockedIdentity; to?: string | undefined; ttlMs?: number | undefined; members?: MemberDirectory | undefined; now?: number | undefined },
): Promise<AccessRequestReport> {
  const { p, chain } = ctx
  const dataset = opts.dataset.toLowerCase().replace(/^0x/, '')
  if (!/^[0-9a-f]{64}$/.test(dataset)) {
    throw new ProvenaError('CLI_BAD_ARGUMENT', `"${opts.dataset}" is not a dataset id: a request names the full id (64 hex digits) the controller published`)
  }
  if (opts.purpose.trim() === '') throw new ProvenaError('CLI_BAD_ARGUMENT', 'a request names its purpose (--purpose P)')
  const members = opts.members ?? nodeMembers(p)
  let to = opts.to
  if (to === undefined) {
    const owner = await datasetOwner(chain.client, chain.deployment, dataset)
    if (/^0x0{40}$/i.test(owner)) {
      throw new ProvenaError('ACCESS_NO_CONTROLLER', `dataset ${dataset.slice(0, 12)} has no controller in AccessPolicy on this chain`, { hint: "name the controller: --to DID (its provena identity show NAME --json)" })
    }
    const member = members.byAddress(owner)
    if (!member) throw new ProvenaError('ACCESS_UNKNOWN_MEMBER', `dataset ${dataset.slice(0, 12)} is owned on-chain by ${owner}, which is not a member this node pins`, { hint: 'name the controller: --to DID' })
    to = member.did
  } else if (!members.byDid(to)) {
    throw new ProvenaError('ACCESS_UNKNOWN_MEMBER', `${to} is not a member this node pins: a request goes to a member's node`, { hint: 'provena identity show NAME --json on the controller\'s node gives its DID' })
  }
  const ttlMs = opts.ttlMs ?? REQUEST_TTL_MS
  if (!(ttlMs > 0)) throw new ProvenaError('CLI_BAD_ARGUMENT', 'a request must stay valid for some time (--ttl > 0)')
  const now = opts.now ?? Date.now()
  const body: AccessRequestBody = { dataset }
  const { envelope, message } = signMessage(opts.as, { _type: ACCESS_REQUEST_TYPE, to, purpose: opts.purpose, body }, { ttlMs, now })
  const digest = messageDigest(envelope)
  const event: AccessRequestedEvent = {
    type: LOG_EVENT.accessRequested,
    actor: opts.as.did,
    time: message.issuedAt,
    dataset,
    to,
    purpose: opts.purpose,
    request: digest,
    nonce: message.nonce,
    expiresAt: message.expiresAt,
  }
  const logIndex = p.db.transaction(() => {
    p.db
      .prepare('INSERT INTO access_requests (nonce, digest, dataset, requester, controller, purpose, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(message.nonce, digest, dataset, opts.as.did, to, opts.purpose, now, Date.parse(message.expiresAt))
    return p.log.append([canonicalJsonBytes(event)])
  })()
  await anchorNow(p, chain)
  return { request: envelope, digest, nonce: message.nonce, dataset, to, purpose: opts.purpose, expiresAt: message.expiresAt, logIndex }
}
