import { createCipheriv, createDecipheriv, createHmac, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { cryptoErrors } from './errors.js'

/**
 * HPKE (RFC 9180) in base mode with DHKEM(X25519, HKDF-SHA256), HKDF-SHA256 and
 * AES-256-GCM (suite 0x0020/0x0001/0x0002), built from node:crypto's X25519, HMAC-SHA256
 * and AES-GCM. Used to seal data keys to a grantee's X25519 key.
 */

const KEM_ID = 0x0020
const KDF_ID = 0x0001
const NH = 32 // HKDF-SHA256 output
const NN = 12 // AEAD nonce
const NT = 16 // AEAD tag

/** The AEADs this module speaks: AES-128-GCM (0x0001, for the published vectors) and AES-256-GCM (0x0002). */
export type HpkeAead = 0x0001 | 0x0002
const AEAD: Record<HpkeAead, { nk: number; cipher: 'aes-128-gcm' | 'aes-256-gcm' }> = {
  0x0001: { nk: 16, cipher: 'aes-128-gcm' },
  0x0002: { nk: 32, cipher: 'aes-256-gcm' },
}
/** Provena's suite: AES-256-GCM. */
export const HPKE_AEAD: HpkeAead = 0x0002

const i2osp = (n: number, w: number) => {
  const b = Buffer.alloc(w)
  b.writeUIntBE(n, 0, w)
  return b
}
const VERSION = Buffer.from('HPKE-v1')
const KEM_SUITE = Buffer.concat([Buffer.from('KEM'), i2osp(KEM_ID, 2)])
const hpkeSuite = (aead: HpkeAead) => Buffer.concat([Buffer.from('HPKE'), i2osp(KEM_ID, 2), i2osp(KDF_ID, 2), i2osp(aead, 2)])

// RFC 5869 HKDF with SHA-256, the two halves apart as RFC 9180 §4 needs them.
function extract(salt: Uint8Array, ikm: Uint8Array): Buffer {
  return createHmac('sha256', salt.length > 0 ? salt : Buffer.alloc(NH)).update(ikm).digest()
}
function expand(prk: Uint8Array, info: Uint8Array, length: number): Buffer {
  const out: Buffer[] = []
  let t = Buffer.alloc(0)
  for (let i = 1; out.length * NH < length; i++) {
    t = createHmac('sha256', prk).update(t).update(info).update(Buffer.of(i)).digest()
    out.push(t)
  }
  return Buffer.concat(out).subarray(0, length)
}
const labeledExtract = (suite: Buffer, salt: Uint8Array, label: string, ikm: Uint8Array) =>
  extract(salt, Buffer.concat([VERSION, suite, Buffer.from(label), ikm]))
const labeledExpand = (suite: Buffer, prk: Uint8Array, label: string, info: Uint8Array, length: number) =>
  expand(prk, Buffer.concat([i2osp(length, 2), VERSION, suite, Buffer.from(label), info]), length)

/** An X25519 key pair as raw 32-byte strings. */
export interface X25519KeyPair {
  privateKey: Buffer
  publicKey: Buffer
}

const X25519_PKCS8 = Buffer.from('302e020100300506032b656e04220420', 'hex')
const X25519_SPKI = Buffer.from('302a300506032b656e032100', 'hex')
const privateKeyObject = (sk: Uint8Array): KeyObject => createPrivateKey({ key: Buffer.concat([X25519_PKCS8, sk]), format: 'der', type: 'pkcs8' })
const publicKeyObject = (pk: Uint8Array): KeyObject => {
  if (pk.length !== 32) throw cryptoErrors.badKey(`X25519 public key must be 32 bytes, got ${pk.length}`)
  return createPublicKey({ key: Buffer.concat([X25519_SPKI, pk]), format: 'der', type: 'spki' })
}
const rawPublic = (k: KeyObject) => Buffer.from(k.export({ format: 'der', type: 'spki' }).subarray(-32))

/** A fresh X25519 key pair. */
export function generateX25519(): X25519KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('x25519')
  return { privateKey: Buffer.from(privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(-32)), publicKey: rawPublic(publicKey) }
}

/** The X25519 public key of a private key. */
export function x25519PublicKey(privateKey: Uint8Array): Buffer {
  return rawPublic(createPublicKey(privateKeyObject(privateKey)))
}

/** DeriveKeyPair of DHKEM(X25519, HKDF-SHA256), RFC 9180 §7.1.3. */
export function deriveX25519KeyPair(ikm: Uint8Array): X25519KeyPair {
  const dkpPrk = labeledExtract(KEM_SUITE, Buffer.alloc(0), 'dkp_prk', ikm)
  const sk = labeledExpand(KEM_SUITE, dkpPrk, 'sk', Buffer.alloc(0), 32)
  return { privateKey: sk, publicKey: x25519PublicKey(sk) }
}

function dh(sk: Uint8Array, pk: Uint8Array): Buffer {
  try {
    return diffieHellman({ privateKey: privateKeyObject(sk), publicKey: publicKeyObject(pk) })
  } catch (cause) {
    throw cryptoErrors.badKey('X25519 key agreement failed (a low-order public key?)', cause)
  }
}

