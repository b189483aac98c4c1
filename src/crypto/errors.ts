import { ProvenaError } from '../errors.js'

export const cryptoErrors = {
  nonCanonicalValue: (path: string, found: string) =>
    new ProvenaError('CRYPTO_NOT_CANONICALIZABLE', `cannot canonicalise ${found} at ${path} (RFC 8785 takes I-JSON only)`),
  badKey: (what: string, cause?: unknown) =>
    new ProvenaError('CRYPTO_BAD_KEY', `invalid key: ${what}`, { cause }),
  badSignature: (what: string) => new ProvenaError('CRYPTO_BAD_SIGNATURE', `signature does not verify: ${what}`),
  badEnvelope: (what: string) => new ProvenaError('CRYPTO_BAD_ENVELOPE', `invalid DSSE envelope: ${what}`),
  badDid: (did: string, why: string) => new ProvenaError('CRYPTO_BAD_DID', `invalid did:key ${did}: ${why}`),
  decryptFailed: (what: string) => new ProvenaError('CRYPTO_DECRYPT_FAILED', what),
}
