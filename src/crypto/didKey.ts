import { base58 } from '@scure/base'
import { cryptoErrors } from './errors.js'

// Multicodec varint prefix of an Ed25519 public key (0xed), did:key spec §3.1.
const ED25519_PUB = Uint8Array.of(0xed, 0x01)

/**
 * The did:key identifier of an Ed25519 public key: `did:key:z` + base58btc(0xed01 ‖ key).
 *
 * @example
 * didKeyFromEd25519(pub) // 'did:key:z6Mk…'
 */
export function didKeyFromEd25519(publicKey: Uint8Array): string {
  const bytes = new Uint8Array(ED25519_PUB.length + publicKey.length)
  bytes.set(ED25519_PUB)
  bytes.set(publicKey, ED25519_PUB.length)
  return `did:key:z${base58.encode(bytes)}`
}

/** The Ed25519 public key inside a did:key; throws on any other key type. */
export function ed25519FromDidKey(did: string): Uint8Array {
  if (!did.startsWith('did:key:z')) throw cryptoErrors.badDid(did, 'expected did:key:z…')
  let bytes: Uint8Array
  try {
    bytes = base58.decode(did.slice('did:key:z'.length))
  } catch (cause) {
    throw cryptoErrors.badDid(did, `not base58btc (${(cause as Error).message})`)
  }
  if (bytes[0] !== 0xed || bytes[1] !== 0x01 || bytes.length !== 34) throw cryptoErrors.badDid(did, 'not an Ed25519 key')
  return bytes.slice(2)
}
