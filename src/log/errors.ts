import { ProvenaError } from '../errors.js'
import { describeEntry } from './describeEntry.js'

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')

export const logErrors = {
  badProof: (what: string) => new ProvenaError('LOG_BAD_PROOF', what),
  rootMismatch: (what: string, expected: Uint8Array, calculated: Uint8Array) =>
    new ProvenaError('LOG_ROOT_MISMATCH', `${what}: expected root ${hex(expected)}, calculated ${hex(calculated)}`, {
      details: { expected: hex(expected), calculated: hex(calculated) },
      hint: 'the log no longer matches what was signed or anchored: run provena verify to name the first entry that differs',
    }),
  outOfRange: (what: string) => new ProvenaError('LOG_OUT_OF_RANGE', what),
  badCheckpoint: (what: string) => new ProvenaError('LOG_BAD_CHECKPOINT', what),
  badMapProof: (what: string) => new ProvenaError('LOG_BAD_MAP_PROOF', what),
  /** An entry's bytes do not hash to the leaf hash stored (and proven) for it. */
  leafMismatch: (index: number, leaf: Uint8Array, stored: Uint8Array, calculated: Uint8Array) =>
    new ProvenaError(
      'LOG_LEAF_MISMATCH',
      `log entry ${index} (${describeEntry(leaf)}) does not hash to its leaf hash: stored ${hex(stored)}, SHA-256(0x00 ‖ leaf) of its bytes ${hex(calculated)}`,
      {
        hint: "the entry's bytes were altered after it was logged; restore the data dir from a backup",
        details: { index, stored: hex(stored), calculated: hex(calculated), leaf: Buffer.from(leaf).toString('base64') },
      },
    ),
}
