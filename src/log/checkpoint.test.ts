import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { generateEd25519 } from '../crypto/index.js'
import { formatCheckpoint, isCheckpointSignatureValid, noteVerifierKey, openCheckpoint, signCheckpoint } from './index.js'

describe('C2SP signed checkpoints', () => {
  const key = generateEd25519()
  const c = { origin: 'example.com/log', treeSize: 42, rootHash: Buffer.alloc(32, 7) }
  const name = 'example.com/log'

  it('formats the three-line body of tlog-checkpoint', () => {
    assert.equal(formatCheckpoint(c), `example.com/log\n42\n${Buffer.alloc(32, 7).toString('base64')}\n`)
    assert.throws(() => formatCheckpoint({ ...c, origin: 'has space' }), { code: 'LOG_BAD_CHECKPOINT' })
  })

  it('signs a note that opens with the right key and fails with any other or when edited', () => {
    const { note, signature } = signCheckpoint(c, name, key.privateKey, key.publicKeyBytes)
    assert.match(note, /\n\n\u2014 example\.com\/log [A-Za-z0-9+/=]+\n$/)
    const opened = openCheckpoint(note, name, key.publicKeyBytes)
    assert.equal(opened.treeSize, 42)
    assert.ok(opened.rootHash.equals(c.rootHash))
    assert.ok(isCheckpointSignatureValid(c, key.publicKeyBytes, signature))
    assert.equal(isCheckpointSignatureValid({ ...c, treeSize: 43 }, key.publicKeyBytes, signature), false)
    assert.throws(() => openCheckpoint(note, name, generateEd25519().publicKeyBytes), { code: 'LOG_BAD_CHECKPOINT' })
    assert.throws(() => openCheckpoint(note.replace('\n42\n', '\n43\n'), name, key.publicKeyBytes), { code: 'LOG_BAD_CHECKPOINT' })
    assert.throws(() => openCheckpoint(note.replace('\n\n', '\n'), name, key.publicKeyBytes), { code: 'LOG_BAD_CHECKPOINT' })
  })

  it('names the verifier key as <name>+<key id>+<base64(0x01 ‖ key)>', () => {
    const vkey = noteVerifierKey(name, key.publicKeyBytes)
    // The base64 key may itself hold '+': split at the first two only.
    const [n, id] = vkey.split('+', 2)
    const k = vkey.slice(n!.length + id!.length + 2)
    assert.equal(n, name)
    assert.match(id!, /^[0-9a-f]{8}$/)
    assert.deepEqual(Buffer.from(k!, 'base64'), Buffer.concat([Buffer.of(1), key.publicKeyBytes]))
  })
})
