import type { Hex } from 'viem'
import { clearErasedFromWal, controllerSecrets, eraseSubject as eraseInDataPlane, erasureEffect, memberClient, pseudonymOf, type ErasurePayload, type ErasureReport, type UnlockedIdentity } from '../access/index.js'
import { anchorNow } from '../app/index.js'
import { enqueueOutbox, faultPoint, findOutbox, flushOutbox, markReported, outboxKey } from '../chain/index.js'
import { ProvenaError } from '../errors.js'
import type { ServiceContext } from './context.js'

export interface EraseReport extends ErasureReport {
  /** The AccessPolicy.SubjectErased transaction. */
  announcement: Hex | null
  checkpoint: { treeSize: number }
}

/**
 * Erases a subject (their data key and salts destroyed, logged) and announces it on-chain
 * (AccessPolicy.SubjectErased, signed by the controller) for grantees to delete their
 * copies: the erasure, its log entry and the announcement's outbox row land in one
 * transaction. A rerun after a crash sends the announcement the first run decided and
 * reports that erasure. With another reader holding old pages in the WAL, the erasure is
 * announced and anchored all the same, then the WAL is cleared once more or the call
 * fails loudly (ACCESS_ERASURE_IN_WAL).
 */
export async function eraseSubject(ctx: ServiceContext, subjectId: string, controller: UnlockedIdentity): Promise<EraseReport> {
  const { p, chain, plane } = ctx
  const signer = await memberClient(chain.client, controller)
  const pseudonym = pseudonymOf(controllerSecrets(controller).pseudonymKey, subjectId)
  const probe = erasureEffect.write({ controller: controller.address, pseudonym, datasets: [], records: 0, logIndex: 0 }, controller.address)
  const decidedBefore = findOutbox(p.db, chain.client.chainKey, probe)
  await flushOutbox(chain.outbox, { signers: [signer] })
  if (decidedBefore && !decidedBefore.reported && decidedBefore.status !== 'failed') {
    // A run that crashed erased the subject and decided the announcement: finish it.
    const row = findOutbox(p.db, chain.client.chainKey, probe)!
    const { datasets, records, logIndex } = row.payload as ErasurePayload
    const a = await anchorNow(p, chain)
    markReported(p.db, chain.client.chainKey, [outboxKey(probe)])
    return { pseudonym, datasets, records, logIndex, announcement: row.txHash, checkpoint: { treeSize: a.anchoredSize } }
  }
  let r: ErasureReport
  let walBusy = false
  const decide = (reports: ErasureReport[]) => {
    const e = reports[0]!
    enqueueOutbox(p.db, chain.client.chainKey, erasureEffect.write({ controller: controller.address, pseudonym: e.pseudonym, datasets: e.datasets, records: e.records, logIndex: e.logIndex }, controller.address))
  }
  try {
    r = eraseInDataPlane(plane, subjectId, controller, { inTransaction: decide })
  } catch (e) {
    // Committed and logged, but a reader kept old pages in the WAL: announce and anchor
    // all the same, then try once more and fail loudly if still busy.
    if ((e as ProvenaError).code !== 'ACCESS_ERASURE_IN_WAL') throw e
    r = ((e as ProvenaError).details!.reports as ErasureReport[])[0]!
    walBusy = true
  }
  faultPoint('outbox:after-decided', 'erasure')
  await flushOutbox(chain.outbox, { signers: [signer] })
  const a = await anchorNow(p, chain)
  // Announced and anchored: reported, even if the WAL stays busy (that failure names the erasure).
  markReported(p.db, chain.client.chainKey, [outboxKey(probe)])
  if (walBusy) clearErasedFromWal(plane.db, [r])
  return { ...r, announcement: findOutbox(p.db, chain.client.chainKey, probe)?.txHash ?? null, checkpoint: { treeSize: a.anchoredSize } }
}
