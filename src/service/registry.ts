import { anchorNow, type AnchorResult } from '../app/index.js'
import { registerDataset, registerModel, type DatasetRegistration, type ModelRegistration, type OnProgress, type RegistryWriteContext } from '../registry/index.js'
import { claimDataset, importDataset } from '../access/index.js'
import type { NodeContext, ServiceContext } from './context.js'

/** The registry's view of an open data dir and chain. */
export function registryContext({ p, chain }: NodeContext): RegistryWriteContext {
  return { db: p.db, log: p.log, signer: p.signer, operatorDid: p.operatorDid, outbox: chain.outbox }
}

/** The checkpoint an operation's entries were anchored in. */
export interface AnchoredAt {
  treeSize: number
  rootHash: string
}
const anchoredAt = (a: AnchorResult): AnchoredAt => ({ treeSize: a.anchoredSize, rootHash: a.anchoredRoot.toString('hex') })

/**
 * `provena dataset register`: commits every record of a file or directory, registers the
 * dataset (log entry and on-chain registration through the outbox, one transaction) and
 * anchors the checkpoint that holds it. The same content again returns its registration.
 */
export async function registerDatasetFile(ctx: NodeContext, path: string, opts: { name?: string | undefined; onProgress?: OnProgress | undefined } = {}): Promise<DatasetRegistration & { checkpoint: AnchoredAt }> {
  const r = await registerDataset(registryContext(ctx), path, opts)
  return { ...r, checkpoint: anchoredAt(await anchorNow(ctx.p, ctx.chain)) }
}

/**
 * `provena model register`: hashes a model file, signs its provenance (in-toto in DSSE)
 * naming the datasets it was trained on, registers it and anchors.
 */
export async function registerModelFile(
  ctx: NodeContext,
  path: string,
  opts: { trainedOn: string[]; name?: string | undefined; onProgress?: OnProgress | undefined },
): Promise<ModelRegistration & { checkpoint: AnchoredAt }> {
  const r = await registerModel(registryContext(ctx), path, opts)
  return { ...r, checkpoint: anchoredAt(await anchorNow(ctx.p, ctx.chain)) }
}

/**
 * `provena dataset import`: commits, encrypts and stores every record of a CSV or JSON
 * Lines file under its subject's data key, registers the dataset (log entry and on-chain
 * registration, one transaction), names its controller in AccessPolicy (through the
 * outbox: from then on the chain decides who may use it) and anchors.
 */
export async function importEncrypted(
  ctx: ServiceContext,
  path: string,
  opts: Parameters<typeof importDataset>[2],
): Promise<Awaited<ReturnType<typeof importDataset>> & { checkpoint: AnchoredAt }> {
  const r = await importDataset(ctx.plane, path, opts)
  await claimDataset(ctx.chain.outbox, r.id, opts.controller.address)
  return { ...r, checkpoint: anchoredAt(await anchorNow(ctx.p, ctx.chain)) }
}
