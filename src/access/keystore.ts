import { createHash, randomBytes, scryptSync, timingSafeEqual } from 'node:crypto'
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { aeadOpen, aeadSeal, canonicalJson } from '../crypto/index.js'
import { accessErrors } from './errors.js'

/**
 * The data dir's keystore (keys/keystore.json): public facts in clear, every secret
 * sealed with AES-256-GCM under a key-encryption key derived from a passphrase with
 * scrypt (RFC 7914). No secret is ever written in clear.
 *
 * Entry versions: v1 (no `v`) seals the secrets alone, with AAD `entry:NAME`; its public
 * part is not authenticated. v2 seals `{secrets, public}` with AAD `entry/v2:NAME`, and
 * unlocking compares the clear public part with the sealed copy, field by field. The
 * AADs differ so that relabelling an entry's version makes it fail to open.
 *
 * The operator key (the log-signing Ed25519 seed and the EVM key of the data dir) is one
 * more entry, `operator`, outside `entries` (it is no identity): sealed the same way under
 * the same key, with AAD `operator/v1`, so that one scrypt derivation unlocks it and the
 * identities of a command together.
 */
export interface KeystoreFile {
  format: 'provena.keystore/v1'
  kdf: KdfParams & { name: 'scrypt'; salt: string }
  /** A known plaintext sealed under the key: tells a wrong passphrase from a damaged entry. */
  check: string
  entries: Record<string, KeystoreEntry>
  /** The operator key: public part in clear (read without the passphrase), sealed with a copy of it. */
  operator?: SealedEntry
}

interface KdfParams {
  N: number
  r: number
  p: number
}

interface SealedEntry {
  public: Record<string, unknown>
  sealed: string
}

interface KeystoreEntry extends SealedEntry {
  v?: 2
}

/**
 * Checks an entry's public facts against its secrets (e.g. a public key derived from the
 * private one); returns the name of the first field that differs, or undefined.
 */
export type EntryCheck = (name: string, publicPart: Record<string, unknown>, secrets: Record<string, string>) => string | undefined

// N = 2^17, r = 8: 128 MiB, ~0.3-0.8 s here (OWASP's scrypt floor; RFC 7914 §2 leaves it
// to the cost one accepts). Parameters live in the file, so keystores made with 2^15 open,
// and are re-sealed with these at their next unlock.
const SCRYPT: KdfParams = { N: 2 ** 17, r: 8, p: 1 }
// PROVENA_LIGHT_KDF=1, for throwaway data dirs (the test suite's child processes, `demo
// --consortium`), as geth's --lightkdf: N = 2^12 (~5 ms; a passphrase ~32× cheaper to
// guess). A keystore sealed so is re-sealed with SCRYPT at its first unlock without it.
const LIGHT_SCRYPT: KdfParams = { N: 2 ** 12, r: 8, p: 1 }

/** The scrypt parameters new keystores are sealed with, and weaker ones upgraded to. */
const scryptParams = (): KdfParams => (process.env.PROVENA_LIGHT_KDF === '1' ? LIGHT_SCRYPT : SCRYPT)
const CHECK = Buffer.from('provena keystore v1')

/** An unlocked keystore: read and add entries; `save()` writes it atomically. */
export class Keystore {
  readonly path: string
  #file: KeystoreFile
  #kek: Buffer

  private constructor(path: string, file: KeystoreFile, kek: Buffer) {
    this.path = path
    this.#file = file
    this.#kek = kek
  }

