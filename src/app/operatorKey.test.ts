// The operator key (log-signing Ed25519 seed, EVM key) is sealed in the keystore like the
// identities: never in clear in the data dir, refused with a wrong passphrase or an edited
// entry, and a clear keys/operator.json of an older data dir is sealed, then destroyed.
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { privateKeyToAccount } from 'viem/accounts'
import { createIdentity, kdfDerivations, keystorePath, unlockIdentity } from '../access/index.js'
import { ed25519FromSeed } from '../crypto/index.js'
import { isProvenaError } from '../errors.js'
import { clearOperatorKeyPath, initDataDir, openProvena, readOperatorPublic, unlockOperatorKeys } from './index.js'

const PASS = 'operator pw'

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]))
}

/** The files of `dir` that hold `secret` (32 bytes) raw, in hex (either case) or in base64 / base64url. */
function filesHolding(dir: string, secret: Buffer): string[] {
  const needles = [secret, Buffer.from(secret.toString('hex')), Buffer.from(secret.toString('hex').toUpperCase()), Buffer.from(secret.toString('base64').slice(0, 40)), Buffer.from(secret.toString('base64url').slice(0, 40))]
  return filesUnder(dir).filter((f) => {
    const bytes = readFileSync(f)
    return needles.some((n) => bytes.includes(n))
  })
}

const refusedWith = (code: string) => (e: unknown) => isProvenaError(e, code)

