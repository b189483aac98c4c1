import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { generatePrivateKey } from 'viem/accounts'
import type { ConsentTerms } from '../consent/index.js'
import { ed25519Seed, generateEd25519 } from '../crypto/index.js'
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

/** The operator's secrets, in keys/operator.json (mode 0600). */
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
const keyPath = (dir: string) => join(dir, 'keys', 'operator.json')

/**
 * Creates a data dir: config, database (migrated) and operator keys. Idempotent: an
 * existing data dir is left as it is. Returns whether it was created.
 */
export function initDataDir(dir: string): { created: boolean } {
  if (existsSync(configPath(dir))) {
    restrictDataDir(dir)
    openDatabase(dbPath(dir)).close() // migrates, or refuses a newer schema
    return { created: false }
  }
  mkdirSync(join(dir, 'keys'), { recursive: true, mode: 0o700 })
  restrictDataDir(dir)
  const keys: OperatorKeyFile = { ed25519Seed: ed25519Seed(generateEd25519().privateKey).toString('hex'), evmPrivateKey: generatePrivateKey() }
  writeFileSync(keyPath(dir), JSON.stringify(keys, null, 2) + '\n', { mode: 0o600 })
  chmodSync(keyPath(dir), 0o600)
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

/** The operator's keys; PROVENA_OPERATOR_KEY overrides the EVM key (a funded account on an external chain). */
export function readOperatorKeys(dir: string): OperatorKeyFile {
  let keys: OperatorKeyFile
  try {
    keys = JSON.parse(readFileSync(keyPath(dir), 'utf8')) as OperatorKeyFile
  } catch (e) {
    throw appErrors.badDataDir(dir, `keys/operator.json: ${(e as Error).message}`)
  }
  const override = process.env.PROVENA_OPERATOR_KEY
  if (override) {
    const k = override.startsWith('0x') ? override : `0x${override}`
    if (!/^0x[0-9a-fA-F]{64}$/.test(k)) throw appErrors.badKey('PROVENA_OPERATOR_KEY is not a 32-byte hex key')
    keys = { ...keys, evmPrivateKey: k as `0x${string}` }
  }
  return keys
}

/** Rewrites provena.json atomically with `change` applied. */
export function updateConfig(dir: string, change: (c: DataDirConfig) => DataDirConfig): DataDirConfig {
  const next = change(readConfig(dir))
  const tmp = `${configPath(dir)}.tmp-${process.pid}`
  writeFileSync(tmp, JSON.stringify(next, null, 2) + '\n')
  renameSync(tmp, configPath(dir))
  return next
}
