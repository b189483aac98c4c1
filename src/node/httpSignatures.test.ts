import assert from 'node:assert/strict'
import { createPublicKey } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { httpbis, createSigner, createVerifier } from 'http-message-signatures'
import { didKeyFromEd25519, ed25519FromDidKey, generateEd25519, verifyEd25519 } from '../crypto/index.js'
import { openDatabase } from '../db/index.js'
import { isProvenaError } from '../errors.js'
import { readVector } from '../testing.js'
import { contentDigest, dbNonceTable, memoryNonceTable, parseSignatureInput, seenNonceIn, SIGNATURE_ERRORS, signatureBase, signRequest, verifyRequest, type SignableRequest, type VerifyRequestOptions } from './index.js'

interface B26 {
  publicKeyPem: string
  privateKeyPem: string
  request: { method: string; url: string; headers: Record<string, string>; body: string }
  signatureInput: string
  signatureBase: string
  signature: string
}

const member = () => {
  const signing = generateEd25519()
  const did = didKeyFromEd25519(signing.publicKeyBytes)
  return { did, signing, key: { keyId: did, privateKey: signing.privateKey } }
}

const lab = member()
const stranger = member()
const NOW = Date.parse('2026-12-02T05:00:00Z')
const T0 = NOW / 1000
const URL_ = 'http://127.0.0.1:8080/datasets/ab12/export?purpose=dpv%3AScientificResearch'
const BODY = JSON.stringify({ purpose: 'dpv:ScientificResearch', records: [1, 2, 3] })

/** A signed request as the receiver gets it. */
const signed = (o: { method?: string; url?: string; body?: string | undefined; headers?: Record<string, string>; created?: number; expires?: number; nonce?: string; key?: typeof lab.key } = {}): SignableRequest => {
  const req = { method: o.method ?? 'POST', url: o.url ?? URL_, headers: o.headers ?? { 'content-type': 'application/json' }, body: 'body' in o ? o.body : BODY }
  const headers = signRequest(req, o.key ?? lab.key, { created: o.created ?? T0, ...(o.expires === undefined ? {} : { expires: o.expires }), ...(o.nonce === undefined ? {} : { nonce: o.nonce }) })
  return { ...req, headers }
}

const opts = (o: Partial<VerifyRequestOptions> = {}): VerifyRequestOptions => {
  const nonces = memoryNonceTable()
  return { resolveKey: (id) => (id === lab.did ? lab.signing.publicKeyBytes : undefined), seenNonce: seenNonceIn(nonces, () => NOW), now: NOW, ...o }
}

const refused = (req: SignableRequest, code: string, message: RegExp, o: Partial<VerifyRequestOptions> = {}) =>
  assert.throws(
    () => verifyRequest(req, opts(o)),
    (e: unknown) => {
      assert.ok(isProvenaError(e), String(e))
      assert.equal(e.code, code, e.message)
      assert.match(e.message, message)
      return true
    },
  )

