import type { Db } from '../db/index.js'
import type { AssetKind, OutboxWrite } from '../chain/index.js'
import { registryErrors } from './errors.js'

/** An asset as this registry holds it. */
export interface Asset {
  id: string
  kind: AssetKind
  name: string
  root: string
  metadataDigest: string
  contentDigest: string
  records: number | null
  metadata: Record<string, unknown>
  statement: string | null
  parents: string[]
  logIndex: number
  createdAt: number
}

interface AssetRow {
  id: string
  kind: AssetKind
  name: string
  root: string
  metadata_digest: string
  content_digest: string
  records: number | null
  metadata: string
  statement: string | null
  log_index: number
  created_at: number
}

function fromRow(db: Db, r: AssetRow): Asset {
  return {
    id: r.id,
    kind: r.kind,
    name: r.name,
    root: r.root,
    metadataDigest: r.metadata_digest,
    contentDigest: r.content_digest,
    records: r.records,
    metadata: JSON.parse(r.metadata) as Record<string, unknown>,
    statement: r.statement,
    parents: db.prepare('SELECT parent FROM registry_parents WHERE child = ? ORDER BY parent').pluck().all(r.id) as string[],
    logIndex: r.log_index,
    createdAt: r.created_at,
  }
}

/** Normalises a user-given id: lowercase hex without 0x. */
export function normaliseId(id: string): string {
  return id.trim().toLowerCase().replace(/^0x/, '')
}

/** The fewest hex digits of an id that name an asset (when no other asset shares them). */
export const MIN_ID_PREFIX = 6

/** Every asset, or every asset of `kind`, in the order they were registered. */
export function listAssets(db: Db, kind?: AssetKind): Asset[] {
  const rows = (kind ? db.prepare('SELECT * FROM registry_assets WHERE kind = ? ORDER BY log_index').all(kind) : db.prepare('SELECT * FROM registry_assets ORDER BY log_index').all()) as AssetRow[]
  return rows.map((r) => fromRow(db, r))
}

/**
 * The asset with this id or unique id prefix (at least MIN_ID_PREFIX hex digits).
 * Throws REGISTRY_UNKNOWN_ASSET or REGISTRY_AMBIGUOUS_ID.
 */
export function getAsset(db: Db, idOrPrefix: string): Asset {
  const id = normaliseId(idOrPrefix)
  if (!/^[0-9a-f]{1,64}$/.test(id)) throw registryErrors.unknownAsset(idOrPrefix)
  if (id.length < MIN_ID_PREFIX) throw registryErrors.shortId(idOrPrefix, MIN_ID_PREFIX)
  const rows = db.prepare('SELECT * FROM registry_assets WHERE id >= ? AND id < ? LIMIT 2').all(id, `${id}g`) as AssetRow[]
  if (rows.length === 0) throw registryErrors.unknownAsset(idOrPrefix)
  if (rows.length > 1) throw registryErrors.ambiguousId(idOrPrefix, rows.length)
  return fromRow(db, rows[0]!)
}

/** The asset of `kind` whose content has this digest, if registered. */
export function findByContent(db: Db, kind: AssetKind, contentDigest: string): Asset | undefined {
  const row = db.prepare('SELECT * FROM registry_assets WHERE kind = ? AND content_digest = ?').get(kind, contentDigest) as AssetRow | undefined
  return row && fromRow(db, row)
}

/** Ids of the assets that name `id` as a parent. */
export function childrenOf(db: Db, id: string): string[] {
  return db.prepare('SELECT child FROM registry_parents WHERE parent = ? ORDER BY child').pluck().all(id) as string[]
}

/** Inserts an asset and its parent edges (inside the caller's transaction). */
export function insertAsset(db: Db, a: Omit<Asset, 'createdAt'>, now = Date.now()): void {
  db.prepare(
    `INSERT INTO registry_assets (id, kind, name, root, metadata_digest, content_digest, records, metadata, statement, log_index, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(a.id, a.kind, a.name, a.root, a.metadataDigest, a.contentDigest, a.records, JSON.stringify(a.metadata), a.statement, a.logIndex, now)
  const edge = db.prepare('INSERT INTO registry_parents (child, parent) VALUES (?, ?)')
  for (const p of a.parents) edge.run(a.id, p)
}

/** The chain write that registers an asset in AssetRegistry. */
export function assetWrite(a: Pick<Asset, 'id' | 'kind' | 'root' | 'metadataDigest' | 'parents'>): OutboxWrite {
  return {
    kind: 'asset',
    payload: { id: `0x${a.id}`, kind: a.kind, root: `0x${a.root}`, metadataDigest: `0x${a.metadataDigest}`, parents: a.parents.map((p) => `0x${p}` as const) },
  }
}
