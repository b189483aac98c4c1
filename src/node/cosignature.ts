// C2SP tlog-cosignature, Ed25519 `cosignature/v1` (c2sp.org/tlog-cosignature): a witness's
// timestamped signature over a checkpoint it checked, as a signed-note signature line.
import { hkdfSync, type KeyObject } from 'node:crypto'
import { ed25519FromSeed, ed25519Seed, sha256, signEd25519, verifyEd25519 } from '../crypto/index.js'

/** Signature type of Ed25519 cosignature/v1 keys in key ids and vkeys (C2SP signed-note). */
export const COSIGNATURE_V1_ALG = 0x04

/** A witness's public identity: its name (a schema-less URL) and Ed25519 public key. */
export interface WitnessIdentity {
  name: string
  publicKey: Buffer
}

/** A witness's signing key. */
export interface WitnessKey extends WitnessIdentity {
  privateKey: KeyObject
}

/** A signature line's parts: `— <name> base64(key id (4) ‖ timestamp (8, BE) ‖ signature (64))`. */
export interface CosignatureLine {
  name: string
  keyId: Buffer
  /** POSIX seconds. */
  timestamp: number
  signature: Buffer
}

const DASH = '\u2014 '
const MAX_TIMESTAMP = 2n ** 63n - 1n

/** The 4-byte key id of a cosignature/v1 key: SHA-256(name ‖ "\n" ‖ 0x04 ‖ key)[:4]. */
export function cosignatureKeyId(name: string, publicKey: Uint8Array): Buffer {
  return sha256(Buffer.from(`${name}\n`, 'utf8'), Buffer.of(COSIGNATURE_V1_ALG), publicKey).subarray(0, 4)
}

/** The witness's vkey "<name>+<hex key id>+<base64(0x04 ‖ key)>" (C2SP signed-note verifier key). */
export function witnessVerifierKey(w: WitnessIdentity): string {
  return `${w.name}+${cosignatureKeyId(w.name, w.publicKey).toString('hex')}+${Buffer.concat([Buffer.of(COSIGNATURE_V1_ALG), w.publicKey]).toString('base64')}`
}

/** The name and key of a cosignature/v1 vkey; undefined when it is not one (wrong type, key id or encoding). */
export function parseWitnessVerifierKey(vkey: string): WitnessIdentity | undefined {
  const m = /^([^+\s]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/=]+)$/.exec(vkey)
  if (!m) return undefined
  const raw = Buffer.from(m[3]!, 'base64')
  if (raw.length !== 33 || raw[0] !== COSIGNATURE_V1_ALG || raw.toString('base64') !== m[3]) return undefined
  const w = { name: m[1]!, publicKey: raw.subarray(1) }
  return cosignatureKeyId(w.name, w.publicKey).toString('hex') === m[2] ? w : undefined
}

/** The witness name of a node: "provena.witness/<first 8 bytes of SHA-256(key), hex>", as log origins are named. */
export function witnessName(publicKey: Uint8Array): string {
  return `provena.witness/${sha256(publicKey).subarray(0, 8).toString('hex')}`
}

/**
 * The node's witness key, derived from its operator's Ed25519 key with HKDF-SHA256 (info
 * "provena.witness.key/v1"): a key of its own, as the spec asks (the Ed25519 message does
 * not commit to the cosigner's name), with nothing more to seal or back up.
 *
 * @example
 * deriveWitnessKey(p.signer.privateKey) // { name: 'provena.witness/3f…', publicKey: <32 bytes>, privateKey }
 */
export function deriveWitnessKey(operatorKey: KeyObject): WitnessKey {
  const seed = Buffer.from(hkdfSync('sha256', ed25519Seed(operatorKey), Buffer.alloc(0), 'provena.witness.key/v1', 32))
  const pair = ed25519FromSeed(seed)
  return { name: witnessName(pair.publicKeyBytes), publicKey: pair.publicKeyBytes, privateKey: pair.privateKey }
}

/** The signed message: "cosignature/v1\ntime <T>\n" then the checkpoint body (with its final newline, no signatures). */
export function cosignedMessage(body: string, timestamp: number): Buffer {
  return Buffer.from(`cosignature/v1\ntime ${timestamp}\n${body}`, 'utf8')
}

/** The body of a signed note: everything up to and including the newline before the blank line. */
export function noteBody(note: string): string {
  const sep = note.indexOf('\n\n')
  return sep < 0 ? note : note.slice(0, sep + 1)
}

/**
 * Cosigns a checkpoint body at `timestamp` (POSIX seconds, > 0): the note signature line,
 * newline-terminated.
 *
 * @example
 * signCosignature(body, key, 1679315147) // '— provena.witness/3f… jWbPPwAAAABkGFDL…==\n'
 */
