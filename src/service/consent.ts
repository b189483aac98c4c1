import { writeFileSync } from 'node:fs'
import { datasetController, datasetSubjects, erasedAmong, pseudonymOf, controllerSecrets, type UnlockedIdentity } from '../access/index.js'
import { anchorNow, type Provena } from '../app/index.js'
import { readLatestCheckpoint } from '../chain/index.js'
import {
  applyConsentChanges,
  applyConsentChangesListed,
  buildManifest,
  consentErrors,
  readConsentFile,
  recordManifest,
  resolvePurpose,
  type AppliedBatch,
  type AppliedChange,
  type BulkChange,
  type ConsentChange,
  type ConsentContext,
  type TrainingManifest,
} from '../consent/index.js'
import { ProvenaError } from '../errors.js'
import type { MapChange } from '../log/index.js'
import { datasetCommitments, getAsset } from '../registry/index.js'
import type { NodeContext } from './context.js'

/** The consent layer's view of an open data dir. */
export function consentContext(p: Provena): ConsentContext {
  return { db: p.db, log: p.log, map: p.map, ownPurposes: p.config.purposes, terms: p.config.consentTerms }
}

/** The anchored checkpoint that carries the new map root. */
export interface MapCheckpoint {
  treeSize: number
  mapRoot: string
  transactionHash: string | null
}

/** Refuses a recorder that is not a controller: a trainer's or auditor's pseudonyms are its own. */
export function requireController(who: UnlockedIdentity): void {
  if (who.role !== 'controller') {
    throw new ProvenaError('CONSENT_NOT_CONTROLLER', `${who.name} is a ${who.role}: consent is recorded by the controller of the subjects' data`, {
      hint: 'run it --as a controller identity (provena identity list)',
    })
  }
}

/** Refuses a consent limited to a dataset that another controller imported. */
function refuseOthersDataset(p: Provena, controller: UnlockedIdentity, dataset: string, where = ''): void {
  const owner = datasetController(p.db, dataset)
  if (owner !== undefined && owner !== controller.did) {
    throw new ProvenaError('CONSENT_NOT_CONTROLLER', `${where}dataset ${dataset.slice(0, 12)} is controlled by another identity, not ${controller.name}`, {
      hint: 'record consent --as the controller that imported the dataset',
    })
  }
}

/**
 * Refuses consent given for subjects the controller erased (their data and keys are gone):
 * names every such change, by file:line for a bulk import.
 */
function refuseErasedGrants(p: Provena, controller: UnlockedIdentity, changes: ConsentChange[]): void {
  const given = changes.filter((c) => c.state === 'given')
  if (given.length === 0) return
  const erased = erasedAmong(p.db, controller.did, given.map((c) => c.pseudonym))
  const bad = given.filter((c) => erased.has(c.pseudonym))
  if (bad.length === 0) return
  const name = (c: ConsentChange) => `${c.where ? `${c.where}: ` : ''}subject "${c.subjectId}"`
  const more = bad.length > 1 ? ` (also ${bad.slice(1, 11).map((c) => c.where ?? c.subjectId).join(', ')}${bad.length > 11 ? `, … ${bad.length} in all` : ''})` : ''
  throw new ProvenaError('CONSENT_SUBJECT_ERASED', `${name(bad[0]!)} was erased: no consent can be given for their data${more}`, {
    hint: bad[0]!.where ? 'remove the rows of erased subjects; nothing of the file was applied' : undefined,
    details: { changes: bad.map((c) => ({ where: c.where ?? null, subject: c.subjectId })) },
  })
}

async function anchorMap(ctx: NodeContext): Promise<MapCheckpoint> {
  const a = await anchorNow(ctx.p, ctx.chain)
  return { treeSize: a.anchoredSize, mapRoot: ctx.p.map.root().toString('hex'), transactionHash: a.transactionHash }
}

/** One subject's change as `consent grant|withdraw|refuse` states it (the clear subject id is pseudonymised here). */
export interface SubjectChange extends Omit<ConsentChange, 'pseudonym' | 'subjectId' | 'dataset'> {
  subjectId: string
  /** Dataset id or unique prefix the consent is limited to. */
  dataset?: string | null | undefined
}

/**
 * `provena consent grant|withdraw|refuse`: records one subject's change (a log entry and
 * the consent map, one transaction) and anchors the checkpoint that carries the map root.
 * `applied` is null when the change states what is recorded already (nothing logged).
 */
