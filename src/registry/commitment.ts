import { digest } from '../log/index.js'

/** Domain tag of record commitments (ARCHITECTURE principle 1). */
export const RECORD_DOMAIN = 'provena.record.v1'

// The commitment is the RFC 9162 leaf hash of the salted record: the leaf prefix 0x00
// starts the domain, so the dataset root is an ordinary RFC 9162 tree whose leaf hashes
// are the commitments, and a record's inclusion proof is an ordinary inclusion proof.
const DOMAIN_BYTES = Buffer.concat([Buffer.of(0x00), Buffer.from(`${RECORD_DOMAIN}\0`, 'utf8')])
const HEAD = DOMAIN_BYTES.length + 8 + 32
let scratch = Buffer.alloc(HEAD + 4096)
DOMAIN_BYTES.copy(scratch)

function room(n: number): void {
  if (HEAD + n > scratch.length) {
    scratch = Buffer.alloc(2 * (HEAD + n))
    DOMAIN_BYTES.copy(scratch)
  }
}

function header(index: number): void {
  scratch.writeUInt32BE(Math.floor(index / 2 ** 32), DOMAIN_BYTES.length)
  scratch.writeUInt32BE(index >>> 0, DOMAIN_BYTES.length + 4)
}

/**
 * A record's commitment: SHA-256(0x00 ‖ "provena.record.v1\0" ‖ uint64be(index) ‖ salt ‖
 * canonical bytes), `canonical` given as bytes or as text (UTF-8 encoded here). The
 * 32-byte random salt makes it unlinkable to the record once the salt is destroyed.
 */
export function commitRecord(index: number, salt: Uint8Array, canonical: Uint8Array | string): Buffer {
  if (salt.length !== 32) throw new RangeError(`a record salt is 32 bytes, got ${salt.length}`)
  room(typeof canonical === 'string' ? 3 * canonical.length : canonical.length)
  header(index)
  scratch.set(salt, DOMAIN_BYTES.length + 8)
  const length = typeof canonical === 'string' ? scratch.write(canonical, HEAD, 'utf8') : (scratch.set(canonical, HEAD), canonical.length)
  return digest(scratch.subarray(0, HEAD + length))
}

/**
 * commitRecord for record bytes source[start, end) and the salt at salts[saltAt, saltAt+32),
 * without making views: the hot loop of dataset registration.
 */
export function commitRecordAt(index: number, salts: Buffer, saltAt: number, source: Buffer, start: number, end: number): Buffer {
  room(end - start)
  header(index)
  salts.copy(scratch, DOMAIN_BYTES.length + 8, saltAt, saltAt + 32)
  source.copy(scratch, HEAD, start, end)
  return digest(scratch.subarray(0, HEAD + end - start))
}
