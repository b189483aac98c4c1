import type { Address, Hex } from 'viem'
import {
  activeGrantPurposes,
  claimDataset,
  currentGrant,
  grantWrite,
  lastGrantRow,
  memberClient,
  revokeRows,
  revokeWrite,
  type RevokePayload,
  type UnlockedIdentity,
} from '../access/index.js'
import { anchorNow, type ChainSession, type Provena } from '../app/index.js'
import { decideWrites, enqueueOutbox, findOutbox, flushOutbox, markReported, outboxKey, simulateWrite } from '../chain/index.js'
import { canonicalJson } from '../crypto/index.js'
import { ProvenaError } from '../errors.js'
import { LOG_EVENT, type AccessGrantedEvent, type AccessRevokedEvent } from '../log/index.js'
import { getAsset } from '../registry/index.js'

/** Who is granted: another identity's DID and EVM address (of this node or another). */
export interface Grantee {
  did: string
  address: Address
}

export interface GrantReport {
  dataset: string
  grantee: string
  purpose: string
  expiresAt: number | null
  transactionHash: Hex | null
  /** True when this grant was in force already (a rerun, or a grant decided before and sent now): nothing new logged. */
  already: boolean
}

/**
 * Grants `grantee` a dataset for a purpose until `expiresAt` (seconds; 0 = none), as the
 * controller `as`: the operator's claim of the dataset for the controller, then the
 * grant, signed by the controller, both through the outbox; the log entry and the grant's
 * outbox row land in one transaction. Pending writes of the controller are sent first,
 * so a rerun after a crash finishes the grant it decided instead of deciding another.
 */
export async function grantAccess(
  ctx: { p: Provena; chain: ChainSession },
  o: { dataset: string; grantee: Grantee; purpose: string; expiresAt: number; as: UnlockedIdentity },
): Promise<GrantReport> {
  const { p, chain } = ctx
  const dataset = getAsset(p.db, o.dataset).id
  const signer = await memberClient(chain.client, o.as)
  await flushOutbox(chain.outbox, { signers: [signer] })
  await claimDataset(chain.outbox, dataset, o.as.address)
  const report = (tx: Hex | null, already: boolean): GrantReport => ({ dataset, grantee: o.grantee.did, purpose: o.purpose, expiresAt: o.expiresAt || null, transactionHash: tx, already })
  const now = await currentGrant(chain.outbox, dataset, o.grantee.address, o.purpose)
  if (now.active && now.expiresAt === o.expiresAt) return report(lastGrantRow(chain.outbox, dataset, o.grantee.address, o.purpose)?.txHash ?? null, true)
  const write = grantWrite(chain.outbox, { dataset, grantee: o.grantee.address, purpose: o.purpose, expiresAt: o.expiresAt }, o.as.address)
  await simulateWrite(chain.outbox, write, signer)
  const event: AccessGrantedEvent = { type: LOG_EVENT.accessGranted, actor: o.as.did, time: new Date().toISOString(), dataset, grantee: o.grantee.did, purpose: o.purpose, expiresAt: o.expiresAt || null }
  decideWrites(p.db, () => {
    p.log.append([Buffer.from(canonicalJson(event), 'utf8')])
    enqueueOutbox(p.db, chain.client.chainKey, write)
  })
  await flushOutbox(chain.outbox, { signers: [signer] })
  await anchorNow(p, chain)
  markReported(p.db, chain.client.chainKey, [outboxKey(write)])
  return report(findOutbox(p.db, chain.client.chainKey, write)?.txHash ?? null, false)
}

export interface RevokeReport {
  dataset: string
  grantee: string
  /** The purpose ids revoked (bytes32). */
  revokedPurposes: Hex[]
  transactionHashes: Hex[]
}

/**
 * Revokes the grantee's active grants of the dataset, as the controller `as`: for
 * `purpose`, or, without one, every purpose it holds. One log entry and one outbox row
 * per purpose land in one transaction. A rerun after a crash sends what the first run
 * decided and reports it, without deciding it again.
 */
export async function revokeAccess(
  ctx: { p: Provena; chain: ChainSession },
  o: { dataset: string; grantee: Grantee & { name?: string }; purpose?: string | undefined; as: UnlockedIdentity },
): Promise<RevokeReport> {
  const { p, chain } = ctx
  const dataset = getAsset(p.db, o.dataset).id
  const signer = await memberClient(chain.client, o.as)
  const pendingBefore = revokeRows(chain.outbox, dataset, o.grantee.address).filter((r) => !r.reported && r.status !== 'failed')
  await flushOutbox(chain.outbox, { signers: [signer] })
  const purposes = await activeGrantPurposes(chain.outbox, dataset, o.grantee.address, o.purpose)
  if (purposes.length === 0) {
    // A revocation decided by a run that crashed, sent now: that is this command's work.
    const finished = pendingBefore.map((r) => findOutbox(p.db, chain.client.chainKey, { kind: r.kind, payload: r.payload })!).filter((r) => r.status === 'mined')
    if (finished.length) {
      markReported(p.db, chain.client.chainKey, finished.map((r) => r.key))
      return { dataset, grantee: o.grantee.did, revokedPurposes: finished.map((r) => (r.payload as RevokePayload).purpose), transactionHashes: finished.flatMap((r) => (r.txHash ? [r.txHash] : [])) }
    }
    throw new ProvenaError('ACCESS_NO_GRANT', `${o.grantee.name ?? o.grantee.did} holds no active grant of dataset ${dataset.slice(0, 12)}${o.purpose ? ` for ${o.purpose}` : ''}`)
  }
  const writes = purposes.map((purpose) => revokeWrite(chain.outbox, { dataset, grantee: o.grantee.address, purpose }, o.as.address))
  for (const w of writes) await simulateWrite(chain.outbox, w, signer)
  const event: AccessRevokedEvent = { type: LOG_EVENT.accessRevoked, actor: o.as.did, time: new Date().toISOString(), dataset, grantee: o.grantee.did, purposes }
  decideWrites(p.db, () => {
    p.log.append([Buffer.from(canonicalJson(event), 'utf8')])
    for (const w of writes) enqueueOutbox(p.db, chain.client.chainKey, w)
  })
  await flushOutbox(chain.outbox, { signers: [signer] })
  await anchorNow(p, chain)
  markReported(p.db, chain.client.chainKey, writes.map((w) => outboxKey(w)))
  return { dataset, grantee: o.grantee.did, revokedPurposes: purposes, transactionHashes: writes.flatMap((w) => findOutbox(p.db, chain.client.chainKey, w)?.txHash ?? []) }
}
