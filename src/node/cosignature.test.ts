import assert from 'node:assert/strict'
import { createHash, verify } from 'node:crypto'
import { describe, it } from 'node:test'
import { ed25519PublicKey, generateEd25519 } from '../crypto/index.js'
import { noteKeyId } from '../log/index.js'
import {
  cosignatureKeyId,
  countCosigners,
  deriveWitnessKey,
  parseCosignatureLine,
  parseWitnessVerifierKey,
  signCosignature,
  verifyCosignature,
  witnessName,
  witnessVerifierKey,
  type WitnessKey,
} from './index.js'

function witness(name?: string): WitnessKey {
  const k = generateEd25519()
  return { name: name ?? witnessName(k.publicKeyBytes), publicKey: k.publicKeyBytes, privateKey: k.privateKey }
}

// The example of c2sp.org/tlog-cosignature ("Format").
const SPEC_BODY = 'example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n'
const SPEC_LINE = '— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA=='

describe('tlog-cosignature v1 (src/node/cosignature.ts)', () => {
  it("parses the spec's example line: name, 4-byte key id, timestamp 1679315147 (the spec's signed-message example), 64-byte signature", () => {
    const c = parseCosignatureLine(SPEC_LINE)
    assert.ok(c)
    assert.equal(c.name, 'witness.example.com/w1')
    assert.equal(c.keyId.toString('hex'), '8d66cf3f')
    assert.equal(c.timestamp, 1679315147)
    assert.equal(c.signature.length, 64)
  })

  it('signs the exact bytes "cosignature/v1\\ntime <T>\\n" ‖ body, checked with node:crypto over a message built by hand', () => {
    const w = witness('witness.example.com/w1')
    const line = signCosignature(SPEC_BODY, w, 1679315147)
    assert.ok(line.startsWith('— witness.example.com/w1 ') && line.endsWith('\n'))
    const raw = Buffer.from(line.trim().split(' ').at(-1)!, 'base64')
    assert.equal(raw.length, 4 + 8 + 64)
    // Key id: SHA-256(name ‖ "\n" ‖ 0x04 ‖ key)[:4], computed here without the module.
    const id = createHash('sha256').update('witness.example.com/w1\n').update(Buffer.of(0x04)).update(w.publicKey).digest().subarray(0, 4)
    assert.deepEqual(raw.subarray(0, 4), id)
    assert.deepEqual(cosignatureKeyId(w.name, w.publicKey), id)
    assert.notDeepEqual(id, noteKeyId(w.name, w.publicKey), 'a cosignature key id is not a log (0x01) key id')
    assert.equal(raw.readBigUInt64BE(4), 1679315147n)
    const message = Buffer.from(`cosignature/v1\ntime 1679315147\n${SPEC_BODY}`, 'utf8')
    assert.ok(verify(null, message, ed25519PublicKey(w.publicKey), raw.subarray(12)))
    assert.equal(verifyCosignature(SPEC_BODY, line, w), 1679315147)
  })

  it('a changed body, timestamp, name or key does not verify; a line by another key is ignored', () => {
    const w = witness()
    const line = signCosignature(SPEC_BODY, w, 1700000000)
    assert.equal(verifyCosignature(SPEC_BODY.replace('20852163', '20852164'), line, w), undefined)
    const raw = Buffer.from(line.trim().split(' ').at(-1)!, 'base64')
    raw.writeBigUInt64BE(1700000001n, 4)
    assert.equal(verifyCosignature(SPEC_BODY, `— ${w.name} ${raw.toString('base64')}`, w), undefined, 'timestamp is signed')
    const other = witness(w.name)
    assert.equal(verifyCosignature(SPEC_BODY, line, other), undefined, 'same name, other key')
    assert.equal(verifyCosignature(SPEC_BODY, line, { ...w, name: 'provena.witness/other' }), undefined, 'other name')
    assert.equal(verifyCosignature(SPEC_BODY, SPEC_LINE, w), undefined)
  })

  it('malformed lines parse to undefined (no dash, short, non-canonical base64, timestamp over 2^63 − 1)', () => {
    assert.equal(parseCosignatureLine(SPEC_LINE.slice(2)), undefined)
    assert.equal(parseCosignatureLine(SPEC_LINE.slice(0, -8)), undefined)
    assert.equal(parseCosignatureLine('— w AAAA'), undefined)
    const raw = Buffer.alloc(76)
    raw.writeBigUInt64BE(2n ** 63n, 4)
    assert.equal(parseCosignatureLine(`— w ${raw.toString('base64')}`), undefined)
  })

  it('vkeys: type 0x04 round-trips; a log (0x01) vkey or a wrong key id is not a witness key', () => {
    const w = witness()
    const vkey = witnessVerifierKey(w)
    const parsed = parseWitnessVerifierKey(vkey)
    assert.equal(parsed?.name, w.name)
    assert.deepEqual(parsed?.publicKey, w.publicKey)
    const logStyle = `${w.name}+${noteKeyId(w.name, w.publicKey).toString('hex')}+${Buffer.concat([Buffer.of(1), w.publicKey]).toString('base64')}`
    assert.equal(parseWitnessVerifierKey(logStyle), undefined)
    assert.equal(parseWitnessVerifierKey(vkey.replace(/\+[0-9a-f]{8}\+/, '+00000000+')), undefined)
  })

  it('the node witness key is derived from the operator key: stable, and not the operator key', () => {
    const op = generateEd25519()
    const a = deriveWitnessKey(op.privateKey)
    const b = deriveWitnessKey(op.privateKey)
    assert.deepEqual(a.publicKey, b.publicKey)
    assert.equal(a.name, witnessName(a.publicKey))
    assert.notDeepEqual(a.publicKey, op.publicKeyBytes)
    assert.match(a.name, /^provena\.witness\/[0-9a-f]{16}$/)
  })

  it('countCosigners counts distinct pinned keys with a valid line; unknown keys and repeats are not counted', () => {
    const [w1, w2, w3, stranger] = [witness(), witness(), witness(), witness()]
    const lines = [w1, w2, stranger].map((w) => signCosignature(SPEC_BODY, w, 1700000000).trim())
    lines.push(signCosignature(SPEC_BODY, w1, 1700000005).trim())
    assert.deepEqual(countCosigners(SPEC_BODY, lines, [w1, w2, w3]), { count: 2, names: [w1.name, w2.name] })
    assert.equal(countCosigners(SPEC_BODY, lines, [w1, w1, w2]).count, 2, 'a key listed twice is one witness')
    assert.equal(countCosigners(SPEC_BODY, lines, [w3]).count, 0)
  })
})
