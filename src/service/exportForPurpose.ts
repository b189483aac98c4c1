import { exportDataset, isAllowed, type ConsentDecision, type ExportReport, type UnlockedIdentity } from '../access/index.js'
import { anchorNow } from '../app/index.js'
import { consentVerdicts, resolvePurpose } from '../consent/index.js'
import { getAsset } from '../registry/index.js'
import type { ServiceContext } from './context.js'

/**
 * Exports a dataset for a purpose, as `provena dataset export` (and later the API) does:
 * AccessPolicy must allow the exporter for the purpose on-chain now, and the records of
 * subjects whose consent for the purpose does not hold now are left out, by the training
 * gate's rule (consent/gate.ts `consentVerdicts`, the rule `checkRecords` applies: included only if given and valid at this
 * instant; refused, withdrawn, expired, not yet valid, limited to another dataset, no
 * consent, erased: left out). This holds for the controller too whenever it names a
 * purpose. Without a purpose (`purpose: null`) only the controller may export, and gets
 * every record of a subject not erased: its own copy of its own data (a backup).
 * The export is logged with its counts per reason, and the log is anchored, even when the
 * export is refused or fails.
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
    /** The controller's side, to release data keys to a grantee (its keystore entry). */
    unlockController: (did: string) => UnlockedIdentity
    /** Records from which decryption runs on worker threads (default: the data plane's). */
    parallelFrom?: number | undefined
    onProgress?: ((done: number, total: number) => void) | undefined
  },
): Promise<ExportReport> {
  const { p, chain, plane } = ctx
  try {
    const dataset = getAsset(p.db, opts.dataset).id
    let consent: ConsentDecision | undefined
    if (opts.purpose !== null) {
      const purpose = resolvePurpose(opts.purpose, p.config.purposes).id
      // The decision is taken when the data plane asks, just before it unwraps any key.
      consent = (pseudonyms) => consentVerdicts({ db: p.db }, pseudonyms, dataset, purpose, Date.now())
    }
    return await exportDataset(plane, dataset, {
      as: opts.as,
      purpose: opts.purpose,
      out: opts.out,
      isAllowed: (id, address, purpose) => isAllowed(chain.client, chain.deployment, id, address, purpose),
      unlockController: opts.unlockController,
      consent,
      parallelFrom: opts.parallelFrom,
      onProgress: opts.onProgress,
    })
  } finally {
    await anchorNow(p, chain)
  }
}
