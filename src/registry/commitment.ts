import { createHash } from 'node:crypto'

/** Domain tag of record commitments (ARCHITECTURE principle 1). */
export const RECORD_DOMAIN = 'provena.record.v1'
const DOMAIN_BYTES = Buffer.from(`${RECORD_DOMAIN}\0`, 'utf8')

/**
 * A record's commitment: SHA-256(domain ‖ uint64be(index) ‖ salt ‖ canonical bytes).
 * The 32-byte random salt makes it unlinkable to the record once the salt is destroyed.
 */
export function commitRecord(index: number, salt: Uint8Array, canonical: Uint8Array): Buffer {
  const idx = Buffer.allocUnsafe(8)
  idx.writeBigUInt64BE(BigInt(index))
  return createHash('sha256').update(DOMAIN_BYTES).update(idx).update(salt).update(canonical).digest()
}