export function signCosignature(body: string, key: WitnessKey, timestamp: number): string {
  if (!Number.isSafeInteger(timestamp) || timestamp <= 0) throw new RangeError(`cosignature timestamp ${timestamp} is not a positive integer`)
  const ts = Buffer.alloc(8)
  ts.writeBigUInt64BE(BigInt(timestamp))
  const signature = signEd25519(key.privateKey, cosignedMessage(body, timestamp))
  return `${DASH}${key.name} ${Buffer.concat([cosignatureKeyId(key.name, key.publicKey), ts, signature]).toString('base64')}\n`
}

/**
 * Parses a cosignature/v1 line (with or without its newline); undefined when it is not
 * one: no em dash, a name with spaces, not 76 bytes of canonical base64, a timestamp over
 * 2^63 − 1 or beyond Number.MAX_SAFE_INTEGER.
 */
export function parseCosignatureLine(line: string): CosignatureLine | undefined {
  const text = line.endsWith('\n') ? line.slice(0, -1) : line
  if (!text.startsWith(DASH)) return undefined
  const rest = text.slice(DASH.length)
  const space = rest.lastIndexOf(' ')
  if (space <= 0) return undefined
  const name = rest.slice(0, space)
  const b64 = rest.slice(space + 1)
  if (/\s/.test(name)) return undefined
  const raw = Buffer.from(b64, 'base64')
  if (raw.length !== 76 || raw.toString('base64') !== b64) return undefined
  const ts = raw.readBigUInt64BE(4)
  if (ts > MAX_TIMESTAMP || ts > BigInt(Number.MAX_SAFE_INTEGER)) return undefined
  return { name, keyId: raw.subarray(0, 4), timestamp: Number(ts), signature: raw.subarray(12) }
}

/**
 * Verifies one cosignature line over a checkpoint body under a witness's pinned name and
 * key. Returns its timestamp when the line is by that key (name and key id match) and the
 * signature verifies; undefined otherwise (a line by another key is not an error: ignored).
 */
export function verifyCosignature(body: string, line: string, witness: WitnessIdentity): number | undefined {
  const c = parseCosignatureLine(line)
  if (!c || c.name !== witness.name || !c.keyId.equals(cosignatureKeyId(witness.name, witness.publicKey))) return undefined
  return verifyEd25519(witness.publicKey, cosignedMessage(body, c.timestamp), c.signature) ? c.timestamp : undefined
}

/**
 * Counts the distinct pinned witnesses with a valid cosignature among `lines` over `body`
 * (a key listed twice counts once; lines by unknown keys are ignored).
 *
 * @example
 * countCosigners(body, lines, witnesses) // { count: 2, names: ['provena.witness/aa…', 'provena.witness/bb…'] }
 */
export function countCosigners(body: string, lines: readonly string[], witnesses: readonly WitnessIdentity[]): { count: number; names: string[] } {
  const seen = new Set<string>()
  const names: string[] = []
  for (const w of witnesses) {
    const id = w.publicKey.toString('hex')
    if (seen.has(id)) continue
    if (lines.some((l) => verifyCosignature(body, l, w) !== undefined)) {
      seen.add(id)
      names.push(w.name)
    }
  }
  return { count: names.length, names }
}

/**
 * Packs cosignature lines for the chain (CheckpointAnchor): each line's 76 bytes (key id ‖
 * timestamp ‖ signature), without the witness name, which verifiers take from their pinned
 * consortium file. Lines that do not parse are skipped; order kept.
 *
 * @example
 * packCosignatures(['— provena.witness/aa… jWbP…==']) // Buffer of 76 bytes
 */
export function packCosignatures(lines: readonly string[]): Buffer {
  return Buffer.concat(
    lines.flatMap((l) => {
      const c = parseCosignatureLine(l)
      if (!c) return []
      const ts = Buffer.alloc(8)
      ts.writeBigUInt64BE(BigInt(c.timestamp))
      return [c.keyId, ts, c.signature]
    }),
  )
}

/**
 * The cosignature lines of packed on-chain cosignatures (76 bytes each), named after the
 * pinned witness whose key id each carries; one whose key id no pinned witness has is
 * dropped (it could not count). Verify them with countCosigners as any line.
 */
export function unpackCosignatures(packed: readonly Buffer[], witnesses: readonly WitnessIdentity[]): string[] {
  const byId = new Map(witnesses.map((w) => [cosignatureKeyId(w.name, w.publicKey).toString('hex'), w.name]))
  return packed.flatMap((raw) => {
    const name = raw.length === 76 ? byId.get(raw.subarray(0, 4).toString('hex')) : undefined
    return name ? [`${DASH}${name} ${Buffer.from(raw).toString('base64')}`] : []
  })
}
