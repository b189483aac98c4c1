import { hash } from 'node:crypto'

/** Domain tag of record commitments (ARCHITECTURE principle 1). */
export const RECORD_DOMAIN = 'provena.record.v1'

// The commitment is the RFC 9162 leaf hash of the salted record: the leaf prefix 0x00
// starts the domain, so the dataset root is an ordinary RFC 9162 tree whose leaf hashes
// are the commitments, and a record's inclusion proof is an ordinary inclusion proof.
const DOMAIN_BYTES = Buffer.concat([Buffer.of(0x00), Buffer.from(`${RECORD_DOMAIN}\0`, 'utf8')])
const HEAD = DOMAIN_BYTES.length + 8 + 32
let scratch = Buffer.alloc(HEAD + 4096)
DOMAIN_BYTES.copy(scratch)

/**
 * A record's commitment: SHA-256(0x00 ‖ "provena.record.v1\0" ‖ uint64be(index) ‖ salt ‖
 * canonical bytes), `canonical` given as bytes or as text (UTF-8 encoded here). The
 * 32-byte random salt makes it unlinkable to the record once the salt is destroyed.
 */
export function commitRecord(index: number, salt: Uint8Array, canonical: Uint8Array | string): Buffer {
  if (salt.length !== 32) throw new RangeError(`a record salt is 32 bytes, got ${salt.length}`)
  const max = typeof canonical === 'string' ? 3 * canonical.length : canonical.length
  if (HEAD + max > scratch.length) {
    scratch = Buffer.alloc(2 * (HEAD + max))
    DOMAIN_BYTES.copy(scratch)
  }
  scratch.writeUInt32BE(Math.floor(index / 2 ** 32), DOMAIN_BYTES.length)
  scratch.writeUInt32BE(index >>> 0, DOMAIN_BYTES.length + 4)
  scratch.set(salt, DOMAIN_BYTES.length + 8)
  const length = typeof canonical === 'string' ? scratch.write(canonical, HEAD, 'utf8') : (scratch.set(canonical, HEAD), canonical.length)
  return hash('sha256', scratch.subarray(0, HEAD + length), 'buffer')
}

/** The RFC 9162 leaf bytes behind a commitment (what an inclusion proof's leaf hash hashes, minus 0x00). */
export function recordLeaf(index: number, salt: Uint8Array, canonical: Uint8Array | string): Buffer {
  const idx = Buffer.alloc(8)
  idx.writeBigUInt64BE(BigInt(index))
  return Buffer.concat([DOMAIN_BYTES.subarray(1), idx, salt, typeof canonical === 'string' ? Buffer.from(canonical, 'utf8') : canonical])
}
