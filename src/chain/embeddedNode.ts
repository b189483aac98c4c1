import { spawn } from 'node:child_process'
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { chainErrors } from './errors.js'

/** What `node/node.json` in the data dir records about a running embedded node. */
export interface EmbeddedNodeInfo {
  pid: number
  rpcUrl: string
  /** Kept running between commands (`provena node start`), or owned by one command. */
  persistent: boolean
  /** The process that started (or adopted) a non-persistent node and will stop it. */
  ownerPid: number
  startedAt: string
}

/** Chain id of the embedded node. */
export const EMBEDDED_CHAIN_ID = 31337

const require = createRequire(import.meta.url)

/** Path of the anvil binary shipped in the npm package @foundry-rs/anvil for this platform. */
export function anvilBinary(): string {
  const arch = process.arch === 'x64' ? 'amd64' : process.arch
  const platform = process.platform === 'win32' ? 'windows' : process.platform
  const exe = process.platform === 'win32' ? 'anvil.exe' : 'anvil'
  try {
    return require.resolve(`@foundry-rs/anvil-${platform}-${arch}/bin/${exe}`)
  } catch (cause) {
    throw chainErrors.anvilMissing(cause)
  }
}

/**
 * The environment anvil runs with: PATH and HOME only. WARNING: it must not inherit
 * PROVENA_PASSPHRASE or PROVENA_OPERATOR_KEY; anyone who can read the process's
 * /proc/PID/environ (its user, root) would read them for as long as the node runs.
 */
export function anvilEnv(): Record<string, string> {
  const env: Record<string, string> = {}
  for (const k of ['PATH', 'HOME']) if (process.env[k] !== undefined) env[k] = process.env[k]!
  return env
}

const nodeDir = (dataDir: string) => join(dataDir, 'node')
const infoPath = (dataDir: string) => join(nodeDir(dataDir), 'node.json')

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
  // A killed node whose parent is gone may linger as a zombie where PID 1 does not reap.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return true
  }
}

/** The recorded node if its process is alive, else undefined (and the stale record is removed). */
export function readNodeInfo(dataDir: string): EmbeddedNodeInfo | undefined {
  const path = infoPath(dataDir)
  if (!existsSync(path)) return undefined
  let info: EmbeddedNodeInfo
  try {
    info = JSON.parse(readFileSync(path, 'utf8')) as EmbeddedNodeInfo
  } catch {
    rmSync(path, { force: true })
    return undefined
  }
  if (!isAlive(info.pid)) {
    rmSync(path, { force: true })
    return undefined
  }
  return info
}

async function isServing(rpcUrl: string): Promise<boolean> {
  try {
    const res = await fetch(rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
      signal: AbortSignal.timeout(2000),
    })
    return res.ok
  } catch {
    return false
  }
}

/**
 * Starts anvil for this data dir, its chain state in `node/state.json`: loaded at start,
 * written every second (--state-interval) and on a graceful stop. A crash can lose the
 * last second of blocks; the outbox re-checks and re-sends what was lost.
 */
export async function startEmbeddedNode(dataDir: string, persistent: boolean): Promise<EmbeddedNodeInfo> {
  const dir = nodeDir(dataDir)
  mkdirSync(dir, { recursive: true })
  const logPath = join(dir, 'anvil.log')
  const out = openSync(logPath, 'w')
  const child = spawn(
    anvilBinary(),
    ['--host', '127.0.0.1', '--port', '0', '--chain-id', String(EMBEDDED_CHAIN_ID), '--state', join(dir, 'state.json'), '--state-interval', '1'],
    { detached: true, stdio: ['ignore', out, out], env: anvilEnv() },
  )
  closeSync(out)
  let exited: number | null | undefined
  child.on('exit', (code) => (exited = code))
  child.unref()
  const deadline = Date.now() + 30_000
  for (;;) {
    const text = existsSync(logPath) ? readFileSync(logPath, 'utf8') : ''
    const m = /Listening on ([0-9.]+):(\d+)/.exec(text)
    if (m) {
      const info: EmbeddedNodeInfo = {
        pid: child.pid!,
        rpcUrl: `http://${m[1]}:${m[2]}`,
        persistent,
        ownerPid: process.pid,
        startedAt: new Date().toISOString(),
      }
      writeFileSync(infoPath(dataDir), JSON.stringify(info, null, 2) + '\n')
      return info
    }
    if (exited !== undefined) throw chainErrors.nodeStartFailed(`anvil exited with code ${exited}: ${text.trim().split('\n').slice(-3).join(' | ')}`, logPath)
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw chainErrors.nodeStartFailed('no "Listening on" line within 30 s', logPath)
    }
    await sleep(25)
  }
}

/** Stops the node gracefully (anvil writes its state on SIGTERM); SIGKILL after 15 s. */
export async function stopEmbeddedNode(dataDir: string): Promise<boolean> {
  const info = readNodeInfo(dataDir)
  if (!info) return false
  process.kill(info.pid, 'SIGTERM')
  const deadline = Date.now() + 15_000
  while (isAlive(info.pid)) {
    if (Date.now() > deadline) {
      process.kill(info.pid, 'SIGKILL')
      break
    }
    await sleep(25)
  }
  rmSync(infoPath(dataDir), { force: true })
  return true
}

/** A connection to the embedded node; `release()` stops it if this process owns it. */
export interface EmbeddedNodeLease {
  info: EmbeddedNodeInfo
  release(): Promise<void>
}

/**
 * Uses the data dir's running node, or starts one owned by this process. A non-persistent
 * node whose owner died (a crashed command) is adopted and stopped by this process.
 */
export async function acquireEmbeddedNode(dataDir: string): Promise<EmbeddedNodeLease> {
  let info = readNodeInfo(dataDir)
  if (info && !(await isServing(info.rpcUrl))) {
    process.kill(info.pid, 'SIGKILL')
    rmSync(infoPath(dataDir), { force: true })
    info = undefined
  }
  if (info && !info.persistent && !isAlive(info.ownerPid)) {
    info = { ...info, ownerPid: process.pid }
    writeFileSync(infoPath(dataDir), JSON.stringify(info, null, 2) + '\n')
  }
  info ??= await startEmbeddedNode(dataDir, false)
  const owned = !info.persistent && info.ownerPid === process.pid
  return {
    info,
    release: async () => {
      if (owned) await stopEmbeddedNode(dataDir)
    },
  }
}
