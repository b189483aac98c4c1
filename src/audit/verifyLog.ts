import type { AnchoredCheckpoint, RegisteredAsset } from '../chain/index.js'
import { canonicalJsonBytes, sha256, sha256Hex, verifyDsse, type DsseEnvelope } from '../crypto/index.js'
import { isProvenaError } from '../errors.js'
import { consentKey } from '../consent/index.js'
import { consistencyProof, describeEntry, hashLeaf, isCheckpointSignatureValid, LOG_EVENT, MemoryMap, MemoryNodes, parseLogEvent, verifyConsistency, type LogEvent } from '../log/index.js'

/** Everything the independent verifier looks at: public data only. */
export interface VerifyInput {
  /**
   * The log's exported entries (index, exact leaf bytes), in order; with `leafHash`, the
   * leaf hash the log recorded for the entry, checked against its bytes.
   */
  entries: Iterable<{ index: number; leaf: Uint8Array; leafHash?: Uint8Array | undefined }>
  /** The log identity recorded in the CheckpointAnchor contract. */
  logInfo: { logKey: Uint8Array; origin: string }
  /** Every checkpoint anchored on-chain, oldest first. */
  checkpoints: AnchoredCheckpoint[]
  /** Every AssetRegistered event of the AssetRegistry contract. */
  assets: RegisteredAsset[]
  /**
   * Checkpoints the operator signed and kept (the data dir's checkpoint store), anchored or
   * not: each is checked as an anchored one is (root, consent map root, note signature).
   */
  localCheckpoints?: LocalCheckpoint[]
}

