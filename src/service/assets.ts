import { datasetController, listIdentities } from '../access/index.js'
import type { Provena } from '../app/index.js'
import type { AssetKind } from '../chain/index.js'
import { getAsset, listAssets, registryErrors, type Asset, type DatasetManifest } from '../registry/index.js'

/** A registered asset as `dataset list`, `model list` and GET /v1/datasets show it. */
export interface AssetSummary {
  id: string
  name: string
  kind: AssetKind
  root: string
  records: number | null
  format?: string
  encrypted?: boolean
  size?: number | null
  trainedOn?: string[]
  registeredAt: string
  logIndex: number
  owner: { name: string | null; did: string }
}

function summary(p: Provena, a: Asset, names: Map<string, string>): AssetSummary {
  const controller = a.kind === 'dataset' ? datasetController(p.db, a.id) : undefined
  const ownerDid = controller ?? p.operatorDid
  const manifest = a.metadata.manifest as DatasetManifest | undefined
  return {
    id: a.id,
    name: a.name,
    kind: a.kind,
    root: a.root,
    records: a.records,
    ...(manifest ? { format: manifest.format } : {}),
    ...(a.kind === 'dataset' ? { encrypted: controller !== undefined } : {}),
    ...(a.kind === 'model' ? { size: (a.metadata.size as number | undefined) ?? null, trainedOn: a.parents } : {}),
    registeredAt: new Date(a.createdAt).toISOString(),
    logIndex: a.logIndex,
    owner: { name: controller ? (names.get(controller) ?? null) : 'operator', did: ownerDid },
  }
}

/** The registered assets of one kind, oldest first: ids, names, records, owners. */
export function assetListing(p: Provena, kind: AssetKind): AssetSummary[] {
  const names = new Map(listIdentities(p.dir).map((i) => [i.did, i.name]))
  return listAssets(p.db, kind).map((a) => summary(p, a, names))
}

/** One asset of `kind` by id or unique prefix, with its manifest (a dataset's: format, schema, records, root, commitment rule). */
export function showAsset(p: Provena, idOrPrefix: string, kind: AssetKind): AssetSummary & { manifest: unknown } {
  const a = getAsset(p.db, idOrPrefix)
  if (a.kind !== kind) throw registryErrors.wrongKind(a.id, a.kind, kind)
  const names = new Map(listIdentities(p.dir).map((i) => [i.did, i.name]))
  return { ...summary(p, a, names), manifest: a.metadata.manifest ?? null }
}
