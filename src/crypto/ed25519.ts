import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto'
import { cryptoErrors } from './errors.js'

/** An Ed25519 key pair (RFC 8032) held as node:crypto KeyObjects. */
export interface Ed25519KeyPair {
  readonly privateKey: KeyObject
  readonly publicKey: KeyObject
  /** The 32-byte raw public key. */
  readonly publicKeyBytes: Buffer
}

/** A fresh random Ed25519 key pair. */
export function generateEd25519(): Ed25519KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  return { privateKey, publicKey, publicKeyBytes: rawPublicKey(publicKey) }
}

/** The key pair for a 32-byte Ed25519 seed (the raw private key). */
export function ed25519FromSeed(seed: Uint8Array): Ed25519KeyPair {
  if (seed.length !== 32) throw cryptoErrors.badKey(`Ed25519 seed must be 32 bytes, got ${seed.length}`)
  // PKCS#8 wrapping of a raw Ed25519 seed (RFC 8410 §7).
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed])
  const privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })
  const publicKey = createPublicKey(privateKey)
  return { privateKey, publicKey, publicKeyBytes: rawPublicKey(publicKey) }
}

/** The 32-byte seed of an Ed25519 private key. */
export function ed25519Seed(privateKey: KeyObject): Buffer {
  const der = privateKey.export({ format: 'der', type: 'pkcs8' })
  return Buffer.from(der.subarray(der.length - 32))
}

/** A public KeyObject from 32 raw bytes. */
export function ed25519PublicKey(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw cryptoErrors.badKey(`Ed25519 public key must be 32 bytes, got ${raw.length}`)
  const der = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), raw])
  return createPublicKey({ key: der, format: 'der', type: 'spki' })
}

/** Ed25519 signature (64 bytes) of `message`. */
export function signEd25519(privateKey: KeyObject, message: Uint8Array): Buffer {
  return sign(null, message, privateKey)
}

/** Whether `signature` is a valid Ed25519 signature of `message` by `publicKey`. */
export function verifyEd25519(publicKey: KeyObject | Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  const key = publicKey instanceof Uint8Array ? ed25519PublicKey(publicKey) : publicKey
  if (signature.length !== 64) return false
  return verify(null, message, key, signature)
}

function rawPublicKey(publicKey: KeyObject): Buffer {
  const der = publicKey.export({ format: 'der', type: 'spki' })
  return Buffer.from(der.subarray(der.length - 32))
}
