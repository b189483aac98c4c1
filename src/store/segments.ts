import type { BlobStore } from './fsBlobStore.js'

/** Where one record's ciphertext lives: a segment and a byte range in it. */
export interface BlockRef {
  cid: string
  offset: number
  length: number
}

/**
 * Packs many small ciphertexts into content-addressed segments of about `target` bytes
 * (1–4 MiB keeps block counts low on IPFS and S3 alike). `add` returns the record's
 * position; `finish` (or a full segment) writes the segment and resolves the positions.
 */
export class SegmentWriter {
  readonly #store: BlobStore
  readonly #target: number
  #parts: Uint8Array[] = []
  #size = 0
  #pending: { ref: BlockRef }[] = []
  readonly refs: BlockRef[] = []

  constructor(store: BlobStore, target = 2 << 20) {
    this.#store = store
    this.#target = target
  }

  /**
   * Appends a ciphertext; its BlockRef (in `refs`, same order) gets its CID when the segment
   * is written. Returns a promise only when a full segment is being written (await it then).
   */
  add(bytes: Uint8Array): Promise<void> | undefined {
    const ref: BlockRef = { cid: '', offset: this.#size, length: bytes.length }
    this.#parts.push(bytes)
    this.#size += bytes.length
    this.#pending.push({ ref })
    this.refs.push(ref)
    return this.#size >= this.#target ? this.#flush() : undefined
  }

  /** Writes the last, partial segment. */
  async finish(): Promise<BlockRef[]> {
    await this.#flush()
    return this.refs
  }

  async #flush(): Promise<void> {
    if (this.#parts.length === 0) return
    const cid = await this.#store.put(Buffer.concat(this.#parts))
    for (const p of this.#pending) p.ref.cid = cid
    this.#parts = []
    this.#pending = []
    this.#size = 0
  }
}
