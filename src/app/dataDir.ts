import { randomBytes } from 'node:crypto'
import { closeSync, existsSync, fstatSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeFileSync, writeSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { Hex } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { accessErrors, Keystore, keystorePath, openKeystore } from '../access/index.js'
import type { ConsentTerms } from '../consent/index.js'
import { ed25519FromSeed, ed25519Seed, generateEd25519 } from '../crypto/index.js'
import { narrowMode, openDatabase } from '../db/index.js'
import { appErrors } from './errors.js'

/** Contents of provena.json at the top of a data dir. */
export interface DataDirConfig {
  format: 1
  createdAt: string
  /** When to anchor while a process runs: after this many entries or this many ms. */
  checkpoint: { everyEntries: number; everyMs: number }
  /** Where encrypted records live (default fs); `provena store migrate` changes it. */
  store?: { backend: 'fs' | 'ipfs'; ipfsApi?: string }
  /** The controller's own consent purposes: id → the W3C DPV concept it specialises. */
  purposes?: Record<string, { dpv: string; description?: string }>
  /** What every consent record states (ISO/IEC TS 27560): notice, language, storage, jurisdiction, recipients, withdrawal method; unset ones take DEFAULT_CONSENT_TERMS. */
  consentTerms?: Partial<ConsentTerms>
}

/**
 * The operator's secrets: sealed in keys/keystore.json as its `operator` entry (see
 * Keystore). Data dirs made before held them in clear in keys/operator.json; that file
 * is sealed into the keystore and destroyed at their first unlock.
 */
export interface OperatorKeyFile {
  /** Ed25519 seed of the log key (hex). */
  ed25519Seed: string
  /** secp256k1 private key of the EVM account (0x hex). */
  evmPrivateKey: `0x${string}`
}

/** The data dir: --dir, else PROVENA_DIR, else ./.provena. */
export function resolveDataDir(dir?: string): string {
  return resolve(dir ?? process.env.PROVENA_DIR ?? '.provena')
}

export const configPath = (dir: string) => join(dir, 'provena.json')
export const dbPath = (dir: string) => join(dir, 'provena.db')
/** Where data dirs made before the operator key was sealed kept it in clear. */
export const clearOperatorKeyPath = (dir: string) => join(dir, 'keys', 'operator.json')

/** The operator's public facts: readable without the passphrase. */
export interface OperatorPublic {
  /** Raw Ed25519 public key of the log key. */
  logKey: Buffer
  /** The EVM account of the operator key (PROVENA_OPERATOR_KEY's when set). */
  address: Hex
}

/**
 * Creates a data dir: config, database (migrated) and operator keys, sealed in the
 * keystore under `passphrase` (one scrypt derivation). Idempotent: an existing data dir
 * is left as it is, and needs no passphrase. Returns whether it was created.
 */
export function initDataDir(dir: string, passphrase: string | undefined): { created: boolean } {
  if (existsSync(configPath(dir))) {
    restrictDataDir(dir)
    openDatabase(dbPath(dir)).close() // migrates, or refuses a newer schema
    return { created: false }
  }
  if (!passphrase) throw accessErrors.noPassphrase()
  mkdirSync(join(dir, 'keys'), { recursive: true, mode: 0o700 })
  restrictDataDir(dir)
  const keys: OperatorKeyFile = { ed25519Seed: ed25519Seed(generateEd25519().privateKey).toString('hex'), evmPrivateKey: generatePrivateKey() }
  // A keystore left by an interrupted init keeps its salt (and must open with this passphrase).
  const ks = openKeystore(dir, passphrase, true)
  sealOperator(ks, keys)
  ks.save()
  openDatabase(dbPath(dir)).close()
  const config: DataDirConfig = { format: 1, createdAt: new Date().toISOString(), checkpoint: { everyEntries: 10_000, everyMs: 5_000 } }
  // provena.json last: its presence marks a complete data dir.
  writeFileSync(configPath(dir), JSON.stringify(config, null, 2) + '\n')
  return { created: true }
}

/**
 * Narrows the data dir and keys/ to 0700, whoever made them (`mkdir D` leaves 0755 under
 * the usual umask): it holds the operator key, the keystore and the database.
 */
export function restrictDataDir(dir: string): void {
  narrowMode(dir, 0o700)
  if (existsSync(join(dir, 'keys'))) narrowMode(join(dir, 'keys'), 0o700)
}

/** Reads provena.json; throws DATADIR_MISSING when the dir was never initialised. */
export function readConfig(dir: string): DataDirConfig {
  if (!existsSync(configPath(dir))) throw appErrors.noDataDir(dir)
  try {
    return JSON.parse(readFileSync(configPath(dir), 'utf8')) as DataDirConfig
  } catch (e) {
    throw appErrors.badDataDir(dir, `provena.json: ${(e as Error).message}`)
  }
}

/** PROVENA_OPERATOR_KEY, checked: a funded EVM key on an external chain that replaces the operator's. */
export function operatorKeyOverride(): Hex | undefined {
  const override = process.env.PROVENA_OPERATOR_KEY
  if (!override) return undefined
  const k = override.startsWith('0x') ? override : `0x${override}`
  if (!/^0x[0-9a-fA-F]{64}$/.test(k)) throw appErrors.badKey('PROVENA_OPERATOR_KEY is not a 32-byte hex key')
  return k as Hex
}

/**
 * The operator's public facts, without the passphrase: the keystore's operator entry
 * (its clear part, authenticated only at unlock), or those of a clear keys/operator.json
 * not yet sealed.
 */
export function readOperatorPublic(dir: string): OperatorPublic {
  const override = operatorKeyOverride()
  const pub = Keystore.readOperatorPublic(keystorePath(dir))
  let found: OperatorPublic
  if (pub !== undefined) {
    if (typeof pub.logKey !== 'string' || !/^[0-9a-f]{64}$/.test(pub.logKey) || typeof pub.address !== 'string') {
      throw appErrors.badDataDir(dir, 'keys/keystore.json: the operator entry has no valid logKey and address')
    }
    found = { logKey: Buffer.from(pub.logKey, 'hex'), address: pub.address as Hex }
  } else if (existsSync(clearOperatorKeyPath(dir))) {
    const keys = readClearOperatorKeys(dir)
    found = { logKey: ed25519FromSeed(Buffer.from(keys.ed25519Seed, 'hex')).publicKeyBytes, address: privateKeyToAccount(keys.evmPrivateKey).address }
  } else {
    throw appErrors.badDataDir(dir, 'no operator key (keys/keystore.json has no operator entry)')
  }
  return override ? { ...found, address: privateKeyToAccount(override).address } : found
}

/**
 * The operator's keys, unlocked with `passphrase` (one scrypt derivation, shared with the
 * identities a command unlocks). A clear keys/operator.json of an older data dir is sealed
 * into the keystore first, then overwritten and deleted. PROVENA_OPERATOR_KEY overrides
 * the EVM key. Throws ACCESS_WRONG_PASSPHRASE, ACCESS_KEYSTORE_TAMPERED.
 */
export function unlockOperatorKeys(dir: string, passphrase: string): OperatorKeyFile {
  const clearPath = clearOperatorKeyPath(dir)
  const clear = existsSync(clearPath) ? readClearOperatorKeys(dir) : undefined
  // An older data dir may have no keystore yet (no identity): this passphrase makes it.
  // Its identities are checked as any unlock checks them (an older keystore is re-sealed).
  const ks = openKeystore(dir, passphrase, clear !== undefined)
  let keys = operatorKeysOf(dir, ks)
  if (keys === undefined) {
    if (clear === undefined) throw appErrors.badDataDir(dir, 'no operator key (keys/keystore.json has no operator entry)')
    sealOperator(ks, clear)
    ks.save()
    keys = clear
  }
  if (clear !== undefined) {
    // Left in clear by an older version (or by a migration cut short after the keystore was written).
    if (clear.ed25519Seed !== keys.ed25519Seed || clear.evmPrivateKey.toLowerCase() !== keys.evmPrivateKey.toLowerCase()) {
      throw appErrors.badDataDir(dir, 'keys/operator.json and the operator key sealed in keys/keystore.json differ; keep the right one and remove the other')
    }
    shred(clearPath)
  }
  const override = operatorKeyOverride()
  return override ? { ...keys, evmPrivateKey: override } : keys
}

/** The sealed operator keys of an unlocked keystore, checked against their public part. */
function operatorKeysOf(dir: string, ks: Keystore): OperatorKeyFile | undefined {
  const s = ks.operatorSecrets()
  if (s === undefined) return undefined
  const keys: OperatorKeyFile = { ed25519Seed: s.ed25519Seed ?? '', evmPrivateKey: (s.evm ?? '') as Hex }
  const pub = ks.operatorPublic()!
  let want: Record<string, string>
  try {
    want = operatorPublicOf(keys)
  } catch {
    throw accessErrors.tamperedOperator(ks.path, 'sealed')
  }
  for (const field of ['logKey', 'address'] as const) {
    if (String(pub[field]).toLowerCase() !== want[field]!.toLowerCase()) throw accessErrors.tamperedOperator(ks.path, field)
  }
  return keys
}

function operatorPublicOf(keys: OperatorKeyFile): Record<string, string> {
  return { logKey: ed25519FromSeed(Buffer.from(keys.ed25519Seed, 'hex')).publicKeyBytes.toString('hex'), address: privateKeyToAccount(keys.evmPrivateKey).address }
}

function sealOperator(ks: Keystore, keys: OperatorKeyFile): void {
  ks.setOperator(operatorPublicOf(keys), { ed25519Seed: keys.ed25519Seed, evm: keys.evmPrivateKey })
}

function readClearOperatorKeys(dir: string): OperatorKeyFile {
  try {
    const keys = JSON.parse(readFileSync(clearOperatorKeyPath(dir), 'utf8')) as OperatorKeyFile
    if (typeof keys.ed25519Seed !== 'string' || !/^[0-9a-fA-F]{64}$/.test(keys.ed25519Seed) || typeof keys.evmPrivateKey !== 'string') throw new Error('no ed25519Seed and evmPrivateKey')
    return keys
  } catch (e) {
    throw appErrors.badDataDir(dir, `keys/operator.json: ${(e as Error).message}`)
  }
}

/**
 * Overwrites a file with random bytes, syncs, then deletes it. WARNING: on a copy-on-write
 * or journaling file system, or an SSD, older copies of the blocks may survive; this
 * removes the secret from the file system's view, not from the device.
 */
export function shred(path: string): void {
  const fd = openSync(path, 'r+')
  try {
    const size = fstatSync(fd).size
    writeSync(fd, randomBytes(Math.max(size, 1)), 0, Math.max(size, 1), 0)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  unlinkSync(path)
}

/** Rewrites provena.json atomically with `change` applied. */
export function updateConfig(dir: string, change: (c: DataDirConfig) => DataDirConfig): DataDirConfig {
  const next = change(readConfig(dir))
  const tmp = `${configPath(dir)}.tmp-${process.pid}`
  writeFileSync(tmp, JSON.stringify(next, null, 2) + '\n')
  renameSync(tmp, configPath(dir))
  return next
}
