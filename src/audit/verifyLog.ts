import type { AnchoredCheckpoint, RegisteredAsset } from '../chain/index.js'
import { canonicalJsonBytes, sha256, sha256Hex, verifyDsse, type DsseEnvelope } from '../crypto/index.js'
import { isProvenaError } from '../errors.js'
import { CONSENT_RECORD_TYPE, consentKey } from '../consent/index.js'
import { consistencyProof, hashLeaf, isCheckpointSignatureValid, mapRootOf, MemoryNodes, verifyConsistency } from '../log/index.js'

/** Everything the independent verifier looks at: public data only. */
export interface VerifyInput {
  /** The log's exported entries (index, exact leaf bytes), in order. */
  entries: Iterable<{ index: number; leaf: Uint8Array }>
  /** The log identity recorded in the CheckpointAnchor contract. */
  logInfo: { logKey: Uint8Array; origin: string }
  /** Every checkpoint anchored on-chain, oldest first. */
  checkpoints: AnchoredCheckpoint[]
  /** Every AssetRegistered event of the AssetRegistry contract. */
  assets: RegisteredAsset[]
}

export interface VerifyFailure {
  code: string
  message: string
}

/** What `provena verify` reports. */
export interface VerifyReport {
  ok: boolean
  entries: number
  checkpoints: number
  anchoredSize: number
  /** Entries after the last anchored checkpoint (not an error: the next anchor covers them). */
  unanchoredEntries: number
  assetsOnChain: number
  /** Registrations in the log not yet seen on-chain (pending in the outbox). */
  assetsPendingOnChain: number
  /** Consent records in the log, replayed into the consent map at every checkpoint. */
  consentChanges: number
  failures: VerifyFailure[]
}

interface LoggedAsset {
  index: number
  kind: string
  root: string
  metadataDigest: string
  parents: string[]
}

const strip = (h: string) => h.toLowerCase().replace(/^0x/, '')

/**
 * Checks a log against the chain, trusting neither the operator nor its database:
 * - the entries are contiguous from 0;
 * - every anchored checkpoint's root is the root of that many entries, each checkpoint is
 *   consistent (RFC 9162) with the one before, and its note signature verifies under the
 *   log key the contract holds;
 * - every asset registered on-chain has its registration entry in the log, with the same
 *   kind, root, metadata digest and parents;
 * - every anchored consent map root is the root of the consent records logged before it.
 * Pure: no database, no network.
 */
