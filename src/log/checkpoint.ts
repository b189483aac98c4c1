import type { KeyObject } from 'node:crypto'
import { sha256, signEd25519, verifyEd25519 } from '../crypto/index.js'
import { logErrors } from './errors.js'

/**
 * A log checkpoint (C2SP tlog-checkpoint): the log's origin, size and root, and the root of
 * the log's state map (the consent map) as an extension line when it is not empty.
 */
export interface Checkpoint {
  origin: string
  treeSize: number
  rootHash: Buffer
  mapRoot?: Buffer | undefined
}

const MAP_LINE = 'provena-map '

// C2SP signed-note: Ed25519 is signature type 0x01.
const ED25519_ALG = 0x01

/**
 * The checkpoint body: "<origin>\n<size>\n<base64 root>\n", then "provena-map <base64 map
 * root>\n" when the map root is given and not 32 zero bytes (an empty map).
 */
export function formatCheckpoint(c: Checkpoint): string {
  if (c.origin.length === 0 || /[\n+ ]/.test(c.origin)) throw logErrors.badCheckpoint(`origin "${c.origin}" must be non-empty, with no space, plus or newline`)
  const map = c.mapRoot && c.mapRoot.some((b) => b !== 0) ? `${MAP_LINE}${c.mapRoot.toString('base64')}\n` : ''
  return `${c.origin}\n${c.treeSize}\n${c.rootHash.toString('base64')}\n${map}`
}

/** The 4-byte key id of an Ed25519 note key: SHA-256(name ‖ "\n" ‖ 0x01 ‖ key)[:4]. */
export function noteKeyId(name: string, publicKey: Uint8Array): Buffer {
  return sha256(Buffer.from(`${name}\n`, 'utf8'), Buffer.of(ED25519_ALG), publicKey).subarray(0, 4)
}

/** The verifier key string "<name>+<hex key id>+<base64(0x01 ‖ key)>" (C2SP signed-note). */
export function noteVerifierKey(name: string, publicKey: Uint8Array): string {
  return `${name}+${noteKeyId(name, publicKey).toString('hex')}+${Buffer.concat([Buffer.of(ED25519_ALG), publicKey]).toString('base64')}`
}

/**
 * Signs a checkpoint as a C2SP signed note: body, blank line, one line
 * "— <name> <base64(key id ‖ signature)>". Returns the note and the raw signature.
 */
export function signCheckpoint(c: Checkpoint, name: string, privateKey: KeyObject, publicKey: Uint8Array): { note: string; signature: Buffer } {
  const body = formatCheckpoint(c)
  const signature = signEd25519(privateKey, Buffer.from(body, 'utf8'))
  const line = `\u2014 ${name} ${Buffer.concat([noteKeyId(name, publicKey), signature]).toString('base64')}\n`
  return { note: `${body}\n${line}`, signature }
}

/**
 * Parses a signed checkpoint note and verifies the signature of `name`'s Ed25519 key.
 * Throws LOG_BAD_CHECKPOINT when malformed or when no signature by that key verifies.
 */
export function openCheckpoint(note: string, name: string, publicKey: Uint8Array): Checkpoint {
  const sep = note.indexOf('\n\n')
  if (sep < 0) throw logErrors.badCheckpoint('signed note has no blank line before its signatures')
  const body = note.slice(0, sep + 1)
  const lines = body.split('\n')
  if (lines.length < 4) throw logErrors.badCheckpoint('checkpoint body needs origin, size and root lines')
  const [origin, sizeText, rootText] = lines as [string, string, string]
  if (!/^(0|[1-9][0-9]*)$/.test(sizeText)) throw logErrors.badCheckpoint(`tree size "${sizeText}" is not a decimal number`)
  const rootHash = Buffer.from(rootText, 'base64')
  if (rootHash.length !== 32 || rootHash.toString('base64') !== rootText) throw logErrors.badCheckpoint('root hash is not 32 bytes of base64')
  const keyId = noteKeyId(name, publicKey)
  const verified = note
    .slice(sep + 2)
    .split('\n')
    .filter((l) => l.startsWith(`\u2014 ${name} `))
    .some((l) => {
      const raw = Buffer.from(l.slice(`\u2014 ${name} `.length), 'base64')
      return raw.length === 68 && raw.subarray(0, 4).equals(keyId) && verifyEd25519(publicKey, Buffer.from(body, 'utf8'), raw.subarray(4))
    })
  if (!verified) throw logErrors.badCheckpoint(`no valid signature by ${name} on the checkpoint`)
  const mapLine = lines.slice(3).find((l) => l.startsWith(MAP_LINE))
  const mapRoot = mapLine ? Buffer.from(mapLine.slice(MAP_LINE.length), 'base64') : Buffer.alloc(32)
  if (mapRoot.length !== 32) throw logErrors.badCheckpoint('map root is not 32 bytes of base64')
  return { origin, treeSize: Number(sizeText), rootHash, mapRoot }
}

/** Verifies a raw Ed25519 signature over a checkpoint body (as emitted on-chain). */
export function isCheckpointSignatureValid(c: Checkpoint, publicKey: Uint8Array, signature: Uint8Array): boolean {
  return verifyEd25519(publicKey, Buffer.from(formatCheckpoint(c), 'utf8'), signature)
}
