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
 * position; full segments are written in the background, at most `inFlight` at a time, so
 * the caller encrypts the next segment while the last one reaches the disk or the node.
 */
export class SegmentWriter {
  readonly #store: BlobStore
  readonly #target: number
  readonly #inFlight: number
  #parts: Uint8Array[] = []
  #size = 0
  #pending: BlockRef[] = []
  #writes: Promise<void>[] = []
  readonly refs: BlockRef[] = []

  constructor(store: BlobStore, target = 2 << 20, inFlight = 2) {
    this.#store = store
    this.#target = target
    this.#inFlight = inFlight
  }

  /**
   * Appends a ciphertext; its BlockRef (in `refs`, same order) gets its CID when its segment
   * is written. Returns a promise only when too many segments are being written (await it).
   */
  add(bytes: Uint8Array): Promise<void> | undefined {
    const ref: BlockRef = { cid: '', offset: this.#size, length: bytes.length }
    this.#parts.push(bytes)
    this.#size += bytes.length
    this.#pending.push(ref)
    this.refs.push(ref)
    if (this.#size < this.#target) return undefined
    this.#startWrite()
    return this.#writes.length > this.#inFlight ? this.#drain(this.#inFlight) : undefined
  }

  /** Writes the last, partial segment and waits for every write; a failed write throws here. */
  async finish(): Promise<BlockRef[]> {
    this.#startWrite()
    await this.#drain(0)
    return this.refs
  }

  #startWrite(): void {
    if (this.#parts.length === 0) return
    const refs = this.#pending
    const write = this.#store.put(Buffer.concat(this.#parts)).then((cid) => {
      for (const r of refs) r.cid = cid
    })
    write.catch(() => {}) // observed when drained; not an unhandled rejection meanwhile
    this.#writes.push(write)
    this.#parts = []
    this.#pending = []
    this.#size = 0
  }

  async #drain(keep: number): Promise<void> {
    while (this.#writes.length > keep) await this.#writes.shift()
  }
}