/** A signed checkpoint as the operator keeps it. */
export interface LocalCheckpoint {
  treeSize: number
  rootHash: Buffer
  mapRoot: Buffer
  signature: Buffer
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
  /** Signed checkpoints kept by the operator, checked too. */
  localCheckpoints: number
  anchoredSize: number
  /** Entries after the last anchored checkpoint (not an error: the next anchor covers them). */
  unanchoredEntries: number
  assetsOnChain: number
  /** Registrations in the log not yet seen on-chain (pending in the outbox). */
  assetsPendingOnChain: number
  /** Consent records in the log, replayed into the consent map at every checkpoint. */
  consentChanges: number
  /** The first entry found to differ from what was logged, signed or anchored, if any. */
  firstDifference?: { index: number; entry: string } | undefined
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
 * - every anchored consent map root is the root of the consent records logged before it;
 * - with the entries' recorded leaf hashes, each entry's bytes hash to it; with the
 *   checkpoints the operator kept, each is checked as an anchored one is.
 * A root that differs names the first entry that differs. Pure: no database, no network.
 */
export function verifyLog(input: VerifyInput): VerifyReport {
  const failures: VerifyFailure[] = []
  const fail = (code: string, message: string) => failures.push({ code, message })
  const nodes = new MemoryNodes()
  const logged = new Map<string, LoggedAsset>()
  // The consent map is replayed from the consent records in the log, in log order, and its
  // root taken at each checkpoint's size: incremental, so O(records × log keys) in all.
  const consentChanges: { index: number; key: Buffer; value: Buffer }[] = []
  const consentMap = new MemoryMap()
  let replayed = 0
  let expected = 0
  // Entries whose bytes do not hash to the leaf hash recorded for them.
  const altered: { index: number; leaf: Uint8Array }[] = []
  let withLeafHashes = false
  for (const e of input.entries) {
    if (e.index !== expected) {
      fail('VERIFY_LOG_GAP', `log entry ${expected} is missing (next exported entry is ${e.index})`)
      break
    }
    const leafHash = hashLeaf(e.leaf)
    if (e.leafHash) withLeafHashes = true
    if (e.leafHash && !leafHash.equals(e.leafHash)) {
      if (altered.length === 0) {
        fail(
          'VERIFY_LEAF_MISMATCH',
          `log entry ${e.index} (${describeEntry(e.leaf)}) does not hash to the leaf hash recorded for it: recorded ${Buffer.from(e.leafHash).toString('hex')}, SHA-256(0x00 ‖ leaf) ${leafHash.toString('hex')}`,
        )
      }
      altered.push({ index: e.index, leaf: Buffer.from(e.leaf) })
    }
    nodes.append(leafHash)
    expected++
    // Only consent records and registrations matter below: an entry is one of them by its
    // parsed `type` (log/events.ts), never by a substring of its bytes. The substrings are a
    // prefilter only, to skip parsing the other entries: RFC 8785 JSON writes the type as is,
    // and an entry whose type is escaped is skipped, which fails the check, never passes it.
    const leaf = Buffer.from(e.leaf.buffer, e.leaf.byteOffset, e.leaf.byteLength)
    if (leaf.indexOf('provena.consent.record/') < 0 && leaf.indexOf(LOG_EVENT.assetRegistered) < 0) continue
    let event: LogEvent | undefined
    try {
      event = parseLogEvent(leaf)
    } catch {
      fail('VERIFY_BAD_ENTRY', `log entry ${e.index} is not valid JSON`)
      continue
    }
    switch (event?.type) {
      case LOG_EVENT.consentRecord:
      case LOG_EVENT.consentRecordV1:
        if (typeof event.subject === 'string' && typeof event.purpose?.id === 'string') {
          consentChanges.push({ index: e.index, key: consentKey(event.subject, event.purpose.id), value: sha256(leaf) })
        }
        break
      case LOG_EVENT.assetRegistered: {
        const a = event.asset
        if (!a) break
        if (!logged.has(strip(a.id))) logged.set(strip(a.id), { index: e.index, kind: a.kind, root: strip(a.root), metadataDigest: strip(a.metadataDigest), parents: a.parents.map(strip).sort() })
        if (event.statement) {
          const problem = checkStatement(event.statement, a, input.logInfo.logKey)
          if (problem) fail('VERIFY_BAD_STATEMENT', `log entry ${e.index}: the provenance of ${strip(a.id)} ${problem}`)
        }
        break
      }
    }
  }
  const size = nodes.size
  let firstDifference = altered[0] && { index: altered[0].index, entry: describeEntry(altered[0].leaf) }

  // Anchored and locally kept checkpoints, by size (an anchored one first at the same size).
  const local = input.localCheckpoints ?? []
  const points: ({ anchored: AnchoredCheckpoint } | { local: LocalCheckpoint })[] = [
    ...input.checkpoints.map((anchored) => ({ anchored })),
    ...local.map((c) => ({ local: c })),
  ]
  const sizeOf = (p: (typeof points)[number]) => ('anchored' in p ? p.anchored.treeSize : p.local.treeSize)
  points.sort((a, b) => sizeOf(a) - sizeOf(b) || ('anchored' in a ? -1 : 1))
  let previous: AnchoredCheckpoint | undefined
  // The largest size whose root matched a checkpoint: entries below it are as signed.
  let matchedSize = 0
  for (const point of points) {
    const c = 'anchored' in point ? point.anchored : { ...point.local, noteSignature: point.local.signature }
    const where = 'anchored' in point ? `anchored checkpoint #${point.anchored.index} (size ${c.treeSize})` : `the signed checkpoint of size ${c.treeSize} kept in the data dir`
    if (c.treeSize > size) {
      fail('VERIFY_ENTRIES_MISSING', `${where} covers more entries than the ${size} exported`)
      break
    }
    const root = nodes.root(c.treeSize)
    if (!root.equals(c.rootHash)) {
      // Name the first entry that differs: one whose bytes do not match its recorded hash,
      // else the range between the last matching checkpoint and this one.
      const culprit = altered.find((a) => a.index < c.treeSize)
      const which = culprit
        ? `log entry ${culprit.index} (${describeEntry(culprit.leaf)}) differs from what was logged`
        : c.treeSize - matchedSize === 1
          ? `log entry ${matchedSize} differs from what was signed`
          : `the first entry that differs is among entries ${matchedSize} to ${c.treeSize - 1}${withLeafHashes ? ' (their recorded leaf hashes were rewritten to match)' : ''}`
      fail('VERIFY_ROOT_MISMATCH', `${where}: its root ${c.rootHash.toString('hex')} is not the root of the exported entries ${root.toString('hex')}; ${which}`)
      break
    }
    matchedSize = c.treeSize
    if ('anchored' in point) {
      if (previous) {
        try {
          verifyConsistency(previous.treeSize, c.treeSize, previous.rootHash, c.rootHash, consistencyProof(nodes, previous.treeSize, c.treeSize))
        } catch (e) {
          fail('VERIFY_INCONSISTENT', `${where} is not consistent with #${previous.index}: ${isProvenaError(e) ? e.message : String(e)}`)
        }
      }
      previous = point.anchored
    }
    while (replayed < consentChanges.length && consentChanges[replayed]!.index < c.treeSize) {
      const ch = consentChanges[replayed++]!
      consentMap.set(ch.key, ch.value)
    }
    const mapRoot = consentMap.root()
    if (!mapRoot.equals(c.mapRoot)) {
      fail('VERIFY_MAP_MISMATCH', `${where}: consent map root ${c.mapRoot.toString('hex')}, replayed from the log's consent records ${mapRoot.toString('hex')}`)
    }
    if (!c.noteSignature) fail('VERIFY_NO_SIGNATURE', `${where}: no CheckpointAnchored event with its note signature`)
    else if (!isCheckpointSignatureValid({ origin: input.logInfo.origin, treeSize: c.treeSize, rootHash: c.rootHash, mapRoot: c.mapRoot }, input.logInfo.logKey, c.noteSignature)) {
      fail('VERIFY_BAD_SIGNATURE', `${where}: the checkpoint note signature does not verify under the log key held by the contract`)
    }
  }
  const anchoredSize = input.checkpoints.reduce((m, c) => Math.max(m, c.treeSize), 0)

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
    localCheckpoints: local.length,
    anchoredSize,
    unanchoredEntries: size - anchoredSize,
    assetsOnChain: input.assets.length,
    assetsPendingOnChain: pending,
    consentChanges: consentChanges.length,
    firstDifference,
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