describe('the operator key at rest', () => {
  it('init seals it: neither the seed nor the EVM key is in any file of the data dir (raw, hex, base64)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'provena-opkey-'))
    initDataDir(dir, PASS)
    const p = openProvena(dir, { passphrase: PASS })
    p.log.append([Buffer.from('{"type":"test/v1"}')])
    const seed = Buffer.from(unlockOperatorKeys(dir, PASS).ed25519Seed, 'hex')
    const evm = Buffer.from(p.evmPrivateKey.slice(2), 'hex')
    // The keys unlocked are the data dir's: the log key and the EVM account it publishes.
    assert.ok(ed25519FromSeed(seed).publicKeyBytes.equals(p.signer.publicKey))
    assert.equal(privateKeyToAccount(p.evmPrivateKey).address, p.operatorAddress)
    p.close()
    assert.equal(existsSync(clearOperatorKeyPath(dir)), false, 'no keys/operator.json')
    assert.ok(filesUnder(dir).length >= 3)
    assert.deepEqual(filesHolding(dir, seed), [], 'the Ed25519 seed')
    assert.deepEqual(filesHolding(dir, evm), [], 'the EVM key')
    assert.equal(statSync(keystorePath(dir)).mode & 0o777, 0o600)
  })

  it('one scrypt derivation unlocks the operator key and the identities (the same keystore key)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'provena-opkey-'))
    const start = kdfDerivations()
    initDataDir(dir, PASS)
    createIdentity(dir, 'st-mary', 'controller', PASS)
    const p = openProvena(dir, { passphrase: PASS })
    assert.ok(p.signer.privateKey)
    assert.equal(unlockIdentity(dir, 'st-mary', PASS).role, 'controller')
    assert.ok(p.evmPrivateKey)
    p.close()
    assert.equal(kdfDerivations() - start, 1)
  })

  it('a wrong passphrase is refused (ACCESS_WRONG_PASSPHRASE) when the key is first used; reading needs none', () => {
    const dir = mkdtempSync(join(tmpdir(), 'provena-opkey-'))
    initDataDir(dir, PASS)
    const p = openProvena(dir, { passphrase: 'not it' })
    assert.match(p.operatorDid, /^did:key:z6Mk/)
    assert.match(p.signer.origin, /^provena\.log\/[0-9a-f]{16}$/)
    assert.throws(() => p.signer.privateKey, refusedWith('ACCESS_WRONG_PASSPHRASE'))
    assert.throws(() => p.evmPrivateKey, refusedWith('ACCESS_WRONG_PASSPHRASE'))
    p.close()
  })

  it('with no passphrase at all, using the key fails with ACCESS_NO_PASSPHRASE and a hint to set PROVENA_PASSPHRASE', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'provena-opkey-'))
    initDataDir(dir, PASS)
    const saved = process.env.PROVENA_PASSPHRASE
    delete process.env.PROVENA_PASSPHRASE
    try {
      const p = openProvena(dir)
      assert.throws(() => p.signer.privateKey, (e) => refusedWith('ACCESS_NO_PASSPHRASE')(e) && /PROVENA_PASSPHRASE/.test((e as { hint: string }).hint))
      await assert.rejects(p.unlock(), refusedWith('ACCESS_NO_PASSPHRASE'))
      p.close()
    } finally {
      if (saved !== undefined) process.env.PROVENA_PASSPHRASE = saved
    }
    assert.throws(() => initDataDir(mkdtempSync(join(tmpdir(), 'provena-opkey-')), undefined), refusedWith('ACCESS_NO_PASSPHRASE'))
  })

  it('an edited or damaged operator entry is refused (ACCESS_KEYSTORE_TAMPERED, naming the field)', () => {
    const cases: [string, (op: { public: Record<string, string>; sealed: string }) => void, string][] = [
      ['the public log key', (op) => (op.public.logKey = 'ab'.repeat(32)), 'logKey'],
      ['the public address', (op) => (op.public.address = privateKeyToAccount(`0x${'11'.repeat(32)}`).address), 'address'],
      ['one bit of the sealed bytes', (op) => {
        const b = Buffer.from(op.sealed, 'base64')
        b[b.length - 20]! ^= 1
        op.sealed = b.toString('base64')
      }, 'sealed'],
    ]
    for (const [what, edit, field] of cases) {
      const dir = mkdtempSync(join(tmpdir(), 'provena-opkey-'))
      initDataDir(dir, PASS)
      const file = JSON.parse(readFileSync(keystorePath(dir), 'utf8'))
      edit(file.operator)
      writeFileSync(keystorePath(dir), JSON.stringify(file))
      assert.throws(
        () => unlockOperatorKeys(dir, PASS),
        (e) => refusedWith('ACCESS_KEYSTORE_TAMPERED')(e) && (e as { details?: Record<string, unknown> }).details?.field === field && /operator key/.test((e as Error).message),
        what,
      )
    }
  })

  for (const withIdentity of [false, true]) {
    it(`a clear keys/operator.json of an older data dir (${withIdentity ? 'a keystore with an identity' : 'no keystore'}) is sealed at its first unlock, then overwritten and deleted`, () => {
      const dir = mkdtempSync(join(tmpdir(), 'provena-opkey-'))
      initDataDir(dir, PASS)
      // The layout before: the keys in clear; the keystore, if any, holds identities only.
      const keys = unlockOperatorKeys(dir, PASS)
      const before = readOperatorPublic(dir)
      writeFileSync(clearOperatorKeyPath(dir), JSON.stringify(keys, null, 2) + '\n', { mode: 0o600 })
      unlinkSync(keystorePath(dir))
      if (withIdentity) createIdentity(dir, 'st-mary', 'controller', PASS)
      // Reading works on it as before, without a passphrase, and changes nothing.
      const p = openProvena(dir, { passphrase: 'unused' })
      assert.ok(p.signer.publicKey.equals(before.logKey))
      assert.equal(p.operatorAddress, before.address)
      p.close()
      assert.ok(existsSync(clearOperatorKeyPath(dir)))
      assert.equal(existsSync(keystorePath(dir)) ? JSON.parse(readFileSync(keystorePath(dir), 'utf8')).operator : undefined, undefined)
      // The first unlock seals it and removes the clear file.
      const q = openProvena(dir, { passphrase: PASS })
      assert.equal(q.evmPrivateKey, keys.evmPrivateKey)
      q.close()
      assert.equal(existsSync(clearOperatorKeyPath(dir)), false, 'keys/operator.json is gone')
      assert.deepEqual(filesHolding(dir, Buffer.from(keys.ed25519Seed, 'hex')), [])
      assert.deepEqual(filesHolding(dir, Buffer.from(keys.evmPrivateKey.slice(2), 'hex')), [])
      // The same keys, sealed: the log key and account are unchanged; the passphrase now guards them.
      assert.deepEqual(unlockOperatorKeys(dir, PASS), keys)
      assert.ok(readOperatorPublic(dir).logKey.equals(before.logKey))
      assert.throws(() => unlockOperatorKeys(dir, 'not it'), refusedWith('ACCESS_WRONG_PASSPHRASE'))
      if (withIdentity) assert.equal(unlockIdentity(dir, 'st-mary', PASS).role, 'controller')
    })
  }

  it('a clear keys/operator.json left by a migration cut short is deleted if it holds the sealed keys, refused if not', () => {
    const dir = mkdtempSync(join(tmpdir(), 'provena-opkey-'))
    initDataDir(dir, PASS)
    const keys = unlockOperatorKeys(dir, PASS)
    writeFileSync(clearOperatorKeyPath(dir), JSON.stringify(keys))
    unlockOperatorKeys(dir, PASS)
    assert.equal(existsSync(clearOperatorKeyPath(dir)), false)
    writeFileSync(clearOperatorKeyPath(dir), JSON.stringify({ ...keys, evmPrivateKey: `0x${'22'.repeat(32)}` }))
    assert.throws(() => unlockOperatorKeys(dir, PASS), (e) => refusedWith('DATADIR_INVALID')(e) && /differ/.test((e as Error).message))
  })
})
