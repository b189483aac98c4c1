// One writer per data dir: while `provena serve` runs it keeps <dir>/serve.json {url, pid};
// other commands that write refuse, naming the URL. A file left by a process that died
// (kill -9) names a dead pid and is ignored.
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { isProcessAlive } from '../access/index.js'
import { apiErrors } from './errors.js'

/** What serve.json holds. */
export interface ServeInfo {
  url: string
  pid: number
  startedAt: string
  /**
   * The operator's API token (every scope; revoked at stop): the CLI on this data dir sends
   * its commands to the node with it. The file is 0600 in the 0700 data dir: whoever reads
   * it could read the database anyway.
   */
  token?: string | undefined
}

export const serveFilePath = (dir: string) => join(dir, 'serve.json')

/** The node serving `dir`, if one runs (a stale or unreadable serve.json counts as none). */
export function findServingNode(dir: string): ServeInfo | undefined {
  let info: Partial<ServeInfo>
  try {
    info = JSON.parse(readFileSync(serveFilePath(dir), 'utf8')) as Partial<ServeInfo>
  } catch {
    return undefined
  }
  if (typeof info.url !== 'string' || !Number.isSafeInteger(info.pid) || (info.pid as number) <= 0) return undefined
  if (info.pid === process.pid || !isProcessAlive(info.pid as number)) return undefined
  return { url: info.url, pid: info.pid as number, startedAt: String(info.startedAt ?? ''), ...(typeof info.token === 'string' ? { token: info.token } : {}) }
}

/** Throws API_NODE_SERVED naming the URL when another process serves `dir` (and, given, the commands that go through it). */
export function refuseIfServed(dir: string, through?: readonly string[]): void {
  const node = findServingNode(dir)
  if (node) throw apiErrors.nodeServed(node.url, node.pid, through)
}

/**
 * Claims the data dir for this process: refuses if a live node serves it, else writes
 * serve.json (replacing a stale one). Returns the function that removes it (only if it is still ours).
 */
export function claimDataDir(dir: string, url: string, token?: string): () => void {
  const info: ServeInfo = { url, pid: process.pid, startedAt: new Date().toISOString(), ...(token ? { token } : {}) }
  // Created exclusively: of two nodes starting at once on one data dir, one wins.
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(serveFilePath(dir), JSON.stringify(info) + '\n', { mode: 0o600, flag: 'wx' })
      break
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
      refuseIfServed(dir)
      if (attempt > 0) throw e
      rmSync(serveFilePath(dir), { force: true }) // stale: its process is gone
    }
  }
  return () => {
    try {
      const now = JSON.parse(readFileSync(serveFilePath(dir), 'utf8')) as Partial<ServeInfo>
      if (now.pid === process.pid) rmSync(serveFilePath(dir), { force: true })
    } catch {
      // gone already
    }
  }
}

/** Replaces the token in this process's serve.json (a renewed one), atomically (0600, by rename). */
export function renewServeToken(dir: string, token: string): void {
  const now = JSON.parse(readFileSync(serveFilePath(dir), 'utf8')) as ServeInfo
  if (now.pid !== process.pid) return
  const tmp = `${serveFilePath(dir)}.${process.pid}.tmp`
  writeFileSync(tmp, JSON.stringify({ ...now, token }) + '\n', { mode: 0o600 })
  renameSync(tmp, serveFilePath(dir))
}
