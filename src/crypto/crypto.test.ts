import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { readVector } from '../testing.js'
import {
  canonicalJson,
  canonicalJsonOfUnescaped,
  didKeyFromEd25519,
  ed25519FromDidKey,
  ed25519FromSeed,
  generateEd25519,
  preAuthEncoding,
  signDsse,
  signEd25519,
  verifyDsse,
  verifyEd25519,
} from './index.js'

describe('RFC 8785 canonical JSON', () => {
  const v = readVector<{ cases: { name: string; input: string; output: string }[]; numbers: { ieee754: string; output: string }[]; invalid: { ieee754: string }[] }>('rfc8785.json')
  for (const c of v.cases) {
    it(c.name, () => assert.equal(canonicalJson(JSON.parse(c.input)), c.output))
  }
  it('Appendix B number samples', () => {
    for (const n of v.numbers) assert.equal(canonicalJson(Buffer.from(n.ieee754, 'hex').readDoubleBE(0)), n.output, n.ieee754)
  })
  it('refuses NaN, Infinity, lone surrogates, undefined and bigint', () => {
    for (const n of v.invalid) assert.throws(() => canonicalJson([Buffer.from(n.ieee754, 'hex').readDoubleBE(0)]), { code: 'CRYPTO_NOT_CANONICALIZABLE' })
    assert.throws(() => canonicalJson({ a: '\ud800' }), /lone surrogate/)
    assert.throws(() => canonicalJson(undefined), { code: 'CRYPTO_NOT_CANONICALIZABLE' })
    assert.throws(() => canonicalJson({ a: 1n }), { code: 'CRYPTO_NOT_CANONICALIZABLE' })
  })
  it('serialises long strings exactly as JSON.stringify does (property; the fast path starts above 1,024 code units)', () => {
    const unit = fc.constantFrom('a', 'Z', '0', '"', '\\', '\n', '\u0000', '\u001f', ' ', '\u007f', 'é', '€', '😀', '\u2028')
    fc.assert(
      fc.property(fc.string({ unit, minLength: 1000, maxLength: 1100 }), fc.boolean(), (s, plain) => {
        const text = plain ? s.replace(/["\\\u0000-\u001f]/g, 'x') : s
        assert.equal(canonicalJson(text), JSON.stringify(text))
        assert.equal(canonicalJson({ k: text }), `{"k":${JSON.stringify(text)}}`)
      }),
      { seed: 1717, numRuns: 300 },
    )
  })
  it('of a value parsed from text without a backslash, the unscanned serialiser agrees (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = JSON.stringify(value)
        if (text.includes('\\')) return
        assert.equal(canonicalJsonOfUnescaped(JSON.parse(text)), canonicalJson(value))
      }),
      { seed: 2718, numRuns: 1000 },
    )
  })
  it('is a fixed point and does not depend on member order (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const once = canonicalJson(value)
        assert.equal(canonicalJson(JSON.parse(once)), once)
        if (value && typeof value === 'object' && !Array.isArray(value)) {
          const reversed = Object.fromEntries(Object.entries(value).reverse())
          assert.equal(canonicalJson(reversed), once)
        }
      }),
      { seed: 8785, numRuns: 300 },
    )
  })
})

describe('Ed25519 (RFC 8032) and did:key', () => {
  const v = readVector<{ cases: { secretKey: string; publicKey: string; message: string; signature: string }[] }>('rfc8032-ed25519.json')
  for (const [i, c] of v.cases.entries()) {
    it(`RFC 8032 §7.1 TEST ${i + 1}`, () => {
      const pair = ed25519FromSeed(Buffer.from(c.secretKey, 'hex'))
      assert.equal(pair.publicKeyBytes.toString('hex'), c.publicKey)
      const sig = signEd25519(pair.privateKey, Buffer.from(c.message, 'hex'))
      assert.equal(sig.toString('hex'), c.signature)
      assert.ok(verifyEd25519(Buffer.from(c.publicKey, 'hex'), Buffer.from(c.message, 'hex'), sig))
      const bad = Buffer.from(sig)
      bad[0]! ^= 1
      assert.equal(verifyEd25519(Buffer.from(c.publicKey, 'hex'), Buffer.from(c.message, 'hex'), bad), false)
    })
  }
  it('did:key round-trips an Ed25519 key and starts with z6Mk', () => {
    const pair = generateEd25519()
    const did = didKeyFromEd25519(pair.publicKeyBytes)
    assert.match(did, /^did:key:z6Mk[1-9A-HJ-NP-Za-km-z]+$/)
    assert.deepEqual(Buffer.from(ed25519FromDidKey(did)), pair.publicKeyBytes)
    assert.throws(() => ed25519FromDidKey('did:key:zQ3s'), { code: 'CRYPTO_BAD_DID' })
    assert.throws(() => ed25519FromDidKey('did:web:example.com'), { code: 'CRYPTO_BAD_DID' })
  })
})

describe('DSSE envelopes', () => {
  it('pre-authentication encoding matches the DSSE protocol example', () => {
    assert.equal(preAuthEncoding('http://example.com/HelloWorld', Buffer.from('hello world')).toString(), 'DSSEv1 29 http://example.com/HelloWorld 11 hello world')
  })
  it('verifies its own signature and refuses an edited payload, type or signature', () => {
    const pair = generateEd25519()
    const env = signDsse('application/vnd.in-toto+json', Buffer.from('{"a":1}'), 'k', pair.privateKey)
    assert.equal(verifyDsse(env, pair.publicKeyBytes).toString(), '{"a":1}')
    assert.throws(() => verifyDsse({ ...env, payload: Buffer.from('{"a":2}').toString('base64') }, pair.publicKeyBytes), { code: 'CRYPTO_BAD_SIGNATURE' })
    assert.throws(() => verifyDsse({ ...env, payloadType: 'text/plain' }, pair.publicKeyBytes), { code: 'CRYPTO_BAD_SIGNATURE' })
    assert.throws(() => verifyDsse(env, generateEd25519().publicKeyBytes), { code: 'CRYPTO_BAD_SIGNATURE' })
    assert.throws(() => verifyDsse({} as never, pair.publicKeyBytes), { code: 'CRYPTO_BAD_ENVELOPE' })
  })
})
