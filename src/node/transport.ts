// How messages travel between nodes. The first transport is files: a message is a JSON
// file (a request file, a key-release file), carried by any means — a shared folder, a USB
// stick to an air-gapped site. The next issue adds HTTP behind the same interface.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { DsseEnvelope } from '../crypto/index.js'
import { ProvenaError } from '../errors.js'
import { messageDigest } from './messages.js'

/** Sends messages to another node and receives those sent to this one. */
export interface Transport {
  /** Sends `msg` to the node of `to` (a DID); returns where it went (a path, a URL). */
  send(msg: DsseEnvelope, to: string): Promise<string>
  /** The messages waiting for this node, oldest first (each once). */
  receive(): Promise<DsseEnvelope[]>
}

/**
 * Messages as files in folders: `send` writes `outbox/<digest>.json`, `receive` reads every
 * `*.json` of `inbox` and moves it to `inbox/done/` (a message is taken once; the
 * receiver's nonce check refuses a replay anyway).
 */
export class FileTransport implements Transport {
  constructor(
    private readonly outbox: string,
    private readonly inbox: string,
  ) {}

  async send(msg: DsseEnvelope, _to?: string): Promise<string> {
    const path = join(this.outbox, `${messageDigest(msg)}.json`)
    writeMessageFile(path, msg, true)
    return path
  }

  async receive(): Promise<DsseEnvelope[]> {
    if (!existsSync(this.inbox)) return []
    const names = readdirSync(this.inbox).filter((n) => n.endsWith('.json')).sort()
    const done = join(this.inbox, 'done')
    mkdirSync(done, { recursive: true })
    const out: DsseEnvelope[] = []
    for (const n of names) {
      out.push(readMessageFile(join(this.inbox, n)))
      renameSync(join(this.inbox, n), join(done, n))
    }
    return out
  }
}

/** Writes a message file (pretty JSON), atomically; refuses to replace a file unless `force`. */
export function writeMessageFile(path: string, msg: DsseEnvelope, force = false): void {
  if (!force && existsSync(path)) {
    throw new ProvenaError('CLI_OUT_EXISTS', `${path} exists already: nothing was written`, { hint: 'choose another --out, or add --force to replace it' })
  }
  mkdirSync(dirname(path), { recursive: true })
  const tmp = `${path}.tmp-${process.pid}`
  writeFileSync(tmp, JSON.stringify(msg, null, 2) + '\n', { mode: 0o600 })
  renameSync(tmp, path)
}

/** Reads a message file: a DSSE envelope (its signature is checked by verifyMessage, not here). */
export function readMessageFile(path: string): DsseEnvelope {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (e) {
    throw new ProvenaError('MESSAGE_UNREADABLE', `cannot read the message file ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`)
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (e) {
    throw new ProvenaError('MESSAGE_MALFORMED', `${path} is not JSON: ${(e as Error).message}`)
  }
  const env = value as DsseEnvelope
  for (const field of ['payloadType', 'payload'] as const) {
    if (env === null || typeof env !== 'object' || typeof env[field] !== 'string') throw new ProvenaError('MESSAGE_MALFORMED', `${path}: field "${field}" is missing or not a string (a DSSE envelope is expected)`)
  }
  if (!Array.isArray(env.signatures)) throw new ProvenaError('MESSAGE_MALFORMED', `${path}: field "signatures" is missing or not a list (a DSSE envelope is expected)`)
  return env
}
