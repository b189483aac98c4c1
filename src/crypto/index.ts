export { canonicalJson, canonicalJsonBytes, canonicalJsonOfUnescaped } from './canonicalJson.js'
export { didKeyFromEd25519, ed25519FromDidKey } from './didKey.js'
export { IN_TOTO_PAYLOAD_TYPE, preAuthEncoding, signDsse, verifyDsse, type DsseEnvelope } from './dsse.js'
export {
  ed25519FromSeed,
  ed25519PublicKey,
  ed25519Seed,
  generateEd25519,
  signEd25519,
  verifyEd25519,
  type Ed25519KeyPair,
} from './ed25519.js'
export { fromHex, sha256, sha256File, sha256Hex, toHex } from './sha256.js'
export {
  contextExport,
  contextOpen,
  contextSeal,
  deriveX25519KeyPair,
  generateX25519,
  HPKE_AEAD,
  openWith,
  sealTo,
  setupBaseRecipient,
  setupBaseSender,
  x25519PublicKey,
  type HpkeAead,
  type HpkeContext,
  type X25519KeyPair,
} from './hpke.js'
export { aeadOpen, aeadSeal } from './aead.js'
export { randomBytesPooled } from './random.js'
export { cryptoErrors } from './errors.js'
