import { randomFillSync } from 'node:crypto'

// node:crypto's randomBytes costs ~10 µs a call whatever the size: draw from a 64 KiB pool
// of CSPRNG output instead, refilled as it runs out. Each byte is handed out once.
const POOL = 64 * 1024
let pool = Buffer.alloc(0)
let at = 0

/** `n` fresh random bytes (CSPRNG), as a copy the caller owns. */
export function randomBytesPooled(n: number): Buffer {
  if (n > POOL / 4) return randomFillSync(Buffer.alloc(n))
  if (at + n > pool.length) {
    pool = randomFillSync(Buffer.allocUnsafe(POOL))
    at = 0
  }
  const out = Buffer.from(pool.subarray(at, at + n))
  pool.fill(0, at, at + n)
  at += n
  return out
}
