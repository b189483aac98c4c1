import { FsBlockstore } from 'blockstore-fs'
import { CID } from 'multiformats/cid'
import { digest } from '../log/index.js'
import { cidFromDigest, cidOf, digestOfCid } from './cid.js'
import { storeErrors } from './errors.js'
import type { BlobStore } from './fsBlobStore.js'

/** The multicodec of raw blocks: the codec of every CID this store hands out. */
const RAW = 0x55

async function bytesOf(v: Uint8Array | AsyncIterable<Uint8Array>): Promise<Buffer> {
  if (v instanceof Uint8Array) return Buffer.from(v)
  const parts: Uint8Array[] = []
  for await (const c of v) parts.push(c)
  return Buffer.concat(parts)
}

/**
 * Blocks in an IPFS block repository: `blockstore-fs`, the filesystem blockstore of the
 * JavaScript IPFS implementations, keyed by multihash in base32 upper case and sharded
 * next-to-last/2 with the `.data` extension — the layout of Kubo's flatfs `blocks`
 * directory. Same CIDs as the fs store. Nothing runs beside it: a node that should serve
 * the blocks to peers is an external one (`--ipfs-api`, see KuboBlobStore).
 */
export class IpfsBlobStore implements BlobStore {
  readonly kind = 'ipfs'
  readonly #blocks: FsBlockstore

  private constructor(blocks: FsBlockstore) {
    this.#blocks = blocks
  }

  /** Opens (creating if needed) the block repository in `dir`. */
  static async open(dir: string): Promise<IpfsBlobStore> {
    const blocks = new FsBlockstore(dir)
    await blocks.open()
    return new IpfsBlobStore(blocks)
  }

  async put(bytes: Uint8Array): Promise<string> {
    const cid = cidOf(bytes)
    await this.#blocks.put(CID.parse(cid), bytes)
    return cid
  }

  async get(cid: string): Promise<Buffer> {
    const expected = digestOfCid(cid)
    if (!(await this.has(cid))) throw storeErrors.missing(cid, this.kind)
    let bytes: Buffer
    try {
      bytes = await bytesOf(this.#blocks.get(CID.parse(cid)))
    } catch (cause) {
      throw storeErrors.corrupt(cid, `unreadable (${(cause as Error).message})`)
    }
    const found = digest(bytes)
    if (!found.equals(expected)) throw storeErrors.corrupt(cid, cidFromDigest(found))
    return bytes
  }

  async has(cid: string): Promise<boolean> {
    digestOfCid(cid)
    return this.#blocks.has(CID.parse(cid))
  }

  async delete(cid: string): Promise<void> {
    await this.#blocks.delete(CID.parse(cid))
  }

  async *list(): AsyncIterable<string> {
    // The blockstore keys blocks by multihash, so it lists them as CIDv0: give them back as
    // the CIDv1 (raw) this store hands out.
    for await (const pair of this.#blocks.getAll()) yield CID.createV1(RAW, pair.cid.multihash).toString()
  }

  async close(): Promise<void> {
    await this.#blocks.close()
  }
}
