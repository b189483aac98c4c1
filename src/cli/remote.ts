// The CLI through a node's HTTP API: `provena --node URL [--token T] <command>`, and the
// CLI on a data dir that `provena serve` runs (one writer: the command goes through the
// node, with the operator's token from serve.json). JSON in and out; an RFC 9457 problem
// becomes the ProvenaError of its code (same exit code as the command run locally).
import { InvalidArgumentError, type Command } from 'commander'
import { resolveDataDir } from '../app/index.js'
import { findServingNode } from '../api/index.js'
import { isCatalogued } from '../errorCatalogue.js'
import { ProvenaError } from '../errors.js'
import { redactUrl, type CommonOptions } from './output.js'

/** A node the CLI sends its command to. */
export interface RemoteNode {
  /** The node's base URL (http://127.0.0.1:8080). */
  url: string
  /** The API token sent as Authorization: Bearer (none: the node answers API_UNAUTHENTICATED). */
  token: string | undefined
  /** Named by --node, or found serving the data dir (serve.json). */
  via: 'node' | 'serve'
}

/** What the CLI options carry once the program's --node and --token are copied onto the command. */
export interface RemoteOptions extends CommonOptions {
  node?: string
  token?: string
}

/**
 * The commands that run through a node (their words after `provena`). A command listed
 * here checks `remoteNode(opts)` first and, when it gets one, sends its request with
 * `remoteCall` and prints what it prints locally; any other refuses --node (CLI_NOT_REMOTE).
 * FL commands join by adding their words here and that check in their action.
 */
export const REMOTE_COMMANDS = new Set<string>([
  'dataset list',
  'dataset show',
  'dataset register',
  'dataset export',
  'consent grant',
  'consent withdraw',
  'consent refuse',
  'subject erase',
  'verify',
  'log show',
  'fl task create',
  'fl client run',
  'fl aggregate',
  'fl status',
])

/** Parses --node: an absolute http(s) URL without query or fragment (its path is kept as the API's base). */
export function nodeUrl(text: string): string {
  let u: URL | undefined
  try {
    u = new URL(text)
  } catch {
    u = undefined
  }
  if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:') || u.search || u.hash) throw new InvalidArgumentError(`--node must be an http(s) URL such as http://127.0.0.1:8080, got "${text}"`)
  return text.replace(/\/+$/, '')
}

/** A URL without user name and password, for messages. */
const shown = (url: string): string => redactUrl(url) ?? url

/**
 * The node a command goes through: --node (token from --token, else $PROVENA_TOKEN), else
 * the live `provena serve` of its data dir (its serve.json's token); undefined: run locally.
 */
export function remoteNode(opts: RemoteOptions): RemoteNode | undefined {
  if (opts.node !== undefined) return { url: opts.node, token: opts.token ?? (process.env.PROVENA_TOKEN || undefined), via: 'node' }
  const served = findServingNode(resolveDataDir(opts.dir))
  if (served?.token) return { url: served.url.replace(/\/+$/, ''), token: served.token, via: 'serve' }
  return undefined
}

/** Refuses --node on a command that has no route (exit 2): never run locally in its stead. */
export function refuseIfNotRemote(cmd: Command, path: string): void {
  const opts = cmd.opts() as RemoteOptions
  if (opts.node === undefined || REMOTE_COMMANDS.has(path)) return
  throw new ProvenaError('CLI_NOT_REMOTE', `provena ${path} cannot run on a node over HTTP (--node ${shown(opts.node)}): it has no route`, {
    hint: `these do: ${[...REMOTE_COMMANDS].join(', ')}; run the others on the node's machine`,
  })
}

/** What remoteCall sends: a JSON body, or bytes with their content type; a query string. */
export interface RemoteRequest {
  json?: unknown
  body?: Uint8Array | string | undefined
  contentType?: string | undefined
  query?: Record<string, string | number | undefined> | undefined
}

/**
 * Sends one request to the node and returns the raw response once it is a 2xx; a problem
 * becomes its ProvenaError (code, detail, hint), a refused connection API_NODE_UNREACHABLE
 * naming the URL. For a body to stream (an export); remoteCall for JSON.
 */
export async function remoteFetch(node: RemoteNode, method: string, path: string, req: RemoteRequest = {}): Promise<Response> {
  const url = new URL(node.url + path)
  for (const [k, v] of Object.entries(req.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v))
  const headers: Record<string, string> = { accept: 'application/json, application/problem+json, */*' }
  if (node.token) headers.authorization = `Bearer ${node.token}`
  let body: Uint8Array | string | undefined
  if (req.json !== undefined) {
    headers['content-type'] = 'application/json'
    body = JSON.stringify(req.json)
  } else if (req.body !== undefined) {
    headers['content-type'] = req.contentType ?? 'application/octet-stream'
    body = req.body
  }
  let res: Response
  try {
    res = await fetch(url, { method, headers, body, redirect: 'manual' })
  } catch (e) {
    throw new ProvenaError('API_NODE_UNREACHABLE', `cannot reach the node at ${shown(node.url)}: ${reason(e)}`, {
      cause: e,
      hint: node.via === 'serve' ? 'its provena serve stopped answering: check it, or stop it and run the command again' : 'check that provena serve runs there and the URL (--node) is right',
      details: { url: shown(node.url) },
    })
  }
  if (res.ok) return res
  const text = await res.text()
  let problem: { code?: unknown; detail?: unknown; hint?: unknown } | undefined
  try {
    problem = JSON.parse(text) as typeof problem
  } catch {
    problem = undefined
  }
  if (typeof problem?.code === 'string' && isCatalogued(problem.code)) {
    throw new ProvenaError(problem.code, typeof problem.detail === 'string' ? problem.detail : `the node answered ${res.status}`, {
      hint: typeof problem.hint === 'string' ? problem.hint : undefined,
      details: { node: shown(node.url), status: res.status },
    })
  }
  throw new ProvenaError('API_NODE_BAD_ANSWER', `the node at ${shown(node.url)} answered ${method} ${path} with HTTP ${res.status} and no problem document`, { details: { status: res.status } })
}

/**
 * One JSON request to the node: its JSON answer, or the ProvenaError its problem names.
 *
 * @example
 * const node = remoteNode(opts) // --node/--token, or the data dir's live provena serve
 * if (node) {
 *   const r = await remoteCall<{ datasets: AssetSummary[] }>(node, 'GET', '/v1/datasets')
 * }
 */
export async function remoteCall<T = unknown>(node: RemoteNode, method: string, path: string, req: RemoteRequest = {}): Promise<T> {
  const res = await remoteFetch(node, method, path, req)
  const text = await res.text()
  try {
    return JSON.parse(text) as T
  } catch {
    throw new ProvenaError('API_NODE_BAD_ANSWER', `the node at ${shown(node.url)} answered ${method} ${path} with something that is not JSON`)
  }
}

/** Why fetch failed, in a few words (the system error under "fetch failed"). */
function reason(error: unknown): string {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ECONNREFUSED') return 'connection refused'
    if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return 'the connection was closed'
    if (code === 'ENOTFOUND') return 'no such host'
    if (typeof code === 'string' && /^[A-Z_]+$/.test(code)) return code
  }
  // fetch's own TypeError says "fetch failed": its cause says why (a bad port, a bad certificate).
  let e: unknown = error
  for (let depth = 0; e instanceof Error && e.cause instanceof Error && depth < 8; depth++) e = e.cause
  return e instanceof Error ? e.message : String(e)
}
