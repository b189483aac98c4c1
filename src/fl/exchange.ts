// The FL exchange directory (PROTOCOL.md §4): what the coordinator's node and the clients'
// nodes hand each other as files, carried by any means (a shared folder, rsync, IPFS).
// Nothing in it is trusted for being there: the task is a message signed by the aggregator,
// each global model is checked against the digest on-chain, each sealed update and manifest
// against the client's commitment.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'

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
  const tmp = `${path}.tmp-${process.pid}`
  writeFileSync(tmp, bytes)
  renameSync(tmp, path)
}

/** A file of the exchange, or undefined when it is not there. */
export function readExchangeFile(path: string): Buffer | undefined {
  return existsSync(path) ? readFileSync(path) : undefined
}
