import { base32nopad } from '@scure/base'
import { digest } from '../log/index.js'
import { storeErrors } from './errors.js'

// CIDv1 (multiformats/cid): version 0x01, codec raw 0x55, multihash sha2-256 (0x12, 32 bytes),
// in multibase base32 lower case ('b'). The same address IPFS gives the same bytes.
const PREFIX = Uint8Array.of(0x01, 0x55, 0x12, 0x20)

/** The CIDv1 (raw, sha2-256) of `bytes`. */
export function cidOf(bytes: Uint8Array): string {
  return cidFromDigest(digest(bytes))
}

/** The CIDv1 string of a sha2-256 digest. */
export function cidFromDigest(sha256: Uint8Array): string {
  const b = new Uint8Array(36)
  b.set(PREFIX)
  b.set(sha256, 4)
  return `b${base32nopad.encode(b).toLowerCase()}`
}

/** The sha2-256 digest inside a CIDv1 string; throws STORE_BAD_CID on anything else. */
export function digestOfCid(cid: string): Buffer {
  if (!/^b[a-z2-7]{58}$/.test(cid)) throw storeErrors.badCid(cid)
  let b: Uint8Array
  try {
    b = base32nopad.decode(cid.slice(1).toUpperCase())
  } catch {
    throw storeErrors.badCid(cid)
  }
  if (b.length !== 36 || PREFIX.some((v, i) => b[i] !== v)) throw storeErrors.badCid(cid)
  return Buffer.from(b.subarray(4))
}
