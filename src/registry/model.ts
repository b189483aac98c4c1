import { statSync } from 'node:fs'
import { basename } from 'node:path'
import type { Hex } from 'viem'
import { enqueueOutbox, findOutbox, flushOutbox, simulateWrite, type AssetKind } from '../chain/index.js'
import { canonicalJson, canonicalJsonBytes, IN_TOTO_PAYLOAD_TYPE, sha256File, sha256Hex, signDsse, type DsseEnvelope } from '../crypto/index.js'
import { assetWrite, findByContent, getAsset, insertAsset, type Asset } from './assets.js'
import { ASSET_REGISTERED, type AssetRegisteredEvent, type RegistryWriteContext } from './context.js'
import type { DatasetManifest, OnProgress } from './dataset.js'
import { registryErrors } from './errors.js'

/** buildType of Provena's training provenance (SLSA Provenance v1 predicate). */
export const TRAINING_BUILD_TYPE = 'urn:provena:buildtype:training:v1'

/** in-toto Statement v1 with a SLSA Provenance v1 predicate. */
export interface ProvenanceStatement {
  _type: 'https://in-toto.io/Statement/v1'
  subject: { name: string; digest: { sha256: string } }[]
  predicateType: 'https://slsa.dev/provenance/v1'
  predicate: {
    buildDefinition: {
      buildType: string
      externalParameters: Record<string, unknown>
      resolvedDependencies: { uri: string; name: string; digest: { sha256: string }; annotations: Record<string, unknown> }[]
    }
    runDetails: { builder: { id: string }; metadata: { invocationId?: string; startedOn?: string; finishedOn?: string } }
  }
}

/** What `model register` reports. */
export interface ModelRegistration {
  id: string
  name: string
  sha256: string
  size: number
  trainedOn: string[]
  logIndex: number
  existing: boolean
  statementDigest: string
  transactionHash: Hex | null
}

/**
 * Registers a model (or any artifact) file: hashes it by streaming, writes an in-toto
 * Statement naming the datasets it was trained on as resolved dependencies, signs it in a
 * DSSE envelope with the operator's key, and records it in the log and on-chain.
 */
export async function registerModel(
  ctx: RegistryWriteContext,
  path: string,
  opts: {
    trainedOn: string[]
    /** Datasets registered by other nodes (not in this database), their roots read on-chain by the caller: federated training across nodes. */
    trainedOnElsewhere?: { id: string; name: string; root: string }[] | undefined
    name?: string | undefined
    kind?: AssetKind
    parameters?: Record<string, unknown>
    onProgress?: OnProgress | undefined
  },
): Promise<ModelRegistration> {
  const kind = opts.kind ?? 'model'
  let size: number
  try {
    const st = statSync(path)
    if (!st.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'EISDIR' })
    size = st.size
  } catch (cause) {
    throw registryErrors.unreadable(path, cause)
  }
  const elsewhere = (opts.trainedOnElsewhere ?? []).map((d) => ({ id: d.id, kind: 'dataset' as const, name: d.name, root: d.root, metadata: {} }))
  const parents = [...new Set(opts.trainedOn.map((id) => getAsset(ctx.db, id))), ...elsewhere].sort((a, b) => (a.id < b.id ? -1 : 1))
  const digest = (await sha256File(path, (n) => opts.onProgress?.(n, size))).toString('hex')
  const existing = findByContent(ctx.db, kind, digest)
  if (existing) {
    const same = canonicalJson(existing.parents) === canonicalJson(parents.map((p) => p.id))
    if (!same) throw registryErrors.conflict(existing.id, `with other lineage (trained on ${existing.parents.join(', ') || 'nothing'})`)
    await flushOutbox(ctx.outbox)
    return report(ctx, existing, size, true)
  }
  const name = opts.name ?? basename(path)
  const now = new Date().toISOString()
  const statement: ProvenanceStatement = {
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name, digest: { sha256: digest } }],
    predicateType: 'https://slsa.dev/provenance/v1',
    predicate: {
      buildDefinition: {
        buildType: TRAINING_BUILD_TYPE,
        externalParameters: { trainedOn: parents.map((p) => p.id), ...(opts.parameters ?? {}) },
        resolvedDependencies: parents.map(dependency),
      },
      runDetails: { builder: { id: ctx.operatorDid }, metadata: { finishedOn: now } },
    },
  }
  const envelope: DsseEnvelope = signDsse(IN_TOTO_PAYLOAD_TYPE, canonicalJsonBytes(statement), ctx.operatorDid, ctx.signer.privateKey)
  const envelopeText = canonicalJson(envelope)
  const statementDigest = sha256Hex(Buffer.from(envelopeText, 'utf8'))
  const id = digest
  const write = assetWrite({ id, kind, root: digest, metadataDigest: statementDigest, parents: parents.map((p) => p.id) })
  await simulateWrite(ctx.outbox, write)
  const event: AssetRegisteredEvent = {
    type: ASSET_REGISTERED,
    actor: ctx.operatorDid,
    time: now,
    asset: { id, kind, name, root: digest, metadataDigest: statementDigest, parents: parents.map((p) => p.id) },
    statement: envelope,
  }
  ctx.db.transaction(() => {
    const logIndex = ctx.log.append([Buffer.from(canonicalJson(event), 'utf8')])
    insertAsset(ctx.db, {
      id,
      kind,
      name,
      root: digest,
      metadataDigest: statementDigest,
      contentDigest: digest,
      records: null,
      metadata: { name, size },
      statement: envelopeText,
      parents: parents.map((p) => p.id),
      logIndex,
    })
    enqueueOutbox(ctx.db, ctx.outbox.client.chainKey, write)
  })()
  await flushOutbox(ctx.outbox)
  return report(ctx, getAsset(ctx.db, id), size, false)
}

function dependency(a: Pick<Asset, 'id' | 'kind' | 'name' | 'root' | 'metadata'>): ProvenanceStatement['predicate']['buildDefinition']['resolvedDependencies'][number] {
  const manifest = a.metadata.manifest as DatasetManifest | undefined
  return {
    uri: `urn:provena:${a.kind}:${a.id}`,
    name: a.name,
    digest: { sha256: a.id },
    annotations: manifest ? { kind: a.kind, root: a.root, records: manifest.records } : { kind: a.kind, root: a.root },
  }
}

function report(ctx: RegistryWriteContext, a: Asset, size: number, existing: boolean): ModelRegistration {
  const tx = findOutbox(ctx.db, ctx.outbox.client.chainKey, assetWrite(a))?.txHash
  return {
    id: a.id,
    name: a.name,
    sha256: a.root,
    size,
    trainedOn: a.parents,
    logIndex: a.logIndex,
    existing,
    statementDigest: a.metadataDigest,
    transactionHash: tx ?? null,
  }
}
