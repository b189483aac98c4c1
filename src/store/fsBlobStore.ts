import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs'
import { open, rename } from 'node:fs/promises'
import { join } from 'node:path'
import { digest } from '../log/index.js'
import { cidFromDigest, cidOf, digestOfCid } from './cid.js'
import { storeErrors } from './errors.js'

/**
 * A content-addressed block store. Blocks are immutable and named by their CIDv1, so the
 * same bytes have the same address in every backend (fs here; IPFS and S3 adapters keep the
 * same interface). Reads verify the content against the address.
 */
export interface BlobStore {
  readonly kind: string
  put(bytes: Uint8Array): Promise<string>
  /** The block's bytes, verified; STORE_MISSING_BLOCK or STORE_CORRUPT_BLOCK otherwise. */
  get(cid: string): Promise<Buffer>
  has(cid: string): Promise<boolean>
  delete(cid: string): Promise<void>
  list(): AsyncIterable<string>
  /** Releases what the backend holds (a node, connections). */
  close?(): Promise<void>
}

let tmpCounter = 0

/** Blocks as files under a directory: <dir>/<two characters of the CID>/<CID>, written atomically and fsynced. */
export class FsBlobStore implements BlobStore {
  readonly kind = 'fs'
  readonly #dir: string

  constructor(dir: string) {
    this.#dir = dir
    mkdirSync(dir, { recursive: true })
  }

  #path(cid: string): string {
    digestOfCid(cid)
    return join(this.#dir, cid.slice(-2), cid)
  }

  async put(bytes: Uint8Array): Promise<string> {
    const cid = cidOf(bytes)
    const path = this.#path(cid)
    if (existsSync(path)) return cid
    mkdirSync(join(this.#dir, cid.slice(-2)), { recursive: true })
    // Written on the thread pool, so the caller can go on encrypting the next segment.
    const tmp = `${path}.tmp-${process.pid}-${(tmpCounter++).toString(36)}`
    const file = await open(tmp, 'w', 0o600)
    try {
      await file.write(bytes)
      await file.sync()
    } finally {
      await file.close()
    }
    await rename(tmp, path)
    return cid
  }

  async get(cid: string): Promise<Buffer> {
    const path = this.#path(cid)
    if (!existsSync(path)) throw storeErrors.missing(cid, this.kind)
    const bytes = readFileSync(path)
    const found = digest(bytes)
    if (!found.equals(digestOfCid(cid))) throw storeErrors.corrupt(cid, cidFromDigest(found))
    return bytes
  }

  async has(cid: string): Promise<boolean> {
    return existsSync(this.#path(cid))
  }

  async delete(cid: string): Promise<void> {
    rmSync(this.#path(cid), { force: true })
  }

  async *list(): AsyncIterable<string> {
    for (const shard of readdirSync(this.#dir).sort()) {
      const d = join(this.#dir, shard)
      if (!statSync(d).isDirectory()) continue
      for (const f of readdirSync(d).sort()) if (!f.includes('.tmp-')) yield f
    }
  }
}
