import { createCipheriv, createDecipheriv } from 'node:crypto'
import { cryptoErrors } from './errors.js'
import { randomBytesPooled } from './random.js'

const NONCE = 12
const TAG = 16

/**
 * AES-256-GCM with a fresh random 96-bit nonce: returns nonce ‖ ciphertext ‖ tag.
 * WARNING: random nonces are safe for up to 2^32 messages under one key (NIST SP 800-38D
 * §8.3); Provena's keys each encrypt far fewer.
 */
export function aeadSeal(key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array = Buffer.alloc(0)): Buffer {
  if (key.length !== 32) throw cryptoErrors.badKey(`AES-256-GCM key must be 32 bytes, got ${key.length}`)
  const nonce = randomBytesPooled(NONCE)
  const c = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG })
  c.setAAD(aad)
  return Buffer.concat([nonce, c.update(plaintext), c.final(), c.getAuthTag()])
}

/** Opens aeadSeal's output; throws CRYPTO_DECRYPT_FAILED when the key, aad or bytes are wrong. */
export function aeadOpen(key: Uint8Array, sealed: Uint8Array, aad: Uint8Array = Buffer.alloc(0), what = 'ciphertext'): Buffer {
  if (key.length !== 32) throw cryptoErrors.badKey(`AES-256-GCM key must be 32 bytes, got ${key.length}`)
  if (sealed.length < NONCE + TAG) throw cryptoErrors.decryptFailed(`${what} is too short to be AES-256-GCM output`)
  const d = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, NONCE), { authTagLength: TAG })
  d.setAAD(aad)
  d.setAuthTag(sealed.subarray(sealed.length - TAG))
  try {
    const head = d.update(sealed.subarray(NONCE, sealed.length - TAG))
    const tail = d.final() // GCM releases everything in update: nothing to join
    return tail.length === 0 ? head : Buffer.concat([head, tail])
  } catch {
    throw cryptoErrors.decryptFailed(`${what} does not decrypt: wrong key, or altered (GCM tag mismatch)`)
  }
}
