import { join } from 'node:path'
import { cidOf } from './cid.js'
import { storeErrors } from './errors.js'
import { FsBlobStore, type BlobStore } from './fsBlobStore.js'

export const STORE_BACKENDS = ['fs', 'ipfs'] as const
export type StoreBackend = (typeof STORE_BACKENDS)[number]

/** Where blocks live: `fs`, or `ipfs` as an IPFS block repository in the data dir or in an external Kubo node (`ipfsApi`). */
export interface StoreConfig {
  backend: StoreBackend
  /** The RPC API of an external Kubo node, e.g. http://127.0.0.1:5001. */
  ipfsApi?: string | undefined
}

/**
 * The data dir's block store: `DIR/blobs` (fs), an IPFS block repository in
 * `DIR/ipfs/blocks` (ipfs), or a Kubo node through its RPC API (ipfs with `ipfsApi`).
 */
export async function openStore(dataDir: string, config: StoreBackend | StoreConfig): Promise<BlobStore> {
  const { backend, ipfsApi } = typeof config === 'string' ? { backend: config, ipfsApi: undefined } : config
  if (backend === 'fs') return new FsBlobStore(join(dataDir, 'blobs'))
  if (ipfsApi) {
    const { KuboBlobStore } = await import('./kuboBlobStore.js')
    return new KuboBlobStore(ipfsApi)
  }
  // Loaded on demand: most commands never need blockstore-fs and its modules.
  const { IpfsBlobStore } = await import('./ipfsBlobStore.js')
  return IpfsBlobStore.open(join(dataDir, 'ipfs', 'blocks'))
}

/**
 * Moves every block from `from` to `to`: copies it, reads it back from `to` and checks it
 * against its CID; when all are verified, calls `switchOver` (make `to` the store in use)
 * and only then deletes them from `from`, so that a crash never leaves the data dir
 * pointing at a store that lost blocks.
 */
export async function migrateStore(from: BlobStore, to: BlobStore, switchOver: () => void = () => {}): Promise<{ blocks: number; bytes: number }> {
  const moved: string[] = []
  let bytes = 0
  for await (const cid of from.list()) {
    const data = await from.get(cid)
    const put = await to.put(data)
    if (put !== cid) throw storeErrors.corrupt(cid, put)
    const back = await to.get(cid)
    if (cidOf(back) !== cid) throw storeErrors.corrupt(cid, cidOf(back))
    moved.push(cid)
    bytes += data.length
  }
  switchOver()
  for (const cid of moved) await from.delete(cid)
  return { blocks: moved.length, bytes }
}