export function verifyLog(input: VerifyInput): VerifyReport {
  const failures: VerifyFailure[] = []
  const fail = (code: string, message: string) => failures.push({ code, message })
  const nodes = new MemoryNodes()
  const logged = new Map<string, LoggedAsset>()
  // The consent map is replayed from the consent records in the log, checkpoint by checkpoint.
  const consentChanges: { index: number; key: string; value: Buffer }[] = []
  const consentMap = new Map<string, Buffer>()
  let replayed = 0
  let expected = 0
  for (const e of input.entries) {
    if (e.index !== expected) {
      fail('VERIFY_LOG_GAP', `log entry ${expected} is missing (next exported entry is ${e.index})`)
      break
    }
    nodes.append(hashLeaf(e.leaf))
    expected++
    // Only registration and consent entries matter below; skip parsing the rest.
    const leaf = Buffer.from(e.leaf.buffer, e.leaf.byteOffset, e.leaf.byteLength)
    if (leaf.indexOf('provena.consent.record/') >= 0) {
      try {
        const r = JSON.parse(leaf.toString('utf8')) as { type?: string; subject?: string; purpose?: { id?: string } }
        if (r.type === CONSENT_RECORD_TYPE && typeof r.subject === 'string' && typeof r.purpose?.id === 'string') {
          consentChanges.push({ index: e.index, key: consentKey(r.subject, r.purpose.id).toString('hex'), value: sha256(leaf) })
        }
      } catch {
        fail('VERIFY_BAD_ENTRY', `log entry ${e.index} is not valid JSON`)
      }
      continue
    }
    if (leaf.indexOf('provena.asset.registered/') < 0) continue
    try {
      const event = JSON.parse(leaf.toString('utf8')) as {
        type?: string
        asset?: { id: string; kind: string; root: string; metadataDigest: string; parents: string[] }
        statement?: DsseEnvelope
      }
      if (event.type === 'provena.asset.registered/v1' && event.asset) {
        const a = event.asset
        if (!logged.has(strip(a.id))) logged.set(strip(a.id), { index: e.index, kind: a.kind, root: strip(a.root), metadataDigest: strip(a.metadataDigest), parents: a.parents.map(strip).sort() })
        if (event.statement) {
          const problem = checkStatement(event.statement, a, input.logInfo.logKey)
          if (problem) fail('VERIFY_BAD_STATEMENT', `log entry ${e.index}: the provenance of ${strip(a.id)} ${problem}`)
        }
      }
    } catch {
      fail('VERIFY_BAD_ENTRY', `log entry ${e.index} is not valid JSON`)
    }
  }
  const size = nodes.size

  let previous: AnchoredCheckpoint | undefined
  for (const c of input.checkpoints) {
    const where = `anchored checkpoint #${c.index} (size ${c.treeSize})`
    if (c.treeSize > size) {
      fail('VERIFY_ENTRIES_MISSING', `${where} covers more entries than the ${size} exported`)
      break
    }
    const root = nodes.root(c.treeSize)
    if (!root.equals(c.rootHash)) {
      fail('VERIFY_ROOT_MISMATCH', `${where}: root on-chain ${c.rootHash.toString('hex')}, root of the exported entries ${root.toString('hex')}`)
      break
    }
    if (previous) {
      try {
        verifyConsistency(previous.treeSize, c.treeSize, previous.rootHash, c.rootHash, consistencyProof(nodes, previous.treeSize, c.treeSize))
      } catch (e) {
        fail('VERIFY_INCONSISTENT', `${where} is not consistent with #${previous.index}: ${isProvenaError(e) ? e.message : String(e)}`)
      }
    }
    while (replayed < consentChanges.length && consentChanges[replayed]!.index < c.treeSize) {
      const ch = consentChanges[replayed++]!
      consentMap.set(ch.key, ch.value)
    }
    const mapRoot = mapRootOf([...consentMap].map(([k, v]) => [Buffer.from(k, 'hex'), v]))
    if (!mapRoot.equals(c.mapRoot)) {
      fail('VERIFY_MAP_MISMATCH', `${where}: consent map root on-chain ${c.mapRoot.toString('hex')}, replayed from the log's consent records ${mapRoot.toString('hex')}`)
    }
    if (!c.noteSignature) fail('VERIFY_NO_SIGNATURE', `${where}: no CheckpointAnchored event with its note signature`)
    else if (!isCheckpointSignatureValid({ origin: input.logInfo.origin, treeSize: c.treeSize, rootHash: c.rootHash, mapRoot: c.mapRoot }, input.logInfo.logKey, c.noteSignature)) {
      fail('VERIFY_BAD_SIGNATURE', `${where}: the checkpoint note signature does not verify under the log key held by the contract`)
    }
    previous = c
  }
  const anchoredSize = previous?.treeSize ?? 0

  const onChain = new Set<string>()
  for (const a of input.assets) {
    const id = strip(a.id)
    onChain.add(id)
    const l = logged.get(id)
    const what = `asset ${id} (${a.kind}, registered on-chain in block ${a.blockNumber})`
    if (!l) {
      fail('VERIFY_ASSET_NOT_LOGGED', `${what} has no registration entry in the log`)
      continue
    }
    const parents = a.parents.map(strip).sort()
    if (l.kind !== a.kind || l.root !== strip(a.root) || l.metadataDigest !== strip(a.metadataDigest) || parents.join() !== l.parents.join()) {
      fail('VERIFY_ASSET_MISMATCH', `${what} differs from its log entry ${l.index} (kind, root, metadata digest or parents)`)
    }
  }
  const pending = [...logged.keys()].filter((id) => !onChain.has(id)).length
  return {
    ok: failures.length === 0,
    entries: size,
    checkpoints: input.checkpoints.length,
    anchoredSize,
    unanchoredEntries: size - anchoredSize,
    assetsOnChain: input.assets.length,
    assetsPendingOnChain: pending,
    consentChanges: consentChanges.length,
    failures,
  }
}

/**
 * Checks a model's provenance envelope: its digest is the registered metadata digest, the
 * operator's log key signed it, and the in-toto Statement names the file and the parents
 * that were registered. Returns what is wrong, or undefined.
 */
function checkStatement(
  envelope: DsseEnvelope,
  asset: { root: string; metadataDigest: string; parents: string[] },
  logKey: Uint8Array,
): string | undefined {
  if (sha256Hex(canonicalJsonBytes(envelope)) !== strip(asset.metadataDigest)) return 'does not hash to its registered metadata digest'
  let statement: { subject?: { digest?: { sha256?: string } }[]; predicate?: { buildDefinition?: { resolvedDependencies?: { digest?: { sha256?: string } }[] } } }
  try {
    statement = JSON.parse(verifyDsse(envelope, logKey).toString('utf8'))
  } catch {
    return "is not signed by the log operator's key"
  }
  if (!statement.subject?.some((s) => s.digest?.sha256 === strip(asset.root))) return 'does not name the registered file as its subject'
  const deps = (statement.predicate?.buildDefinition?.resolvedDependencies ?? []).map((d) => d.digest?.sha256 ?? '').sort()
  if (deps.join() !== asset.parents.map(strip).sort().join()) return 'names other training data than the registration'
  return undefined
}
