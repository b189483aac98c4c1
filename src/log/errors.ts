import { ProvenaError } from '../errors.js'

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')

export const logErrors = {
  badProof: (what: string) => new ProvenaError('LOG_BAD_PROOF', what),
  rootMismatch: (what: string, expected: Uint8Array, calculated: Uint8Array) =>
    new ProvenaError('LOG_ROOT_MISMATCH', `${what}: expected root ${hex(expected)}, calculated ${hex(calculated)}`, {
      details: { expected: hex(expected), calculated: hex(calculated) },
    }),
  outOfRange: (what: string) => new ProvenaError('LOG_OUT_OF_RANGE', what),
  badCheckpoint: (what: string) => new ProvenaError('LOG_BAD_CHECKPOINT', what),
  badMapProof: (what: string) => new ProvenaError('LOG_BAD_MAP_PROOF', what),
}
