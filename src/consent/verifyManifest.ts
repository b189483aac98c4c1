// Checks a training manifest with no database: from the chain (the anchored checkpoint and
// the dataset's registered root) and the proofs the manifest carries.
import { canonicalJsonBytes, sha256 } from '../crypto/index.js'
import { ProvenaError } from '../errors.js'
import { rootOfLeafHashes, verifyMapMultiProof } from '../log/index.js'
import { expandConsentRecords, MANIFEST_TYPE, MANIFEST_TYPE_V1, type TrainingManifest } from './gate.js'
import { consentKey, stateAt } from './records.js'

/**
 * The trust roots a manifest is checked against, pinned by the verifier (the consortium
 * file, a lone node's own deployment, or flags), never read from the manifest.
 */
export interface ManifestTrustRoots {
  /** Where the roots come from, for messages: "this consortium", "--anchor/--registry", … */
  source: string
  chainId: number | undefined
  /** The AssetRegistry datasets are registered in. */
  assetRegistry: string
  /** The CheckpointAnchors of the trusted logs. */
  anchors: string[]
  /**
   * The anchor of the log of the manifest's controller: undefined when the controller is
   * not a member; absent when the roots do not know controllers (bare --anchor).
   */
  controllerAnchor?: (did: string) => string | undefined
}

const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase()

/**
 * Refuses a manifest that names a CheckpointAnchor or AssetRegistry outside the trust
 * roots, another chain, or a controller not a member of the roots (or on another log):
 * CONSENT_MANIFEST_UNTRUSTED naming the untrusted address. Issue 12, attack 2: a stranger's
 * own anchor and registry verify whatever the stranger wrote.
 */
export function checkManifestTrust(m: TrainingManifest, roots: ManifestTrustRoots): void {
  const untrusted = (message: string, address?: string) =>
    new ProvenaError('CONSENT_MANIFEST_UNTRUSTED', message, {
      hint: `the verifier takes its trust roots from ${roots.source}, never from the manifest`,
      details: { untrusted: address, source: roots.source },
    })
  const anchor = String(m.chain?.checkpointAnchor)
  const registry = String(m.chain?.assetRegistry)
  if (roots.chainId !== undefined && m.chain?.chainId !== roots.chainId) throw untrusted(`manifest names chain ${m.chain?.chainId}, not the chain ${roots.chainId} of ${roots.source}`)
  if (!roots.anchors.some((a) => same(a, anchor))) throw untrusted(`manifest names CheckpointAnchor ${anchor}, not a log of ${roots.source}`, anchor)
  if (!same(registry, roots.assetRegistry)) throw untrusted(`manifest names AssetRegistry ${registry}, not the AssetRegistry ${roots.assetRegistry} of ${roots.source}`, registry)
  if (roots.controllerAnchor) {
    const own = roots.controllerAnchor(String(m.controller))
    if (own === undefined) throw untrusted(`manifest's controller ${m.controller} is not a member of ${roots.source}`)
    if (!same(own, anchor)) throw untrusted(`manifest names CheckpointAnchor ${anchor}, not the log of its controller ${m.controller} (${own})`, anchor)
  }
}

/** What the chain says, read by the caller: the checkpoint at manifest.checkpoint.index and the dataset's root. */
export interface ManifestChainFacts {
  checkpoint: { treeSize: number; rootHash: Buffer; mapRoot: Buffer } | undefined
  /** The dataset root registered in AssetRegistry, if registered. */
  datasetRoot: Buffer | undefined
}

export interface ManifestReport {
  ok: boolean
  dataset: string
  purpose: string
  at: string
  included: number
  excluded: Record<string, number>
  problems: string[]
}

