import type { KeyObject } from 'node:crypto'
import { signEd25519, verifyEd25519 } from './ed25519.js'
import { cryptoErrors } from './errors.js'

/** A DSSE envelope (github.com/secure-systems-lab/dsse, envelope.md), as in-toto uses it. */
export interface DsseEnvelope {
  payloadType: string
  /** base64 of the payload bytes */
  payload: string
  signatures: { keyid: string; sig: string }[]
}

/** in-toto's payload type for Statements. */
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json'

/**
 * DSSE pre-authentication encoding: "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body,
 * lengths as ASCII decimal byte counts (protocol.md).
 */
export function preAuthEncoding(payloadType: string, payload: Uint8Array): Buffer {
  const type = Buffer.from(payloadType, 'utf8')
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${type.length} `, 'utf8'),
    type,
    Buffer.from(` ${payload.length} `, 'utf8'),
    payload,
  ])
}

/** Signs `payload` with an Ed25519 key into a DSSE envelope. */
export function signDsse(payloadType: string, payload: Uint8Array, keyid: string, privateKey: KeyObject): DsseEnvelope {
  const sig = signEd25519(privateKey, preAuthEncoding(payloadType, payload))
  return {
    payloadType,
    payload: Buffer.from(payload).toString('base64'),
    signatures: [{ keyid, sig: sig.toString('base64') }],
  }
}

/**
 * Verifies that some signature of `envelope` is by `publicKey` and returns the payload.
 * Throws CRYPTO_BAD_ENVELOPE or CRYPTO_BAD_SIGNATURE otherwise.
 */
export function verifyDsse(envelope: DsseEnvelope, publicKey: KeyObject | Uint8Array): Buffer {
  if (typeof envelope?.payloadType !== 'string' || typeof envelope.payload !== 'string' || !Array.isArray(envelope.signatures)) {
    throw cryptoErrors.badEnvelope('needs payloadType, payload and signatures')
  }
  const payload = Buffer.from(envelope.payload, 'base64')
  const pae = preAuthEncoding(envelope.payloadType, payload)
  const ok = envelope.signatures.some((s) => typeof s.sig === 'string' && verifyEd25519(publicKey, pae, Buffer.from(s.sig, 'base64')))
  if (!ok) throw cryptoErrors.badSignature(`no signature of the ${envelope.payloadType} envelope verifies`)
  return payload
}
