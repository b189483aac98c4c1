import { FsBlockstore } from 'blockstore-fs'
import { createHeliaLight, type Helia } from 'helia'
import { CID } from 'multiformats/cid'
import { digest } from '../log/index.js'
import { cidFromDigest, cidOf, digestOfCid } from './cid.js'
import { storeErrors } from './errors.js'
import type { BlobStore } from './fsBlobStore.js'

async function bytesOf(v: unknown): Promise<Buffer> {
  if (v instanceof Uint8Array) return Buffer.from(v)
  const parts: Uint8Array[] = []
  for await (const c of v as AsyncIterable<Uint8Array>) parts.push(c)
  return Buffer.concat(parts)
}

/**
 * Blocks in IPFS: a Helia node running in this process over a filesystem blockstore,
 * offline (libp2p not started), so the data dir is an IPFS repository that any IPFS node
 * can serve. Same CIDs as the fs store.
 */
export class IpfsBlobStore implements BlobStore {
  readonly kind = 'ipfs'
  readonly #helia: Helia

  private constructor(helia: Helia) {
    this.#helia = helia
  }

  /** Starts the in-process node over the blockstore in `dir`. */
  static async open(dir: string): Promise<IpfsBlobStore> {
    // Helia without libp2p, bitswap or HTTP gateways: an IPFS block repository, offline.
    const helia = createHeliaLight({ blockstore: new FsBlockstore(dir) }) as unknown as Helia
    return new IpfsBlobStore(helia)
  }

  async put(bytes: Uint8Array): Promise<string> {
    const cid = cidOf(bytes)
    await this.#helia.blockstore.put(CID.parse(cid), bytes)
    return cid
  }

  async get(cid: string): Promise<Buffer> {
    const expected = digestOfCid(cid)
    if (!(await this.has(cid))) throw storeErrors.missing(cid, this.kind)
    let bytes: Buffer
    try {
      bytes = await bytesOf(await this.#helia.blockstore.get(CID.parse(cid), { offline: true } as never))
    } catch (cause) {
      throw storeErrors.corrupt(cid, `unreadable (${(cause as Error).message})`)
    }
    const found = digest(bytes)
    if (!found.equals(expected)) throw storeErrors.corrupt(cid, cidFromDigest(found))
    return bytes
  }

  async has(cid: string): Promise<boolean> {
    digestOfCid(cid)
    return Boolean(await this.#helia.blockstore.has(CID.parse(cid)))
  }

  async delete(cid: string): Promise<void> {
    await this.#helia.blockstore.delete(CID.parse(cid))
  }

  async *list(): AsyncIterable<string> {
    // The blockstore keys blocks by multihash, so it lists them as CIDv0: give them back as
    // the CIDv1 (raw) this store hands out.
    for await (const pair of this.#helia.blockstore.getAll() as AsyncIterable<{ cid: CID }>) yield CID.createV1(0x55, pair.cid.multihash).toString()
  }

  async close(): Promise<void> {
    await (this.#helia as unknown as { stop?: () => Promise<void> }).stop?.()
  }
}
