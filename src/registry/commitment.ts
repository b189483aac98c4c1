import { hash } from 'node:crypto'

/** Domain tag of record commitments (ARCHITECTURE principle 1). */
export const RECORD_DOMAIN = 'provena.record.v1'
const DOMAIN_BYTES = Buffer.from(`${RECORD_DOMAIN}\0`, 'utf8')
const HEAD = DOMAIN_BYTES.length + 8 + 32
let scratch = Buffer.alloc(HEAD + 4096)
DOMAIN_BYTES.copy(scratch)

/**
 * A record's commitment: SHA-256(domain ‖ uint64be(index) ‖ salt ‖ canonical bytes).
 * The 32-byte random salt makes it unlinkable to the record once the salt is destroyed.
 */
export function commitRecord(index: number, salt: Uint8Array, canonical: Uint8Array): Buffer {
  if (salt.length !== 32) throw new RangeError(`a record salt is 32 bytes, got ${salt.length}`)
  if (HEAD + canonical.length > scratch.length) {
    scratch = Buffer.alloc(2 * (HEAD + canonical.length))
    DOMAIN_BYTES.copy(scratch)
  }
  scratch.writeBigUInt64BE(BigInt(index), DOMAIN_BYTES.length)
  scratch.set(salt, DOMAIN_BYTES.length + 8)
  scratch.set(canonical, HEAD)
  return hash('sha256', scratch.subarray(0, HEAD + canonical.length), 'buffer')
}
