import { randomBytes, scryptSync } from 'node:crypto'
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { aeadOpen, aeadSeal } from '../crypto/index.js'
import { accessErrors } from './errors.js'

/**
 * The data dir's keystore (keys/keystore.json): public facts in clear, every secret
 * sealed with AES-256-GCM under a key-encryption key derived from a passphrase with
 * scrypt (RFC 7914). No secret is ever written in clear.
 */
export interface KeystoreFile {
  format: 'provena.keystore/v1'
  kdf: { name: 'scrypt'; N: number; r: number; p: number; salt: string }
  /** A known plaintext sealed under the key: tells a wrong passphrase from a damaged entry. */
  check: string
  entries: Record<string, { public: Record<string, unknown>; sealed: string }>
}

// N = 2^15, r = 8 (RFC 7914 §2's interactive-login strength; ~32 MiB, ~0.1 s here).
const SCRYPT = { N: 2 ** 15, r: 8, p: 1 }
const CHECK = Buffer.from('provena keystore v1')

/** An unlocked keystore: read and add entries; `save()` writes it atomically. */
export class Keystore {
  readonly path: string
  readonly #file: KeystoreFile
  readonly #kek: Buffer

  private constructor(path: string, file: KeystoreFile, kek: Buffer) {
    this.path = path
    this.#file = file
    this.#kek = kek
  }

  /** Opens (or, with `create`, makes) the keystore at `path` with `passphrase`. */
  static open(path: string, passphrase: string, create = false): Keystore {
    if (!existsSync(path)) {
      if (!create) throw accessErrors.corruptKeystore(path, 'no such file')
      const salt = randomBytes(16)
      const kek = derive(passphrase, salt, SCRYPT)
      const file: KeystoreFile = {
        format: 'provena.keystore/v1',
        kdf: { name: 'scrypt', ...SCRYPT, salt: salt.toString('base64') },
        check: aeadSeal(kek, CHECK, Buffer.from('check')).toString('base64'),
        entries: {},
      }
      const ks = new Keystore(path, file, kek)
      ks.save()
      return ks
    }
    let file: KeystoreFile
    try {
      file = JSON.parse(readFileSync(path, 'utf8')) as KeystoreFile
    } catch (e) {
      throw accessErrors.corruptKeystore(path, (e as Error).message)
    }
    if (file.format !== 'provena.keystore/v1' || file.kdf?.name !== 'scrypt') throw accessErrors.corruptKeystore(path, 'unknown format')
    const kek = derive(passphrase, Buffer.from(file.kdf.salt, 'base64'), file.kdf)
    try {
      if (!aeadOpen(kek, Buffer.from(file.check, 'base64'), Buffer.from('check')).equals(CHECK)) throw new Error('check')
    } catch {
      throw accessErrors.wrongPassphrase(path)
    }
    return new Keystore(path, file, kek)
  }

  /** The public parts of the entries, read without the passphrase. */
  static readPublic(path: string): Record<string, Record<string, unknown>> {
    if (!existsSync(path)) return {}
    try {
      const file = JSON.parse(readFileSync(path, 'utf8')) as KeystoreFile
      return Object.fromEntries(Object.entries(file.entries).map(([k, v]) => [k, v.public]))
    } catch (e) {
      throw accessErrors.corruptKeystore(path, (e as Error).message)
    }
  }

  names(): string[] {
    return Object.keys(this.#file.entries).sort()
  }

  has(name: string): boolean {
    return name in this.#file.entries
  }

  /** The public part of an entry. */
  publicOf(name: string): Record<string, unknown> {
    const e = this.#file.entries[name]
    if (!e) throw accessErrors.unknownIdentity(name)
    return e.public
  }

  /** The secrets of an entry (decrypted; the entry name is bound as AAD). */
  secretsOf(name: string): Record<string, string> {
    const e = this.#file.entries[name]
    if (!e) throw accessErrors.unknownIdentity(name)
    return JSON.parse(aeadOpen(this.#kek, Buffer.from(e.sealed, 'base64'), Buffer.from(`entry:${name}`), `keystore entry ${name}`).toString('utf8'))
  }

  /** Adds an entry; secrets are sealed before they touch the file. */
  add(name: string, publicPart: Record<string, unknown>, secrets: Record<string, string>): void {
    if (this.has(name)) throw accessErrors.duplicateIdentity(name)
    this.#file.entries[name] = {
      public: publicPart,
      sealed: aeadSeal(this.#kek, Buffer.from(JSON.stringify(secrets), 'utf8'), Buffer.from(`entry:${name}`)).toString('base64'),
    }
  }

  /** Writes the file atomically (write to a temp file, then rename), mode 0600. */
  save(): void {
    const tmp = `${this.path}.tmp-${process.pid}`
    writeFileSync(tmp, JSON.stringify(this.#file, null, 2) + '\n', { mode: 0o600 })
    renameSync(tmp, this.path)
  }
}

function derive(passphrase: string, salt: Buffer, p: { N: number; r: number; p: number }): Buffer {
  return scryptSync(passphrase.normalize('NFKC'), salt, 32, { N: p.N, r: p.r, p: p.p, maxmem: 256 * p.N * p.r })
}
