import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'

/** SHA-256 of the concatenation of `parts`. */
export function sha256(...parts: Uint8Array[]): Buffer {
  const h = createHash('sha256')
  for (const p of parts) h.update(p)
  return h.digest()
}

/** SHA-256 as lowercase hex. */
export function sha256Hex(...parts: Uint8Array[]): string {
  return sha256(...parts).toString('hex')
}

/**
 * SHA-256 of a file, streamed in 1 MiB chunks so any size fits in memory.
 * `onProgress` gets the bytes hashed so far.
 */
export async function sha256File(path: string, onProgress?: (bytes: number) => void): Promise<Buffer> {
  const h = createHash('sha256')
  let done = 0
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    h.update(chunk as Buffer)
    done += (chunk as Buffer).length
    onProgress?.(done)
  }
  return h.digest()
}

/** Lowercase hex of bytes. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}

/** Bytes of a hex string, with or without 0x; throws on odd length or non-hex. */
export function fromHex(hex: string): Buffer {
  const h = hex.startsWith('0x') || hex.startsWith('0X') ? hex.slice(2) : hex
  if (h.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(h)) throw new TypeError(`not hex: ${hex}`)
  return Buffer.from(h, 'hex')
}