describe('RFC 9421 HTTP Message Signatures between nodes (issue 13)', () => {
  it('reproduces RFC 9421 Appendix B.2.6 (ed25519): the signature base, and verifies the published signature', () => {
    const v = readVector<B26>('rfc9421-b26.json')
    const inputs = parseSignatureInput(v.signatureInput)
    assert.deepEqual([...inputs.keys()], ['sig-b26'])
    const input = inputs.get('sig-b26')!
    assert.deepEqual(input.components, ['date', '@method', '@path', '@authority', 'content-type', 'content-length'])
    const base = signatureBase(v.request, input)
    assert.equal(base, v.signatureBase)
    const publicKey = createPublicKey(v.publicKeyPem).export({ format: 'jwk' }).x!
    const sig = Buffer.from(/^sig-b26=:(.*):$/.exec(v.signature)![1]!, 'base64')
    assert.ok(verifyEd25519(Buffer.from(publicKey, 'base64url'), Buffer.from(base), sig), 'the published signature verifies over our base')
    assert.ok(!verifyEd25519(Buffer.from(publicKey, 'base64url'), Buffer.from(base.replace('/foo', '/fop')), sig))
    // Our verifier takes it no further: it is not tagged "provena", and covers no @target-uri.
    refused({ ...v.request, headers: { ...v.request.headers, 'Signature-Input': v.signatureInput, Signature: v.signature } }, SIGNATURE_ERRORS.missing, /no signature tagged "provena" \(labels: sig-b26\)/)
  })

  it('signs what the RFC says: label sig1, @method @target-uri content-digest content-type, created expires nonce keyid alg tag', () => {
    const req = signed({ nonce: 'n-0123456789abcdef' })
    assert.equal(req.headers['content-digest'], contentDigest(BODY))
    assert.equal(contentDigest('{"hello": "world"}'), 'sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:', 'RFC 9530 §2 example')
    assert.equal(
      req.headers['signature-input'],
      `sig1=("@method" "@target-uri" "content-digest" "content-type");created=${T0};expires=${T0 + 60};nonce="n-0123456789abcdef";keyid="${lab.did}";alg="ed25519";tag="provena"`,
    )
    assert.match(String(req.headers.signature), /^sig1=:[A-Za-z0-9+/]{86}==:$/)
    const ok = verifyRequest(req, opts())
    assert.deepEqual(ok, { keyId: lab.did, created: T0, expires: T0 + 60, nonce: 'n-0123456789abcdef', components: ['@method', '@target-uri', 'content-digest', 'content-type'] })
    // No body: no content-digest; no content-type header: not covered.
    const get = signed({ method: 'GET', body: undefined, headers: {} })
    assert.equal(get.headers['content-digest'], undefined)
    assert.deepEqual(verifyRequest(get, opts()).components, ['@method', '@target-uri'])
  })

  it('interoperates with http-message-signatures (D. Hensby): ours verified by it, its signature verified by us', async () => {
    const now = Date.now()
    const pem = lab.signing.publicKey.export({ format: 'pem', type: 'spki' })
    // Ours, checked by it (its clock is the real one).
    const ours = signed({ created: Math.floor(now / 1000) })
    const verified = await httpbis.verifyMessage(
      {
        keyLookup: async (params) => (params.keyid === lab.did ? { id: lab.did, algs: ['ed25519'], verify: createVerifier(pem, 'ed25519') } : null),
        requiredFields: ['@method', '@target-uri', 'content-digest', 'content-type'],
        requiredParams: ['created', 'expires', 'nonce', 'keyid', 'alg', 'tag'],
      },
      { method: ours.method, url: ours.url, headers: ours.headers as Record<string, string> },
    )
    assert.equal(verified, true)
    const altered = await httpbis
      .verifyMessage(
        { keyLookup: async () => ({ id: lab.did, algs: ['ed25519'], verify: createVerifier(pem, 'ed25519') }) },
        { method: ours.method, url: ours.url.replace('ab12', 'ab13'), headers: ours.headers as Record<string, string> },
      )
      .catch(() => false)
    assert.equal(altered, false, 'it refuses ours once the target changed')

    // Its, checked by us.
    const headers = { 'content-type': 'application/json', 'content-digest': contentDigest(BODY) }
    const theirs = await httpbis.signMessage(
      {
        key: createSigner(lab.signing.privateKey, 'ed25519', lab.did),
        name: 'sig1',
        fields: ['@method', '@target-uri', 'content-digest', 'content-type'],
        params: ['created', 'expires', 'nonce', 'keyid', 'alg', 'tag'],
        paramValues: { created: new Date(now), expires: new Date(now + 60_000), nonce: 'their-nonce-0123456789', tag: 'provena' },
      },
      { method: 'POST', url: URL_, headers },
    )
    const got = verifyRequest({ method: 'POST', url: URL_, headers: theirs.headers, body: BODY }, opts({ now }))
    assert.deepEqual([got.keyId, got.nonce, got.expires - got.created], [lab.did, 'their-nonce-0123456789', 60])
    refused({ method: 'POST', url: URL_, headers: theirs.headers, body: BODY + ' ' }, SIGNATURE_ERRORS.digestMismatch, /does not match its Content-Digest/, { now })
  })

  it('refuses each failure with its own code and a message naming it', () => {
    const req = signed()
    const h = req.headers as Record<string, string>
    const without = (name: string) => Object.fromEntries(Object.entries(h).filter(([k]) => k !== name))
    refused({ ...req, headers: without('signature') }, SIGNATURE_ERRORS.missing, /not signed: no Signature header/)
    refused({ ...req, headers: without('signature-input') }, SIGNATURE_ERRORS.missing, /not signed: no Signature-Input header/)
    refused({ ...req, headers: { ...h, 'signature-input': h['signature-input']!.replace('sig1=(', 'sig1=(("') } }, SIGNATURE_ERRORS.malformed, /Signature-Input is not an RFC 8941 dictionary: unexpected "\(" where an item starts at character 7/)
    refused({ ...req, headers: { ...h, signature: 'sig1=:AAAA' } }, SIGNATURE_ERRORS.malformed, /Signature is not an RFC 8941 dictionary: a byte sequence without its closing ":"/)
    refused({ ...req, headers: { ...h, signature: 'sig1=:AAF=:' } }, SIGNATURE_ERRORS.malformed, /not canonical padded base64/)
    refused({ ...req, headers: { ...h, signature: 'sig1=:AAE:' } }, SIGNATURE_ERRORS.malformed, /not canonical padded base64/)
    refused({ ...req, headers: { ...h, signature: 'sig2=:AAAA:' } }, SIGNATURE_ERRORS.malformed, /Signature has no "sig1"/)
    refused({ ...req, headers: { ...h, signature: 'sig1=:AAAA:' } }, SIGNATURE_ERRORS.malformed, /is 3 bytes, an Ed25519 signature is 64/)
    refused({ ...req, headers: { ...h, 'signature-input': h['signature-input']!.replace(/;created=\d+/, '') } }, SIGNATURE_ERRORS.malformed, /sig1 has no "created" parameter/)
    refused({ ...req, headers: { ...h, 'signature-input': h['signature-input']!.replace(/;nonce="[^"]*"/, ';nonce=1') } }, SIGNATURE_ERRORS.malformed, /sig1's "nonce" is not a string/)
    refused({ ...req, headers: { ...h, 'signature-input': h['signature-input']!.replace('"@method"', '"@method";req') } }, SIGNATURE_ERRORS.malformed, /component "@method" the parameter ;req/)
    refused({ ...req, headers: { ...h, 'signature-input': h['signature-input']!.replace('"content-type"', '"@method"') } }, SIGNATURE_ERRORS.malformed, /lists the component "@method" twice/)
    refused({ ...req, headers: { ...h, 'signature-input': h['signature-input']!.replace('alg="ed25519"', 'alg="rsa-pss-sha512"') } }, SIGNATURE_ERRORS.badAlgorithm, /alg is "rsa-pss-sha512"; only "ed25519"/)
    refused({ ...req, headers: { ...h, 'signature-input': h['signature-input']!.replace('tag="provena"', 'tag="web-bot-auth"') } }, SIGNATURE_ERRORS.missing, /no signature tagged "provena" \(labels: sig1\)/)
    refused({ ...req, headers: { ...h, 'signature-input': `${h['signature-input']}, sig2=${h['signature-input']!.slice(5)}` } }, SIGNATURE_ERRORS.malformed, /2 signatures are tagged "provena" \(sig1, sig2\); one is expected/)
    refused({ ...req, headers: { ...h, 'signature-input': `${h['signature-input']}, sig1=("@method")` } }, SIGNATURE_ERRORS.malformed, /the key "sig1" is repeated/)
    refused({ ...req, headers: { ...h, 'signature-input': h['signature-input']!.replace(';alg=', ';created=1;alg=') } }, SIGNATURE_ERRORS.malformed, /the parameter "created" is repeated/)
    refused({ ...req, headers: { ...h, 'signature-input': `${h['signature-input']}, x=("${'a'.repeat(8192)}")` } }, SIGNATURE_ERRORS.malformed, /Signature-Input: \d+ characters, more than 8192/)
    const many = Array.from({ length: 33 }, (_, i) => `"x-h${i}"`).join(' ')
    refused({ ...req, headers: { ...h, 'signature-input': h['signature-input']!.replace('"content-type"', `"content-type" ${many}`) } }, SIGNATURE_ERRORS.malformed, /covers 37 components, more than 32/)
    refused({ ...req, method: 'POST\n"@target-uri": http://elsewhere/' }, SIGNATURE_ERRORS.malformed, /the component "@method" holds a line break/)
    refused({ ...req, headers: { ...h, 'signature-input': h['signature-input']!.replace('"content-type"', '"content-type" "x-trace"') } }, SIGNATURE_ERRORS.malformed, /covers "x-trace", which the request does not carry/)
    refused({ ...req, headers: { ...h, 'signature-input': h['signature-input']!.replace('"content-type"', '"content-type" "@status"') } }, SIGNATURE_ERRORS.malformed, /derived component "@status", which is not supported/)
    refused({ ...req, headers: { ...h, 'content-digest': 'sha-512=:AAAA:' } }, SIGNATURE_ERRORS.badSignature, /bad signature/)
    // A signature that leaves out what we require, though valid.
    const noDigest = signed({ body: undefined })
    refused({ ...noDigest, body: BODY }, SIGNATURE_ERRORS.notCovered, /does not cover "content-digest"/)
    const noType = signed({ headers: {} })
    refused({ ...noType, headers: { ...noType.headers, 'content-type': 'text/plain' } }, SIGNATURE_ERRORS.notCovered, /does not cover "content-type"/)
    refused(req, SIGNATURE_ERRORS.wrongTarget, /the request is for http:\/\/127.0.0.1:8080, not this node \(http:\/\/127.0.0.1:9090\)/, { origins: ['http://127.0.0.1:9090'] })
    assert.equal(verifyRequest(signed(), opts({ origins: ['http://127.0.0.1:9090', 'http://127.0.0.1:8080'] })).keyId, lab.did)
    refused(signed({ created: T0 + 61 }), SIGNATURE_ERRORS.notYetValid, /created at 2026-12-02T05:01:01.000Z, more than 60 s ahead/)
    assert.equal(verifyRequest(signed({ created: T0 + 59 }), opts()).keyId, lab.did, '59 s of skew are tolerated')
    refused(signed({ key: stranger.key }), SIGNATURE_ERRORS.unknownKey, new RegExp(`unknown key: ${stranger.did} is not a member's key`))
    // The stranger signs but claims the lab's keyid.
    const forged = signed({ key: { keyId: lab.did, privateKey: stranger.signing.privateKey } })
    refused(forged, SIGNATURE_ERRORS.badSignature, /bad signature: sig1 is not a signature by did:key:/)
    refused({ ...req, url: req.url.replace('export', 'erase') }, SIGNATURE_ERRORS.badSignature, /bad signature/)
    refused({ ...req, method: 'PUT' }, SIGNATURE_ERRORS.badSignature, /bad signature/)
    refused({ ...req, body: BODY.replace('1', '7') }, SIGNATURE_ERRORS.digestMismatch, /the body \(\d+ bytes\) does not match its Content-Digest: sha-256 is/)
    refused({ ...req, body: undefined }, SIGNATURE_ERRORS.digestMismatch, /the body \(0 bytes\)/)
  })

  it('refuses an expired signature: past its expires, or older than the maximum age whatever its expires', () => {
    refused(signed({ created: T0 - 61 }), SIGNATURE_ERRORS.expired, /expired: the signature was valid until 2026-12-02T04:59:59.000Z/)
    assert.equal(verifyRequest(signed({ created: T0 - 59 }), opts()).keyId, lab.did)
    refused(signed({ created: T0 - 301, expires: T0 + 3600 }), SIGNATURE_ERRORS.expired, /created at 2026-12-02T04:54:59.000Z, more than 300 s ago/)
    refused(signed({ created: T0 - 31, expires: T0 + 3600 }), SIGNATURE_ERRORS.expired, /more than 30 s ago/, { maxAgeSeconds: 30 })
    refused(signed({ expires: T0 }), SIGNATURE_ERRORS.malformed, /expires \(\d+\) before it is created/)
  })

  it('refuses a replay: the same signed request twice, also from the node database (node_seen_nonces), which keeps the nonce until the signature expires', () => {
    const req = signed()
    const o = opts()
    verifyRequest(req, o)
    refused(req, SIGNATURE_ERRORS.replayed, new RegExp(`replayed nonce: ${lab.did} sent a request with nonce`), { seenNonce: o.seenNonce })
    // A refused request does not burn its nonce: checks before the nonce fail first.
    const o2 = opts()
    refused({ ...req, body: BODY + 'x' }, SIGNATURE_ERRORS.digestMismatch, /Content-Digest/, { seenNonce: o2.seenNonce })
    assert.equal(verifyRequest(req, o2).keyId, lab.did)

    const db = openDatabase(join(mkdtempSync(join(tmpdir(), 'provena-sig-')), 'node.db'))
    try {
      const seenNonce = seenNonceIn(dbNonceTable(db), () => NOW)
      const first = signed()
      const { nonce } = verifyRequest(first, opts({ seenNonce }))
      refused(first, SIGNATURE_ERRORS.replayed, /replayed nonce/, { seenNonce })
      assert.deepEqual(db.prepare('SELECT sender, nonce, expires_at FROM node_seen_nonces').all(), [{ sender: lab.did, nonce, expires_at: (T0 + 60) * 1000 }])
      // A long-lived signature is kept no longer than the maximum age (300 s): it is refused as expired after that anyway.
      const long = verifyRequest(signed({ expires: T0 + 86_400 }), opts({ seenNonce }))
      assert.deepEqual(db.prepare('SELECT expires_at FROM node_seen_nonces WHERE nonce = ?').pluck().get(long.nonce), (T0 + 300) * 1000)
    } finally {
      db.close()
    }
  })

  it('property: any single-byte change to the method, target, a covered header, the body, Signature-Input or Signature fails verification', () => {
    const fields = ['method', 'url', 'content-type', 'content-digest', 'body', 'signature-input', 'signature'] as const
    fc.assert(
      fc.property(fc.constantFrom(...fields), fc.nat(), fc.integer({ min: 0x20, max: 0x7e }), fc.string({ minLength: 0, maxLength: 40 }), (field, at, byte, text) => {
        const body = JSON.stringify({ text })
        const req = signed({ body })
        assert.equal(verifyRequest(req, opts()).keyId, lab.did, 'the request as signed verifies')
        const headers = { ...(req.headers as Record<string, string>) }
        const value = field === 'method' ? req.method : field === 'url' ? req.url : field === 'body' ? body : headers[field]!
        const i = at % value.length
        if (value.charCodeAt(i) === byte) return
        const changed = value.slice(0, i) + String.fromCharCode(byte) + value.slice(i + 1)
        const altered: SignableRequest =
          field === 'method' ? { ...req, method: changed } : field === 'url' ? { ...req, url: changed } : field === 'body' ? { ...req, body: changed } : { ...req, headers: { ...headers, [field]: changed } }
        assert.throws(
          () => verifyRequest(altered, opts()),
          (e: unknown) => isProvenaError(e) && (Object.values(SIGNATURE_ERRORS) as string[]).includes(e.code),
          `${field}[${i}] = ${JSON.stringify(String.fromCharCode(byte))} was accepted`,
        )
      }),
      { seed: 13, numRuns: 700 },
    )
  })

  it('signRequest replaces earlier signature headers and covers the key it is given (did:key of the member)', () => {
    const req = signed()
    const again = signRequest({ ...req, headers: { ...req.headers, Signature: 'old=:AAAA:' } }, lab.key, { created: T0 })
    assert.equal(Object.keys(again).filter((k) => k.toLowerCase() === 'signature').length, 1)
    assert.deepEqual(ed25519FromDidKey(verifyRequest({ ...req, headers: again }, opts()).keyId), new Uint8Array(lab.signing.publicKeyBytes))
  })
})
