import assert from 'node:assert/strict'
import { randomBytes, scryptSync } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { aeadSeal, didKeyFromEd25519, ed25519Seed, generateEd25519, generateX25519, signEd25519, verifyEd25519, ed25519FromDidKey } from '../crypto/index.js'
import type { ProvenaError } from '../errors.js'
import type { KeystoreFile } from './keystore.js'
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

describe('keystore public fields are authenticated (issue 12, attack 5)', () => {
  const PASS = 'correct horse'
  const edit = (dir: string, change: (file: KeystoreFile) => void) => {
    const file = JSON.parse(readFileSync(keystorePath(dir), 'utf8')) as KeystoreFile
    change(file)
    writeFileSync(keystorePath(dir), JSON.stringify(file))
  }
  const fresh = () => {
    const dir = mkdtempSync(join(tmpdir(), 'provena-ids-'))
    mkdirSync(join(dir, 'keys'))
    const controller = createIdentity(dir, 'st-mary', 'controller', PASS)
    createIdentity(dir, 'lab', 'processor', PASS)
    return { dir, controller }
  }

  it("refuses to unlock after a grantee's address was changed to the controller's, naming the identity and field", () => {
    const { dir, controller } = fresh()
    edit(dir, (f) => (f.entries.lab!.public.address = controller.address))
    for (const who of ['lab', 'st-mary']) {
      assert.throws(() => unlockIdentity(dir, who, PASS), (e: ProvenaError) => {
        assert.equal(e.code, 'ACCESS_KEYSTORE_TAMPERED')
        assert.match(e.message, /field "address" of identity "lab"/)
        return true
      })
    }
  })

  it('refuses an edited role, DID, X25519 key or name', () => {
    for (const [field, value] of [['role', 'controller'], ['did', 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK'], ['x25519PublicKey', '00'.repeat(32)], ['name', 'st-mary']] as const) {
      const { dir } = fresh()
      edit(dir, (f) => (f.entries.lab!.public[field] = value))
      assert.throws(() => unlockIdentity(dir, 'st-mary', PASS), { code: 'ACCESS_KEYSTORE_TAMPERED', message: new RegExp(`field "${field}" of identity "lab"`) })
    }
  })

  it('refuses an entry relabelled as v1 (downgrade)', () => {
    const { dir } = fresh()
    edit(dir, (f) => delete f.entries.lab!.v)
    assert.throws(() => unlockIdentity(dir, 'st-mary', PASS), { code: 'ACCESS_KEYSTORE_TAMPERED', message: /identity "lab" does not open/ })
  })

  it('seals new keystores with scrypt N >= 2^17', () => {
    const { dir } = fresh()
    const file = JSON.parse(readFileSync(keystorePath(dir), 'utf8')) as KeystoreFile
    assert.ok(file.kdf.N >= 2 ** 17, `N = ${file.kdf.N}`)
    assert.ok(Object.values(file.entries).every((e) => e.v === 2))
  })

  it('PROVENA_LIGHT_KDF=1 (throwaway dirs) seals with N = 2^12; the first unlock without it re-seals with N = 2^17', () => {
    process.env.PROVENA_LIGHT_KDF = '1'
    let dir: string
    try {
      dir = fresh().dir
      assert.equal((JSON.parse(readFileSync(keystorePath(dir), 'utf8')) as KeystoreFile).kdf.N, 2 ** 12)
      unlockIdentity(dir, 'st-mary', PASS)
      assert.equal((JSON.parse(readFileSync(keystorePath(dir), 'utf8')) as KeystoreFile).kdf.N, 2 ** 12, 'light stays light while the variable is set')
    } finally {
      delete process.env.PROVENA_LIGHT_KDF
    }
    const address = unlockIdentity(dir, 'st-mary', PASS).address
    assert.equal((JSON.parse(readFileSync(keystorePath(dir), 'utf8')) as KeystoreFile).kdf.N, 2 ** 17)
    assert.equal(unlockIdentity(dir, 'st-mary', PASS).address, address)
  })

  // A keystore as the code before issue 12 wrote it: N = 2^15, secrets sealed alone.
  const writeV1 = (dir: string, edit?: (pub: Record<string, unknown>) => void) => {
    const salt = randomBytes(16)
    const kek = scryptSync(PASS, salt, 32, { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 2 ** 20 })
    const evm = generatePrivateKey()
    const signing = generateEd25519()
    const x = generateX25519()
    const pub: Record<string, unknown> = { name: 'old', role: 'controller', did: didKeyFromEd25519(signing.publicKeyBytes), x25519PublicKey: x.publicKey.toString('hex'), address: privateKeyToAccount(evm).address, createdAt: '2026-01-01T00:00:00.000Z' }
    edit?.(pub)
    const secrets = { ed25519Seed: ed25519Seed(signing.privateKey).toString('hex'), x25519: x.privateKey.toString('hex'), evm }
    const file = {
      format: 'provena.keystore/v1',
      kdf: { name: 'scrypt', N: 2 ** 15, r: 8, p: 1, salt: salt.toString('base64') },
      check: aeadSeal(kek, Buffer.from('provena keystore v1'), Buffer.from('check')).toString('base64'),
      entries: { old: { public: pub, sealed: aeadSeal(kek, Buffer.from(JSON.stringify(secrets)), Buffer.from('entry:old')).toString('base64') } },
    }
    writeFileSync(keystorePath(dir), JSON.stringify(file))
    return pub
  }

  it('opens a keystore written before (v1 entries, N = 2^15) and re-seals it as v2 with N = 2^17 at unlock', () => {
    const dir = mkdtempSync(join(tmpdir(), 'provena-ids-'))
    mkdirSync(join(dir, 'keys'))
    const pub = writeV1(dir)
    assert.equal(unlockIdentity(dir, 'old', PASS).address, pub.address)
    const file = JSON.parse(readFileSync(keystorePath(dir), 'utf8')) as KeystoreFile
    assert.equal(file.kdf.N, 2 ** 17)
    assert.equal(file.entries.old!.v, 2)
    assert.equal(unlockIdentity(dir, 'old', PASS).address, pub.address)
    assert.throws(() => unlockIdentity(dir, 'old', 'wrong horse'), { code: 'ACCESS_WRONG_PASSPHRASE' })
  })

  it('refuses a v1 entry whose address was edited (derived from its EVM key)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'provena-ids-'))
    mkdirSync(join(dir, 'keys'))
    writeV1(dir, (pub) => (pub.address = privateKeyToAccount(generatePrivateKey()).address))
    assert.throws(() => unlockIdentity(dir, 'old', PASS), { code: 'ACCESS_KEYSTORE_TAMPERED', message: /field "address" of identity "old"/ })
  })
})