export async function recordConsent(ctx: NodeContext, controller: UnlockedIdentity, change: SubjectChange): Promise<{ applied: AppliedChange | null; checkpoint: MapCheckpoint }> {
  requireController(controller)
  const { p } = ctx
  const dataset = change.dataset ? getAsset(p.db, change.dataset).id : null
  if (dataset) refuseOthersDataset(p, controller, dataset)
  const c: ConsentChange = { ...change, pseudonym: pseudonymOf(controllerSecrets(controller).pseudonymKey, change.subjectId), dataset }
  refuseErasedGrants(p, controller, [c])
  const [applied] = applyConsentChangesListed(consentContext(p), controller.did, [c])
  return { applied: applied ?? null, checkpoint: await anchorMap(ctx) }
}

/**
 * `provena consent import`: applies every change of a CSV or JSON Lines file, all or none
 * (a bad line is named file:line before anything is written), then anchors. Lines that
 * state what is recorded already are counted as unchanged, not logged again.
 */
export async function importConsent(ctx: NodeContext, controller: UnlockedIdentity, file: string): Promise<AppliedBatch & { checkpoint: MapCheckpoint }> {
  const batch = applyConsentBatch(ctx, controller, readConsentFile(file), file)
  return { ...batch, checkpoint: await anchorMap(ctx) }
}

/**
 * Applies a batch of consent changes (as `consent import` reads them; `source` names where
 * they come from: `source:line` in errors), all or none, in one transaction, without
 * anchoring: the caller anchors now (`consent import`) or on the node's schedule (the API).
 */
export function applyConsentBatch(
  ctx: NodeContext,
  controller: UnlockedIdentity,
  rows: BulkChange[],
  source: string,
  opts: {
    deferMap?: (changes: MapChange[]) => void
    /** The controller's pseudonym key, when the caller keeps it (derived otherwise). */
    pseudonymKey?: Buffer
    /** The number of current consent records, when the caller knows it. */
    stored?: number
  } = {},
): AppliedBatch {
  requireController(controller)
  const { p } = ctx
  const pseudonymKey = opts.pseudonymKey ?? controllerSecrets(controller).pseudonymKey
  const datasetOfLine = (id: string, line: number): string => {
    let dataset: string
    try {
      dataset = getAsset(p.db, id).id
    } catch (e) {
      throw consentErrors.badLine(source, line, (e as Error).message, 'dataset')
    }
    refuseOthersDataset(p, controller, dataset, `${source}:${line}: `)
    return dataset
  }
  const changes: ConsentChange[] = rows.map((r) => ({
    pseudonym: pseudonymOf(pseudonymKey, r.subjectId),
    subjectId: r.subjectId,
    purpose: r.purpose,
    state: r.state,
    expires: r.expires,
    dataset: r.dataset ? datasetOfLine(r.dataset, r.line) : null,
    signature: r.signature,
    where: `${source}:${r.line}`,
  }))
  refuseErasedGrants(p, controller, changes)
  return applyConsentChanges(consentContext(p), controller.did, changes, {
    ...(opts.deferMap ? { deferMap: opts.deferMap } : {}),
    ...(opts.stored === undefined ? {} : { stored: opts.stored }),
  })
}

/** What one batch of a group commit did: as applyConsentBatch, and the log size right after it. */
export interface GroupedBatch extends AppliedBatch {
  /** The log size after this batch's changes (those of batches committed with it come after). */
  treeSize: number
}

interface PendingBatch {
  controller: UnlockedIdentity
  rows: BulkChange[]
  source: string
  resolve: (b: GroupedBatch) => void
  reject: (e: unknown) => void
}

/** The most changes one group commit takes; the batches beyond wait for the next one. */
export const GROUP_COMMIT_MAX_CHANGES = 20_000

/**
 * Group commit of consent batches (the API's POST /v1/consent): the batches submitted while
 * the node is busy (committing the previous group, serving other requests) are applied
 * together on the next turn of the event loop, in ONE SQLite transaction (one disk sync)
 * and one pass over the consent map. Each batch keeps its own all-or-nothing semantics: it
 * runs in its own savepoint, in submission order (a batch sees the batches before it, as
 * if applied one by one), and a batch that fails is rolled back alone and rejected with its
 * own error; the others commit. A promise resolves only after the commit returned (the batch
 * is durable and in the log); if the commit itself fails, every batch of the group is
 * rejected with that error and nothing of it is kept.
 */
export class ConsentGroupCommit {
  readonly #ctx: NodeContext
  #queue: PendingBatch[] = []
  #scheduled = false
  /** Each controller's pseudonym key, derived once (the identity stays unlocked as long). */
  readonly #keys = new WeakMap<UnlockedIdentity, Buffer>()
  /** Commits made and batches they carried (metrics, benches, tests). */
  readonly stats = { commits: 0, batches: 0 }

  constructor(ctx: NodeContext) {
    this.#ctx = ctx
  }

