import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { ed25519Seed, signEd25519, verifyEd25519, ed25519FromDidKey } from '../crypto/index.js'
import { createIdentity, findIdentity, keystorePath, listIdentities, unlockIdentity } from './index.js'

describe('identities in a passphrase-sealed keystore', () => {
  const dir = mkdtempSync(join(tmpdir(), 'provena-ids-'))
  mkdirSync(join(dir, 'keys'))

  it('creates identities whose secrets unlock only with the passphrase, and lists them without it', () => {
    const a = createIdentity(dir, 'st-mary', 'controller', 'correct horse')
    createIdentity(dir, 'trainer-1', 'trainer', 'correct horse')
    assert.match(a.did, /^did:key:z6Mk/)
    assert.deepEqual(listIdentities(dir).map((i) => [i.name, i.role]), [['st-mary', 'controller'], ['trainer-1', 'trainer']])
    assert.equal(findIdentity(dir, a.did).name, 'st-mary')
    const u = unlockIdentity(dir, 'st-mary', 'correct horse')
    const sig = signEd25519(u.signing.privateKey, Buffer.from('x'))
    assert.ok(verifyEd25519(ed25519FromDidKey(a.did), Buffer.from('x'), sig))
    assert.throws(() => unlockIdentity(dir, 'st-mary', 'wrong horse'), { code: 'ACCESS_WRONG_PASSPHRASE' })
    assert.throws(() => createIdentity(dir, 'st-mary', 'controller', 'correct horse'), { code: 'ACCESS_DUPLICATE_IDENTITY' })
    assert.throws(() => createIdentity(dir, 'x', 'admin', 'correct horse'), { code: 'ACCESS_BAD_ROLE' })
    assert.throws(() => createIdentity(dir, 'has space', 'trainer', 'correct horse'), { code: 'ACCESS_BAD_NAME' })
    assert.throws(() => unlockIdentity(dir, 'nobody', 'correct horse'), { code: 'ACCESS_UNKNOWN_IDENTITY' })
  })

  it('the keystore file holds no key in clear (hex, base64 or raw)', () => {
    const text = readFileSync(keystorePath(dir), 'utf8')
    const raw = readFileSync(keystorePath(dir))
    for (const name of ['st-mary', 'trainer-1']) {
      const u = unlockIdentity(dir, name, 'correct horse')
      const secrets = [ed25519Seed(u.signing.privateKey), u.x25519PrivateKey, Buffer.from(u.evmPrivateKey.slice(2), 'hex')]
      for (const s of secrets) {
        for (const form of [s.toString('hex'), s.toString('base64'), s.toString('base64url'), s.toString('hex').toUpperCase()]) {
          assert.ok(!text.includes(form), `a ${s.length}-byte secret of ${name} appears in clear`)
        }
        assert.equal(raw.indexOf(s), -1)
      }
    }
  })
})
