// The FL exchange (PROTOCOL.md §4): what the coordinator's node and the clients' nodes hand
// each other, through a directory carried by any means (a shared folder, rsync, IPFS) or
// over HTTP (the coordinator's node serves its own exchange directory, src/api/routes/fl.ts).
// Nothing in it is trusted for being there: the task is a message signed by the aggregator,
// each global model is checked against the digest on-chain, each sealed update and manifest
// against the client's commitment.
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { DsseEnvelope } from '../crypto/index.js'
import { readMessageFile, writeMessageFile } from '../node/transport.js'

/** The message type of a published task. */
export const FL_TASK_MESSAGE = 'provena.fl.task/v1'

/** The body of a task message (its header's purpose is the task's purpose). */
export interface FlTaskMessageBody {
  task: number
  chainId: number
  federatedTraining: string
  specDigest: string
  /** The task spec (its RFC 8785 JSON hashes to specDigest). */
  spec: Record<string, unknown>
  aggregator: { did: string; address: string; x25519: string }
  participants: { did: string; address: string }[]
  rounds: number
  /** SHA-256 of round 1's global model (later rounds': RoundFinalized.aggregateDigest on-chain). */
  initialModel: string
}

const lower = (a: string) => a.toLowerCase()

/** The paths of the exchange directory `root` for task `task`. */
export function exchangePaths(root: string, task: number) {
  const t = join(root, `task-${task}`)
  return {
    taskMessage: (participant: string) => join(t, `task-${lower(participant)}.json`),
    globalModel: (round: number) => join(t, `round-${round}`, 'global.safetensors'),
    finalModel: join(t, 'final.safetensors'),
    sealedUpdate: (round: number, client: string) => join(t, `round-${round}`, `${lower(client)}.sealed`),
    manifest: (round: number, client: string) => join(t, `round-${round}`, `${lower(client)}.manifest.json`),
  }
}

/** Writes a file of the exchange atomically (a reader never sees half of it). */
export function writeExchangeFile(path: string, bytes: Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true })
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`
  writeFileSync(tmp, bytes)
  renameSync(tmp, path)
}

/** A file of the exchange, or undefined when it is not there. */
export function readExchangeFile(path: string): Buffer | undefined {
  return existsSync(path) ? readFileSync(path) : undefined
}

/**
 * What a client's node and the coordinator's node exchange, whatever carries it (a
 * directory, HTTP): read by a client, the task message addressed to it and the global
 * models; written by a client, its sealed update and manifest of a round; read by the
 * aggregator, the deliveries of a round. Undefined: not there (yet).
 */
export interface FlExchange {
  /** Where it is (a directory, a node's URL), named in errors. */
  readonly where: string
  /** The signed task message addressed to `participant` (its EVM address). */
  taskMessage(task: number, participant: string): Promise<unknown>
  /** Where the task message for `participant` is, named in errors. */
  taskMessageAt(task: number, participant: string): string
  /** The global model that starts `round`. */
  globalModel(task: number, round: number): Promise<Buffer | undefined>
  /** Where the global model of `round` is, named in errors. */
  globalModelAt(task: number, round: number): string
  /** The final model of a completed task. */
  finalModel(task: number): Promise<Buffer | undefined>
  /** Delivers `client`'s sealed update and training manifest of `round`; returns where they went. */
  putUpdate(task: number, round: number, client: string, sealed: Uint8Array, manifest: Uint8Array): Promise<string[]>
  /** The clients (lower-case addresses) whose sealed update and manifest of `round` are there. */
  deliveries(task: number, round: number): Promise<string[]>
  /** `client`'s delivery of `round`, both files, or undefined. */
  delivery(task: number, round: number, client: string): Promise<{ sealed: Buffer; manifest: Buffer } | undefined>
}

/** The coordinator's side of a directory exchange: what it publishes there besides reading. */
export interface FlExchangeDirectory extends FlExchange {
  readonly root: string
  putTaskMessage(task: number, participant: string, envelope: unknown): string
  putGlobalModel(task: number, round: number, bytes: Uint8Array): string
  putFinalModel(task: number, bytes: Uint8Array): string
}

const ADDRESS_FILE = /^(0x[0-9a-f]{40})\.sealed$/

/** The exchange directory `root` (PROTOCOL.md §4): every file written atomically. */
export function directoryExchange(root: string): FlExchangeDirectory {
  const write = (path: string, bytes: Uint8Array) => (writeExchangeFile(path, bytes), path)
  return {
    root,
    where: root,
    taskMessage: async (task, participant) => readMessageFile(exchangePaths(root, task).taskMessage(participant)),
    taskMessageAt: (task, participant) => exchangePaths(root, task).taskMessage(participant),
    globalModel: async (task, round) => readExchangeFile(exchangePaths(root, task).globalModel(round)),
    globalModelAt: (task, round) => exchangePaths(root, task).globalModel(round),
    finalModel: async (task) => readExchangeFile(exchangePaths(root, task).finalModel),
    async putUpdate(task, round, client, sealed, manifest) {
      const paths = exchangePaths(root, task)
      // The manifest first: a delivery counts once its sealed update is there.
      return [write(paths.manifest(round, client), manifest), write(paths.sealedUpdate(round, client), sealed)].reverse()
    },
    async deliveries(task, round) {
      const dir = dirname(exchangePaths(root, task).globalModel(round))
      if (!existsSync(dir)) return []
      const paths = exchangePaths(root, task)
      return readdirSync(dir)
        .map((n) => ADDRESS_FILE.exec(n)?.[1])
        .filter((a): a is string => a !== undefined && existsSync(paths.manifest(round, a)))
        .sort()
    },
    async delivery(task, round, client) {
      const paths = exchangePaths(root, task)
      const sealed = readExchangeFile(paths.sealedUpdate(round, client))
      const manifest = readExchangeFile(paths.manifest(round, client))
      return sealed && manifest ? { sealed, manifest } : undefined
    },
    putTaskMessage(task, participant, envelope) {
      const path = exchangePaths(root, task).taskMessage(participant)
      writeMessageFile(path, envelope as DsseEnvelope, true)
      return path
    },
    putGlobalModel: (task, round, bytes) => write(exchangePaths(root, task).globalModel(round), bytes),
    putFinalModel: (task, bytes) => write(exchangePaths(root, task).finalModel, bytes),
  }
}