  /** Applies `rows` (as applyConsentBatch) with the batches submitted alongside; resolves once committed. */
  apply(controller: UnlockedIdentity, rows: BulkChange[], source: string): Promise<GroupedBatch> {
    return new Promise<GroupedBatch>((resolve, reject) => {
      this.#queue.push({ controller, rows, source, resolve, reject })
      if (!this.#scheduled) {
        this.#scheduled = true
        // setImmediate runs after the I/O of this turn: every request read meanwhile joins the group.
        setImmediate(() => this.#flush())
      }
    })
  }

  #flush(): void {
    this.#scheduled = false
    let take = 0
    for (let n = 0; take < this.#queue.length && (take === 0 || n + this.#queue[take]!.rows.length <= GROUP_COMMIT_MAX_CHANGES); take++) n += this.#queue[take]!.rows.length
    const group = this.#queue.splice(0, take)
    if (this.#queue.length > 0) {
      this.#scheduled = true
      setImmediate(() => this.#flush())
    }
    const { p } = this.#ctx
    const outcomes: ({ ok: true; batch: GroupedBatch } | { ok: false; error: unknown })[] = []
    try {
      p.db.transaction(() => {
        const mapChanges: MapChange[] = []
        // Counted once for the group (an estimate after: it only chooses between point lookups and one scan).
        let stored = p.db.prepare('SELECT count(*) FROM consent_current').pluck().get() as number
        for (const b of group) {
          let own: MapChange[] = []
          try {
            let pseudonymKey = this.#keys.get(b.controller)
            if (!pseudonymKey) this.#keys.set(b.controller, (pseudonymKey = controllerSecrets(b.controller).pseudonymKey))
            // Its own savepoint: a failure rolls back this batch's writes only.
            const applied = p.db.transaction(() => applyConsentBatch(this.#ctx, b.controller, b.rows, b.source, { deferMap: (c) => (own = c), pseudonymKey, stored }))()
            stored += applied.count
            for (const c of own) mapChanges.push(c)
            outcomes.push({ ok: true, batch: { ...applied, treeSize: p.log.size() } })
          } catch (error) {
            // SQLite rolls back the whole transaction on some errors (disk full, I/O): then nothing of the group holds.
            if (!p.db.inTransaction) throw error
            outcomes.push({ ok: false, error })
          }
        }
        p.map.apply(mapChanges)
      })()
    } catch (error) {
      for (const b of group) b.reject(error)
      return
    }
    this.stats.commits++
    this.stats.batches += group.length
    group.forEach((b, i) => {
      const o = outcomes[i]!
      if (o.ok) b.resolve(o.batch)
      else b.reject(o.error)
    })
  }
}

/** What the training gate wrote. */
export interface GateResult {
  manifest: TrainingManifest
  hash: string
  logIndex: number
  dataset: string
  records: number
  /** Excluded records by reason. */
  excluded: Record<string, number>
}

/**
 * `provena consent check` (the training gate): builds the training manifest of an imported
 * dataset for a purpose at an instant, against an anchored checkpoint that holds the
 * current consent map, writes it to `out`, logs its hash and anchors.
 */
export async function runTrainingGate(ctx: NodeContext, opts: { dataset: string; purpose: string; at: number; out: string }): Promise<GateResult> {
  const { p, chain } = ctx
  const asset = getAsset(p.db, opts.dataset)
  const plane = datasetSubjects(p.db, asset.id)
  if (!plane) throw consentErrors.notImported(asset.id)
  resolvePurpose(opts.purpose, p.config.purposes)
  // The manifest is built against an anchored checkpoint that holds the current map root.
  await anchorNow(p, chain)
  const cp = await readLatestCheckpoint(chain.client.publicClient, chain.deployment.CheckpointAnchor)
  if (!cp) throw consentErrors.notAnchored('no checkpoint is anchored yet')
  const built = buildManifest(
    consentContext(p),
    { id: asset.id, root: asset.root, controller: plane.controller, commitments: datasetCommitments(p.db, asset.id), subjects: plane.subjects },
    opts.purpose,
    opts.at,
    { ...cp, chainId: chain.client.chainId, checkpointAnchor: chain.deployment.CheckpointAnchor, assetRegistry: chain.deployment.AssetRegistry },
  )
  writeFileSync(opts.out, built.bytes)
  const logIndex = recordManifest(consentContext(p), built.manifest, built.hash, p.operatorDid)
  await anchorNow(p, chain)
  const excluded: Record<string, number> = Object.create(null)
  for (const e of built.manifest.excluded) excluded[e.reason] = (excluded[e.reason] ?? 0) + 1
  return { manifest: built.manifest, hash: built.hash, logIndex, dataset: asset.id, records: plane.subjects.length, excluded }
}