/** Verifies every claim of the manifest; returns the problems found (none when ok). */
export function verifyManifest(m: TrainingManifest, chain: ManifestChainFacts): ManifestReport {
  const problems: string[] = []
  const excludedCounts: Record<string, number> = {}
  const report = (): ManifestReport => ({
    ok: problems.length === 0,
    dataset: m.dataset?.id,
    purpose: m.purpose?.id,
    at: m.at,
    included: m.included?.length ?? 0,
    excluded: excludedCounts,
    problems,
  })
  if (m.type !== MANIFEST_TYPE && m.type !== MANIFEST_TYPE_V1) {
    problems.push(`not a training manifest (type ${JSON.stringify(m.type)})`)
    return report()
  }
  const at = Date.parse(m.at)
  if (Number.isNaN(at)) problems.push(`at "${m.at}" is not a time`)

  // 1. The checkpoint is anchored, as stated.
  const cp = chain.checkpoint
  if (!cp) problems.push(`checkpoint ${m.checkpoint.index} is not anchored in CheckpointAnchor ${m.chain.checkpointAnchor}`)
  else {
    if (cp.treeSize !== m.checkpoint.treeSize || cp.rootHash.toString('hex') !== m.checkpoint.rootHash) problems.push(`checkpoint ${m.checkpoint.index} anchored on-chain has size ${cp.treeSize}, root ${cp.rootHash.toString('hex')}: not the manifest's`)
    if (cp.mapRoot.toString('hex') !== m.checkpoint.mapRoot) problems.push(`the consent map root anchored at checkpoint ${m.checkpoint.index} is ${cp.mapRoot.toString('hex')}, the manifest says ${m.checkpoint.mapRoot}`)
  }

  // 2. The records are exactly the dataset's: every index once, commitments giving the registered root.
  const n = m.dataset.records
  const commitments: (Buffer | undefined)[] = new Array(n)
  for (const r of [...m.included, ...m.excluded]) {
    if (!Number.isInteger(r.index) || r.index < 0 || r.index >= n) problems.push(`record index ${r.index} is outside the dataset (0..${n - 1})`)
    else if (commitments[r.index]) problems.push(`record ${r.index} is listed twice`)
    else commitments[r.index] = Buffer.from(r.commitment, 'hex')
  }
  const missing = commitments.findIndex((c) => c === undefined)
  if (missing >= 0 || commitments.length !== n) problems.push(`record ${missing} is neither included nor excluded`)
  else {
    const root = rootOfLeafHashes(commitments as Buffer[])
    if (root.toString('hex') !== m.dataset.root) problems.push(`the records' commitments give root ${root.toString('hex')}, not the dataset root ${m.dataset.root}`)
  }
  if (!chain.datasetRoot) problems.push(`dataset ${m.dataset.id} is not registered in AssetRegistry ${m.chain.assetRegistry}`)
  else if (chain.datasetRoot.toString('hex') !== m.dataset.root) problems.push(`dataset ${m.dataset.id} is registered with root ${chain.datasetRoot.toString('hex')}, not ${m.dataset.root}`)

  // 3. The consent records are the ones the anchored map holds.
  let proven = new Map<string, string | null>()
  if (m.mapProof.keys.length > 0) {
    try {
      proven = verifyMapMultiProof(Buffer.from(m.checkpoint.mapRoot, 'hex'), m.mapProof)
    } catch (e) {
      problems.push(`the consent map proof: ${(e as Error).message}`)
    }
  }
  const expanded = expandConsentRecords(m)
  problems.push(...expanded.problems)
  const consentRecords = expanded.records
  for (const [h, r] of consentRecords) {
    if (sha256(canonicalJsonBytes(r)).toString('hex') === h) continue
    problems.push(`consent record ${h.slice(0, 12)} does not hash to its name`)
    consentRecords.delete(h)
  }
  const consentOf = (subject: string, index: number): string | null | undefined => {
    const key = consentKey(subject, m.purpose.id).toString('hex')
    if (!proven.has(key)) {
      problems.push(`record ${index}: the map proof does not cover its subject's key`)
      return undefined
    }
    return proven.get(key)!
  }

  // 4. Every included record had valid consent; every exclusion has its stated reason.
  for (const r of m.included) {
    const value = consentOf(r.subject, r.index)
    if (value === undefined) continue
    if (value !== r.consent) {
      problems.push(`record ${r.index}: the map holds ${value ?? 'no consent'} for its subject, not ${r.consent}`)
      continue
    }
    const c = consentRecords.get(r.consent)
    if (!c) {
      problems.push(`record ${r.index}: consent record ${r.consent.slice(0, 12)} is missing`)
      continue
    }
    const state = stateAt(c, at)
    if (c.subject !== r.subject || c.purpose.id !== m.purpose.id || c.controller !== m.controller) problems.push(`record ${r.index}: its consent record is for another subject, purpose or controller`)
    else if (state !== 'valid') problems.push(`record ${r.index} is included but its consent is ${state} at ${m.at}`)
    else if (c.dataset !== null && c.dataset !== m.dataset.id) problems.push(`record ${r.index} is included but its consent is limited to dataset ${c.dataset}`)
  }
  for (const r of m.excluded) {
    excludedCounts[r.reason] = (excludedCounts[r.reason] ?? 0) + 1
    if (r.reason === 'erased') continue
    if (!r.subject) {
      problems.push(`record ${r.index} is excluded (${r.reason}) without its subject`)
      continue
    }
    const value = consentOf(r.subject, r.index)
    if (value === undefined) continue
    if (r.reason === 'no-consent') {
      if (value !== null) problems.push(`record ${r.index} is excluded for no consent, but the map holds consent record ${value.slice(0, 12)}`)
      continue
    }
    const c = value === null ? undefined : consentRecords.get(value)
    if (!c || value !== r.consent) {
      problems.push(`record ${r.index} is excluded (${r.reason}) but the map holds ${value ?? 'no consent'}`)
      continue
    }
    const state = stateAt(c, at)
    const actual = state === 'valid' && c.dataset !== null && c.dataset !== m.dataset.id ? 'other-dataset' : state
    if (actual !== r.reason) problems.push(`record ${r.index} is excluded as ${r.reason}, but its consent is ${actual === 'valid' ? 'valid' : actual} at ${m.at}`)
  }
  return report()
}
