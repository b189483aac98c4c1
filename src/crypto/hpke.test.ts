import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { readVector } from '../testing.js'
import {
  contextExport,
  contextOpen,
  contextSeal,
  deriveX25519KeyPair,
  generateX25519,
  openWith,
  sealTo,
  setupBaseRecipient,
  setupBaseSender,
  type HpkeAead,
} from './index.js'

interface Vector {
  mode: number
  aead_id: HpkeAead
  info: string
  ikmR: string
  ikmE: string
  skRm: string
  skEm: string
  pkRm: string
  pkEm: string
  enc: string
  shared_secret: string
  key: string
  base_nonce: string
  exporter_secret: string
  encryptions: { aad: string; ciphertext: string; nonce: string; plaintext: string }[]
  exports: { exporter_context: string; L: number; exported_value: string }[]
}
const { vectors } = readVector<{ vectors: Vector[] }>('rfc9180-hpke.json')
const h = (s: string) => Buffer.from(s, 'hex')

describe('HPKE (RFC 9180) base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256', () => {
  for (const v of vectors) {
    it(`published vector, AEAD ${v.aead_id === 2 ? 'AES-256-GCM' : 'AES-128-GCM'}: keys, shared secret, schedule, seal, open, export`, () => {
      const kpR = deriveX25519KeyPair(h(v.ikmR))
      const kpE = deriveX25519KeyPair(h(v.ikmE))
      assert.equal(kpR.privateKey.toString('hex'), v.skRm)
      assert.equal(kpR.publicKey.toString('hex'), v.pkRm)
      assert.equal(kpE.privateKey.toString('hex'), v.skEm)
      assert.equal(kpE.publicKey.toString('hex'), v.pkEm)
      const { enc, context, sharedSecret } = setupBaseSender(kpR.publicKey, h(v.info), v.aead_id, kpE)
      assert.equal(enc.toString('hex'), v.enc)
      assert.equal(sharedSecret.toString('hex'), v.shared_secret)
      assert.equal(context.key.toString('hex'), v.key)
      assert.equal(context.baseNonce.toString('hex'), v.base_nonce)
      assert.equal(context.exporterSecret.toString('hex'), v.exporter_secret)
      const receiver = setupBaseRecipient(enc, kpR.privateKey, h(v.info), v.aead_id)
      assert.ok(receiver.key.equals(context.key))
      for (const e of v.encryptions) {
        // The sequence number is the XOR of this nonce and the base nonce.
        const seq = Number(BigInt(`0x${e.nonce}`) ^ BigInt(`0x${v.base_nonce}`))
        assert.equal(contextSeal(context, h(e.aad), h(e.plaintext), seq).toString('hex'), e.ciphertext, `seal #${seq}`)
        assert.equal(contextOpen(receiver, h(e.aad), h(e.ciphertext), seq).toString('hex'), e.plaintext, `open #${seq}`)
      }
      for (const x of v.exports) assert.equal(contextExport(context, h(x.exporter_context), x.L).toString('hex'), x.exported_value)
    })
  }

  it('seals to a key that only its private half opens; any change to enc, ciphertext, info or aad fails', () => {
    const alice = generateX25519()
    const sealed = sealTo(alice.publicKey, Buffer.from('provena/grant/v1'), Buffer.from('dataset-1'), Buffer.from('data key'))
    assert.equal(openWith(alice.privateKey, Buffer.from('provena/grant/v1'), Buffer.from('dataset-1'), sealed).toString(), 'data key')
    const fails = (fn: () => unknown) => assert.throws(fn, { code: 'CRYPTO_DECRYPT_FAILED' })
    fails(() => openWith(generateX25519().privateKey, Buffer.from('provena/grant/v1'), Buffer.from('dataset-1'), sealed))
    fails(() => openWith(alice.privateKey, Buffer.from('provena/grant/v2'), Buffer.from('dataset-1'), sealed))
    fails(() => openWith(alice.privateKey, Buffer.from('provena/grant/v1'), Buffer.from('dataset-2'), sealed))
    for (const at of [0, 40, sealed.length - 1]) {
      const bad = Buffer.from(sealed)
      bad[at]! ^= 1
      assert.throws(() => openWith(alice.privateKey, Buffer.from('provena/grant/v1'), Buffer.from('dataset-1'), bad))
    }
  })
})
