import { join } from 'node:path'
import type { Hex } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { didKeyFromEd25519, ed25519FromSeed, ed25519Seed, generateEd25519, generateX25519, x25519PublicKey, type Ed25519KeyPair } from '../crypto/index.js'
import { accessErrors } from './errors.js'
import { ProvenaError } from '../errors.js'
import { Keystore, type EntryCheck } from './keystore.js'

/** Roles of consortium members (AccessPolicy's roles on-chain). */
export const ROLES = ['controller', 'processor', 'trainer', 'auditor'] as const
export type Role = (typeof ROLES)[number]

/** An identity's public facts. */
export interface Identity {
  name: string
  role: Role
  /** did:key of its Ed25519 signing key. */
  did: string
  /** X25519 public key (hex) that HPKE seals data keys to. */
  x25519PublicKey: string
  /** Its EVM account. */
  address: Hex
  createdAt: string
}

/** An identity with its secrets, after the keystore was unlocked. */
export interface UnlockedIdentity extends Identity {
  signing: Ed25519KeyPair
  x25519PrivateKey: Buffer
  evmPrivateKey: Hex
}

export const keystorePath = (dir: string) => join(dir, 'keys', 'keystore.json')

/**
 * Checks an identity entry's public facts against its keys: the name is the entry's, the
 * DID, X25519 public key and EVM address derive from the sealed secrets, the role is one
 * of ROLES. Catches an edited v1 entry, whose public part was never sealed.
 */
const checkIdentityEntry: EntryCheck = (name, pub, s) => {
  if (pub.name !== name) return 'name'
  if (!(ROLES as readonly unknown[]).includes(pub.role)) return 'role'
  // Exact match, but an EVM address in any letter case (EIP-55 checksum case is advisory).
  const differs = (field: string, stored: unknown, derive: () => string) => {
    try {
      const want = derive()
      return typeof stored !== 'string' || (field === 'address' ? stored.toLowerCase() !== want.toLowerCase() : stored !== want) ? field : undefined
    } catch {
      return field
    }
  }
  return (
    differs('did', pub.did, () => didKeyFromEd25519(ed25519FromSeed(Buffer.from(s.ed25519Seed ?? '', 'hex')).publicKeyBytes)) ??
    differs('x25519PublicKey', pub.x25519PublicKey, () => x25519PublicKey(Buffer.from(s.x25519 ?? '', 'hex')).toString('hex')) ??
    differs('address', pub.address, () => privateKeyToAccount(s.evm as Hex).address)
  )
}

/** Unlocks the data dir's keystore, checking every identity in it (see checkIdentityEntry). */
export const openKeystore = (dir: string, passphrase: string, create = false) => Keystore.open(keystorePath(dir), passphrase, create, checkIdentityEntry)

/**
 * Prepares an identity: Ed25519 (did:key), X25519 and EVM keys, sealed for the keystore;
 * `save()` writes it. Callers that record the identity elsewhere too (the log, the chain
 * outbox) call `save()` inside their database transaction, so that all or nothing lands.
 */
export function prepareIdentity(dir: string, name: string, role: string, passphrase: string): { identity: Identity; save(): void } {
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(name)) throw accessErrors.badName(name)
  if (!(ROLES as readonly string[]).includes(role)) throw accessErrors.badRole(role)
  const ks = openKeystore(dir, passphrase, true)
  if (ks.has(name)) throw accessErrors.duplicateIdentity(name)
  const signing = generateEd25519()
  const x = generateX25519()
  const evm = generatePrivateKey()
  const identity: Identity = {
    name,
    role: role as Role,
    did: didKeyFromEd25519(signing.publicKeyBytes),
    x25519PublicKey: x.publicKey.toString('hex'),
    address: privateKeyToAccount(evm).address,
    createdAt: new Date().toISOString(),
  }
  ks.add(name, { ...identity }, { ed25519Seed: ed25519Seed(signing.privateKey).toString('hex'), x25519: x.privateKey.toString('hex'), evm })
  return { identity, save: () => ks.save() }
}

/** Creates and saves an identity (see prepareIdentity). */
export function createIdentity(dir: string, name: string, role: string, passphrase: string): Identity {
  const { identity, save } = prepareIdentity(dir, name, role, passphrase)
  save()
  return identity
}

/** Every identity's public facts, without the passphrase. */
export function listIdentities(dir: string): Identity[] {
  return Object.values(Keystore.readPublic(keystorePath(dir))) as unknown as Identity[]
}

/** One identity's public facts, by name or DID. */
export function findIdentity(dir: string, nameOrDid: string): Identity {
  const found = listIdentities(dir).find((i) => i.name === nameOrDid || i.did === nameOrDid)
  if (!found) throw accessErrors.unknownIdentity(nameOrDid)
  return found
}

const unlocked = (ks: Keystore, name: string): UnlockedIdentity => {
  const pub = ks.publicOf(name) as unknown as Identity
  const s = ks.secretsOf(name)
  return { ...pub, signing: ed25519FromSeed(Buffer.from(s.ed25519Seed!, 'hex')), x25519PrivateKey: Buffer.from(s.x25519!, 'hex'), evmPrivateKey: s.evm as Hex }
}

/** An identity with its secrets (needs the passphrase). */
export function unlockIdentity(dir: string, name: string, passphrase: string): UnlockedIdentity {
  return unlocked(openKeystore(dir, passphrase), name)
}

/** Every identity with its secrets, from one unlock of the keystore (one scrypt, not one per identity). */
export function unlockIdentities(dir: string, passphrase: string): UnlockedIdentity[] {
  const ks = openKeystore(dir, passphrase)
  return ks.names().map((name) => unlocked(ks, name))
}

/**
 * The controller to act as: `name` when given, else the data dir's only controller
 * identity. Throws naming the choices when there are none or several.
 */
export function controllerName(dir: string, name: string | undefined): string {
  if (name !== undefined) return name
  const controllers = listIdentities(dir).filter((i) => i.role === 'controller')
  if (controllers.length === 1) return controllers[0]!.name
  throw new ProvenaError('ACCESS_WHICH_CONTROLLER', controllers.length === 0 ? 'this data dir has no controller identity' : `this data dir has ${controllers.length} controllers (${controllers.map((c) => c.name).join(', ')}): say which with --as NAME`, {
    hint: controllers.length === 0 ? 'create one: provena identity create NAME --role controller' : undefined,
  })
}
