import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { aeadOpen, aeadSeal } from './index.js'

describe('AES-256-GCM sealing', () => {
  it('round-trips, and any flipped bit, wrong key or wrong additional data fails naming the record (property)', () => {
    const key = randomBytes(32)
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 40 }), fc.nat(), (plain, aad, bit) => {
        const sealed = aeadSeal(key, plain, aad)
        assert.deepEqual(new Uint8Array(aeadOpen(key, sealed, aad)), plain)
        const bad = Buffer.from(sealed)
        bad[(bit >> 3) % bad.length]! ^= 1 << (bit & 7)
        assert.throws(() => aeadOpen(key, bad, aad, 'record 7 (line 8)'), (e: Error & { code?: string }) => e.code === 'CRYPTO_DECRYPT_FAILED' && /record 7 \(line 8\)/.test(e.message))
        assert.throws(() => aeadOpen(randomBytes(32), sealed, aad), { code: 'CRYPTO_DECRYPT_FAILED' })
        assert.throws(() => aeadOpen(key, sealed, Buffer.concat([aad, Buffer.of(1)])), { code: 'CRYPTO_DECRYPT_FAILED' })
      }),
      { seed: 3826, numRuns: 200 },
    )
  })
})
