import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Aes256Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from '@hpke/core'
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
  encryptions: { aad: string; ct: string; nonce: string; pt: string }[]
  exports: { exporter_context: string; L: number; exported_value: string }[]
}
const { vectors } = readVector<{ vectors: Vector[] }>('rfc9180-hpke.json')
const h = (s: string) => Buffer.from(s, 'hex')

describe('HPKE (RFC 9180) base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256', () => {
  it("the vector file is RFC 9180's own: Appendix A.1.1's values, not a draft's", () => {
    // Printed in RFC 9180 Appendix A.1.1 (DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM).
    const a11 = vectors.find((v) => v.aead_id === 1)
    assert.ok(a11, 'an AES-128-GCM vector')
    assert.equal(a11.pkEm, '37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431')
    assert.equal(a11.shared_secret, 'fe0e18c9f024ce43799ae393c7e8fe8fce9d218875e8227b0187c04e7d2ea1fc')
    assert.equal(a11.exporter_secret, '45ff1c2e220db587171952c0592d5f5ebe103f1561a2614e38f2ffd47e99e3f8')
    assert.deepEqual(vectors.map((v) => v.aead_id).sort(), [1, 2])
  })

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
        assert.equal(contextSeal(context, h(e.aad), h(e.pt), seq).toString('hex'), e.ct, `seal #${seq}`)
        assert.equal(contextOpen(receiver, h(e.aad), h(e.ct), seq).toString('hex'), e.pt, `open #${seq}`)
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

  describe('interoperates with an independent implementation (@hpke/core)', () => {
    const suite = new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Aes256Gcm() })
    const info = Buffer.from('provena/grant/v1')
    const aad = Buffer.from('dataset-1')
    const plaintext = Buffer.from('a 32-byte data key, or any bytes')

    it('what we seal, @hpke/core opens', async () => {
      const kp = await suite.kem.deriveKeyPair(new Uint8Array(32).fill(7))
      const publicKey = Buffer.from(await suite.kem.serializePublicKey(kp.publicKey))
      const sealed = sealTo(publicKey, info, aad, plaintext)
      const recipient = await suite.createRecipientContext({ recipientKey: kp.privateKey, enc: sealed.subarray(0, 32), info })
      assert.equal(Buffer.from(await recipient.open(sealed.subarray(32), aad)).toString(), plaintext.toString())
    })

    it('what @hpke/core seals, we open', async () => {
      const ours = generateX25519()
      const sender = await suite.createSenderContext({ recipientPublicKey: await suite.kem.deserializePublicKey(ours.publicKey), info })
      const ct = Buffer.from(await sender.seal(plaintext, aad))
      const sealed = Buffer.concat([Buffer.from(sender.enc), ct])
      assert.equal(openWith(ours.privateKey, info, aad, sealed).toString(), plaintext.toString())
      assert.throws(() => openWith(ours.privateKey, info, Buffer.from('dataset-2'), sealed), { code: 'CRYPTO_DECRYPT_FAILED' })
    })
  })
})
