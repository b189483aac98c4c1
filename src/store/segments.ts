import type { BlobStore } from './fsBlobStore.js'

/** Where one record's ciphertext lives: a segment and a byte range in it. */
export interface BlockRef {
  cid: string
  offset: number
  length: number
}

/**
 * The largest segment: Kubo's default block size limit (1 MiB, `ipfs block put` refuses more
 * without --allow-big-block; bitswap peers need not serve bigger blocks). A segment is one raw
 * block, so `ipfs block put --cid-codec raw --mhtype sha2-256` of its bytes, or `ipfs add
 * --cid-version 1 --raw-leaves --chunker=size-1048576` of them as a file, gives its CID.
 */
export const SEGMENT_MAX_BYTES = 1 << 20

/**
 * Packs many small ciphertexts into content-addressed segments of at most `max` bytes
 * (few blocks on IPFS and S3 alike, each within IPFS's block limit). A ciphertext larger
 * than `max` gets a segment of its own, of its own size. `add` returns the record's
 * position; full segments are written in the background, at most `inFlight` at a time, so
 * the caller encrypts the next segment while the last one reaches the disk or the node.
 */
export class SegmentWriter {
  readonly #store: BlobStore
  readonly #max: number
  readonly #inFlight: number
  #parts: Uint8Array[] = []
  #size = 0
  #pending: BlockRef[] = []
  #writes: Promise<void>[] = []
  readonly refs: BlockRef[] = []

  constructor(store: BlobStore, max = SEGMENT_MAX_BYTES, inFlight = 2) {
    this.#store = store
    this.#max = max
    this.#inFlight = inFlight
  }

  /**
   * Appends a ciphertext; its BlockRef (in `refs`, same order) gets its CID when its segment
   * is written. Returns a promise only when too many segments are being written (await it).
   */
  add(bytes: Uint8Array): Promise<void> | undefined {
    // The segment so far is written first when this ciphertext would take it past max.
    const closed = this.#size > 0 && this.#size + bytes.length > this.#max
    if (closed) this.#startWrite()
    const ref: BlockRef = { cid: '', offset: this.#size, length: bytes.length }
    this.#parts.push(bytes)
    this.#size += bytes.length
    this.#pending.push(ref)
    this.refs.push(ref)
    const full = this.#size >= this.#max
    if (full) this.#startWrite()
    if (!closed && !full) return undefined
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
