import { exportDataset, importedDataset, isAllowed, logExportEvent, segmentsFromStore, type ConsentDecision, type ExportReport, type UnlockedIdentity } from '../access/index.js'
import { anchorNow } from '../app/index.js'
import { consentVerdicts, resolvePurpose } from '../consent/index.js'
import { ProvenaError } from '../errors.js'
import { exportReleased } from './accessExport.js'
import { releaseAccess } from './accessRelease.js'
import { requestAccess } from './accessRequest.js'
import type { ServiceContext } from './context.js'

/**
 * Exports a dataset for a purpose, as `provena dataset export` (and later the API) does.
 *
 * The controller exports its own data: AccessPolicy must name it the owner, and for a
 * purpose the records of subjects whose consent for it does not hold now are left out, by
 * the training gate's rule (consent/gate.ts `consentVerdicts`: included only if given and
 * valid at this instant; refused, withdrawn, expired, not yet valid, limited to another
 * dataset, no consent, erased: left out). Without a purpose (`purpose: null`) it gets every
 * record of a subject not erased: its own copy (a backup).
 *
 * Anyone else — here, another identity of the same node (a lone node is its own
 * consortium) — goes through the key release, the path between nodes, in one process:
 * a request signed by `as`, released by the controller (`unlockController`: an identity of
 * this node's keystore) after the on-chain check and the consent gate, sealed to `as`'s
 * X25519 key, opened with its own private key (requestAccess → releaseAccess →
 * exportReleased). Each step is logged, and the log anchored, even when refused or failed.
 *
 * @example
 * await exportForPurpose(ctx, { dataset: 'a1b2c3', as: lab, purpose: 'dpv:ScientificResearch', out: 'lab.csv', unlockController })
 * // { records: 566, excluded: { refused: 1, withdrawn: 1, 'no-consent': 1 }, ... }
 */
export async function exportForPurpose(
  ctx: ServiceContext,
  opts: {
    /** Dataset id or a unique prefix. */
    dataset: string
    as: UnlockedIdentity
    purpose: string | null
    out: string
    /** The controller, when it is an identity of this node (its keystore entry), to release keys to another of its identities. */
    unlockController: (did: string) => UnlockedIdentity
    /** Records from which decryption runs on worker threads (default: the data plane's). */
    parallelFrom?: number | undefined
    onProgress?: ((done: number, total: number) => void) | undefined
  },
): Promise<ExportReport> {
  const { p, chain, plane } = ctx
  const dataset = importedDataset(p.db, opts.dataset)
  if (dataset.controller !== opts.as.did) {
    if (opts.purpose === null) {
      logExportEvent(p, { actor: opts.as.did, dataset: dataset.id, purpose: null, records: 0, excluded: {}, outcome: 'refused: no purpose' })
      await anchorNow(p, chain)
      throw new ProvenaError('ACCESS_PURPOSE_REQUIRED', `${opts.as.name} is not the controller of dataset ${dataset.id.slice(0, 12)}: an export for anyone else names its purpose`, {
        hint: 'add --purpose P (the purpose of the grant)',
      })
    }
    const controller = opts.unlockController(dataset.controller)
    const request = await requestAccess(ctx, { dataset: dataset.id, purpose: opts.purpose, as: opts.as, to: controller.did })
    let release
    try {
      release = await releaseAccess(ctx, { request: request.request, as: controller })
    } catch (error) {
      // The requester's side of the refusal, on the same log.
      logExportEvent(p, { actor: opts.as.did, dataset: dataset.id, purpose: opts.purpose, records: 0, excluded: {}, outcome: `refused: ${(error as { code?: string }).code ?? 'error'}` })
      await anchorNow(p, chain)
      throw error
    }
    return exportReleased(ctx, { release: release.release, as: opts.as, segments: segmentsFromStore(plane.store), out: opts.out, parallelFrom: opts.parallelFrom, onProgress: opts.onProgress })
  }
  try {
    let consent: ConsentDecision | undefined
    if (opts.purpose !== null) {
      const purpose = resolvePurpose(opts.purpose, p.config.purposes).id
      // The decision is taken when the data plane asks, just before it unwraps any key.
      consent = (pseudonyms) => consentVerdicts({ db: p.db }, pseudonyms, dataset.id, purpose, Date.now())
    }
    return await exportDataset(plane, dataset.id, {
      as: opts.as,
      purpose: opts.purpose,
      out: opts.out,
      isAllowed: (id, address, purpose) => isAllowed(chain.client, chain.deployment, id, address, purpose),
      consent,
      parallelFrom: opts.parallelFrom,
      onProgress: opts.onProgress,
    })
  } finally {
    await anchorNow(p, chain)
  }
}