  /**
   * Opens (or, with `create`, makes) the keystore at `path` with `passphrase`. Every entry
   * is opened and checked (sealed public copy, then `check`): an edited public field is
   * refused here, naming the identity and the field. A keystore with v1 entries or a
   * weaker KDF is re-sealed (v2, current scrypt parameters) and written back, unless the
   * file changed meanwhile.
   */
  static open(path: string, passphrase: string, create = false, check?: EntryCheck): Keystore {
    if (!existsSync(path)) {
      if (!create) throw accessErrors.corruptKeystore(path, 'no such file')
      const salt = randomBytes(16)
      const params = scryptParams()
      const kek = derive(passphrase, salt, params)
      const file: KeystoreFile = {
        format: 'provena.keystore/v1',
        kdf: { name: 'scrypt', ...params, salt: salt.toString('base64') },
        check: aeadSeal(kek, CHECK, Buffer.from('check')).toString('base64'),
        entries: {},
      }
      const ks = new Keystore(path, file, kek)
      ks.save()
      return ks
    }
    let text: string
    let file: KeystoreFile
    try {
      text = readFileSync(path, 'utf8')
      file = JSON.parse(text) as KeystoreFile
    } catch (e) {
      throw accessErrors.corruptKeystore(path, (e as Error).message)
    }
    if (file.format !== 'provena.keystore/v1' || file.kdf?.name !== 'scrypt' || typeof file.entries !== 'object' || file.entries === null) {
      throw accessErrors.corruptKeystore(path, 'unknown format')
    }
    file.entries = Object.assign(Object.create(null) as Record<string, KeystoreEntry>, file.entries)
    const kek = derive(passphrase, Buffer.from(file.kdf.salt, 'base64'), file.kdf)
    try {
      if (!aeadOpen(kek, Buffer.from(file.check, 'base64'), Buffer.from('check')).equals(CHECK)) throw new Error('check')
    } catch {
      throw accessErrors.wrongPassphrase(path)
    }
    const ks = new Keystore(path, file, kek)
    for (const name of ks.names()) {
      const secrets = ks.secretsOf(name)
      const field = check?.(name, file.entries[name]!.public, secrets)
      if (field !== undefined) throw accessErrors.tamperedKeystore(path, name, field)
    }
    ks.operatorSecrets() // an edited operator entry is refused at every unlock too
    if (ks.#isOutdated()) ks.#upgrade(passphrase, text)
    return ks
  }

  /** The public parts of the entries, read without the passphrase (WARNING: unauthenticated until an unlock). */
  static readPublic(path: string): Record<string, Record<string, unknown>> {
    if (!existsSync(path)) return {}
    try {
      const file = JSON.parse(readFileSync(path, 'utf8')) as KeystoreFile
      return Object.fromEntries(Object.entries(file.entries).map(([k, v]) => [k, v.public]))
    } catch (e) {
      throw accessErrors.corruptKeystore(path, (e as Error).message)
    }
  }

  /** The public part of the operator entry, read without the passphrase (WARNING: unauthenticated until an unlock); undefined when there is none. */
  static readOperatorPublic(path: string): Record<string, unknown> | undefined {
    if (!existsSync(path)) return undefined
    try {
      const file = JSON.parse(readFileSync(path, 'utf8')) as KeystoreFile
      return file.operator === undefined ? undefined : { ...file.operator.public }
    } catch (e) {
      throw accessErrors.corruptKeystore(path, (e as Error).message)
    }
  }

  /** The KDF parameters the file is sealed under. */
  get kdf(): KdfParams {
    const { N, r, p } = this.#file.kdf
    return { N, r, p }
  }

  names(): string[] {
    return Object.keys(this.#file.entries).sort()
  }

  has(name: string): boolean {
    return Object.hasOwn(this.#file.entries, name)
  }

  /** The public part of an entry. */
  publicOf(name: string): Record<string, unknown> {
    if (!this.has(name)) throw accessErrors.unknownIdentity(name)
    return this.#file.entries[name]!.public
  }

  /**
   * The secrets of an entry (decrypted; the entry name is bound as AAD). For a v2 entry
   * the clear public part must equal the sealed copy, else ACCESS_KEYSTORE_TAMPERED.
   */
  secretsOf(name: string): Record<string, string> {
    if (!this.has(name)) throw accessErrors.unknownIdentity(name)
    const e = this.#file.entries[name]!
    let plain: Buffer
    try {
      plain = aeadOpen(this.#kek, Buffer.from(String(e.sealed), 'base64'), aadOf(name, e.v), `keystore entry ${name}`)
    } catch {
      throw accessErrors.tamperedKeystore(this.path, name, 'sealed')
    }
    if (e.v !== 2) return JSON.parse(plain.toString('utf8')) as Record<string, string>
    const { secrets, public: sealedPublic } = JSON.parse(plain.toString('utf8')) as { secrets: Record<string, string>; public: Record<string, unknown> }
    const clear = e.public ?? {}
    for (const field of new Set([...Object.keys(sealedPublic), ...Object.keys(clear)])) {
      if (canonicalJson(sealedPublic[field] ?? null) !== canonicalJson(clear[field] ?? null)) throw accessErrors.tamperedKeystore(this.path, name, field)
    }
    return secrets
  }

  /**
   * The operator's secrets, or undefined when the keystore holds no operator key. The clear
   * public part must equal the sealed copy, else ACCESS_KEYSTORE_TAMPERED.
   */
  operatorSecrets(): Record<string, string> | undefined {
    const e = this.#file.operator
    if (e === undefined) return undefined
    let plain: Buffer
    try {
      plain = aeadOpen(this.#kek, Buffer.from(String(e.sealed), 'base64'), OPERATOR_AAD, 'keystore operator key')
    } catch {
      throw accessErrors.tamperedOperator(this.path, 'sealed')
    }
    const { secrets, public: sealedPublic } = JSON.parse(plain.toString('utf8')) as { secrets: Record<string, string>; public: Record<string, unknown> }
    const clear = e.public ?? {}
    for (const field of new Set([...Object.keys(sealedPublic), ...Object.keys(clear)])) {
      if (canonicalJson(sealedPublic[field] ?? null) !== canonicalJson(clear[field] ?? null)) throw accessErrors.tamperedOperator(this.path, field)
    }
    return secrets
  }

  /** The clear public part of the operator entry (checked against the sealed copy by operatorSecrets). */
  operatorPublic(): Record<string, unknown> | undefined {
    return this.#file.operator?.public
  }

  /** Sets the operator entry (sealed before it touches the file); `save()` writes it. */
  setOperator(publicPart: Record<string, unknown>, secrets: Record<string, string>): void {
    this.#file.operator = this.#sealOperator(publicPart, secrets)
  }

  /** Adds an entry; secrets and a copy of the public part are sealed before they touch the file. */
  add(name: string, publicPart: Record<string, unknown>, secrets: Record<string, string>): void {
    if (this.has(name)) throw accessErrors.duplicateIdentity(name)
    this.#file.entries[name] = this.#seal(name, publicPart, secrets)
  }

  /** Writes the file atomically (write to a temp file, then rename), mode 0600. */
  save(): void {
    const tmp = `${this.path}.tmp-${process.pid}`
    writeFileSync(tmp, JSON.stringify(this.#file, null, 2) + '\n', { mode: 0o600 })
    renameSync(tmp, this.path)
  }

  #seal(name: string, publicPart: Record<string, unknown>, secrets: Record<string, string>): KeystoreEntry {
    const plain = Buffer.from(JSON.stringify({ secrets, public: publicPart }), 'utf8')
    return { v: 2, public: publicPart, sealed: aeadSeal(this.#kek, plain, aadOf(name, 2)).toString('base64') }
  }

  #sealOperator(publicPart: Record<string, unknown>, secrets: Record<string, string>): SealedEntry {
    const plain = Buffer.from(JSON.stringify({ secrets, public: publicPart }), 'utf8')
    return { public: publicPart, sealed: aeadSeal(this.#kek, plain, OPERATOR_AAD).toString('base64') }
  }

  #isOutdated(): boolean {
    const k = this.#file.kdf
    const want = scryptParams()
    return k.N < want.N || k.r < want.r || this.names().some((n) => this.#file.entries[n]!.v !== 2)
  }

  /** Re-seals every entry as v2 under a key derived with the current parameters; writes only if the file is unchanged since `readText`. */
  #upgrade(passphrase: string, readText: string): void {
    const opened = this.names().map((n) => [n, this.#file.entries[n]!.public, this.secretsOf(n)] as const)
    const operator = this.operatorSecrets()
    const k = this.#file.kdf
    const want = scryptParams()
    if (k.N < want.N || k.r < want.r) {
      const salt = randomBytes(16)
      this.#kek = derive(passphrase, salt, want)
      this.#file.kdf = { name: 'scrypt', ...want, salt: salt.toString('base64') }
      this.#file.check = aeadSeal(this.#kek, CHECK, Buffer.from('check')).toString('base64')
    }
    for (const [n, pub, secrets] of opened) this.#file.entries[n] = this.#seal(n, pub, secrets)
    if (operator !== undefined) this.#file.operator = this.#sealOperator(this.#file.operator!.public, operator)
    // Another process may have added an entry since we read the file: keep its write and
    // upgrade at a later unlock. (A small window remains between this read and the rename.)
    if (readFileSync(this.path, 'utf8') === readText) this.save()
  }
}

const OPERATOR_AAD = Buffer.from('operator/v1')
const aadOf = (name: string, v: 2 | undefined) => Buffer.from(v === 2 ? `entry/v2:${name}` : `entry:${name}`)

// Derived keys by (salt, parameters, passphrase digest): one scrypt per process, however
// many times a command unlocks (the demo unlocks a dozen identities).
const derived = new Map<string, { pass: Buffer; kek: Buffer }>()
let derivations = 0

/** How many scrypt derivations this process ran (a test counts them: one per command). */
export const kdfDerivations = () => derivations

function derive(passphrase: string, salt: Buffer, p: KdfParams): Buffer {
  const normal = passphrase.normalize('NFKC')
  const key = `${salt.toString('base64')}:${p.N}:${p.r}:${p.p}`
  const pass = createHash('sha256').update(`provena.keystore.cache:${normal}`).digest()
  const hit = derived.get(key)
  if (hit && timingSafeEqual(hit.pass, pass)) return hit.kek
  const kek = scryptSync(normal, salt, 32, { N: p.N, r: p.r, p: p.p, maxmem: 256 * p.N * p.r })
  derivations++
  derived.set(key, { pass, kek })
  return kek
}