function extractAndExpand(dhResult: Buffer, kemContext: Buffer): Buffer {
  const eaePrk = labeledExtract(KEM_SUITE, Buffer.alloc(0), 'eae_prk', dhResult)
  return labeledExpand(KEM_SUITE, eaePrk, 'shared_secret', kemContext, NH)
}

/** The result of the key schedule (RFC 9180 §5.1), base mode. */
export interface HpkeContext {
  key: Buffer
  baseNonce: Buffer
  exporterSecret: Buffer
  aead: HpkeAead
}

function keySchedule(sharedSecret: Buffer, info: Uint8Array, aead: HpkeAead): HpkeContext {
  const suite = hpkeSuite(aead)
  const pskIdHash = labeledExtract(suite, Buffer.alloc(0), 'psk_id_hash', Buffer.alloc(0))
  const infoHash = labeledExtract(suite, Buffer.alloc(0), 'info_hash', info)
  const context = Buffer.concat([Buffer.of(0x00), pskIdHash, infoHash])
  const secret = labeledExtract(suite, sharedSecret, 'secret', Buffer.alloc(0))
  return {
    key: labeledExpand(suite, secret, 'key', context, AEAD[aead].nk),
    baseNonce: labeledExpand(suite, secret, 'base_nonce', context, NN),
    exporterSecret: labeledExpand(suite, secret, 'exp', context, NH),
    aead,
  }
}

/**
 * SetupBaseS: encapsulates to `recipientPublicKey`; returns `enc` for the recipient and
 * the sender's context. `ephemeral` is for test vectors only.
 */
export function setupBaseSender(recipientPublicKey: Uint8Array, info: Uint8Array, aead: HpkeAead = HPKE_AEAD, ephemeral?: X25519KeyPair): { enc: Buffer; context: HpkeContext; sharedSecret: Buffer } {
  const e = ephemeral ?? generateX25519()
  const sharedSecret = extractAndExpand(dh(e.privateKey, recipientPublicKey), Buffer.concat([e.publicKey, recipientPublicKey]))
  return { enc: e.publicKey, context: keySchedule(sharedSecret, info, aead), sharedSecret }
}

/** SetupBaseR: decapsulates `enc` with the recipient's private key. */
export function setupBaseRecipient(enc: Uint8Array, recipientPrivateKey: Uint8Array, info: Uint8Array, aead: HpkeAead = HPKE_AEAD): HpkeContext {
  const pkR = x25519PublicKey(recipientPrivateKey)
  const sharedSecret = extractAndExpand(dh(recipientPrivateKey, enc), Buffer.concat([Buffer.from(enc), pkR]))
  return keySchedule(sharedSecret, info, aead)
}

function nonce(ctx: HpkeContext, seq: number): Buffer {
  const n = Buffer.from(ctx.baseNonce)
  const s = i2osp(seq, 6)
  for (let i = 0; i < 6; i++) n[NN - 6 + i]! ^= s[i]!
  return n
}

/** Seal with sequence number `seq` (RFC 9180 §5.2): ciphertext ‖ 16-byte tag. */
export function contextSeal(ctx: HpkeContext, aad: Uint8Array, plaintext: Uint8Array, seq = 0): Buffer {
  const c = createCipheriv(AEAD[ctx.aead].cipher, ctx.key, nonce(ctx, seq), { authTagLength: NT })
  c.setAAD(aad)
  return Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()])
}

/** Open with sequence number `seq`; throws CRYPTO_BAD_SIGNATURE-like CRYPTO_DECRYPT_FAILED on a bad tag. */
export function contextOpen(ctx: HpkeContext, aad: Uint8Array, ciphertext: Uint8Array, seq = 0): Buffer {
  if (ciphertext.length < NT) throw cryptoErrors.decryptFailed('HPKE ciphertext shorter than its tag')
  const d = createDecipheriv(AEAD[ctx.aead].cipher, ctx.key, nonce(ctx, seq), { authTagLength: NT })
  d.setAAD(aad)
  d.setAuthTag(Buffer.from(ciphertext.subarray(ciphertext.length - NT)))
  try {
    return Buffer.concat([d.update(ciphertext.subarray(0, ciphertext.length - NT)), d.final()])
  } catch {
    throw cryptoErrors.decryptFailed('HPKE open failed: wrong key, wrong info or aad, or altered ciphertext')
  }
}

/** Export a secret from the context (RFC 9180 §5.3). */
export function contextExport(ctx: HpkeContext, exporterContext: Uint8Array, length: number): Buffer {
  return labeledExpand(hpkeSuite(ctx.aead), ctx.exporterSecret, 'sec', exporterContext, length)
}

/** Single-shot seal to a public key: returns enc ‖ ciphertext (enc is 32 bytes). */
export function sealTo(recipientPublicKey: Uint8Array, info: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Buffer {
  const { enc, context } = setupBaseSender(recipientPublicKey, info)
  return Buffer.concat([enc, contextSeal(context, aad, plaintext)])
}

/** Single-shot open of sealTo's output with the recipient's private key. */
export function openWith(recipientPrivateKey: Uint8Array, info: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Buffer {
  if (sealed.length < 32 + NT) throw cryptoErrors.decryptFailed('sealed message is too short')
  return contextOpen(setupBaseRecipient(sealed.subarray(0, 32), recipientPrivateKey, info), aad, sealed.subarray(32))
}
