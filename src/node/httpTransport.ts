// Messages between nodes over HTTP (issue 13): the same signed messages the files transport
// carries (src/node/transport.ts), posted to the receiving node's API with an RFC 9421
// signature under the sender's did:key, and the answers it gives. What crosses is checked
// by the receiver exactly as a file would be; HTTP adds who is calling, not trust.
import type { DsseEnvelope } from '../crypto/index.js'
import { ProvenaError } from '../errors.js'
import { signedFetch } from './httpClient.js'
import type { HttpSigningKey } from './httpSignatures.js'

/** Largest answer read from another node: a key release for a million records is ~150 MiB. */
const MAX_ANSWER_BYTES = 512 * 2 ** 20

/** The base URL of a node, without a trailing slash; refuses anything but http(s). */
export function nodeBaseUrl(url: string): string {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    throw new ProvenaError('CLI_BAD_ARGUMENT', `"${url}" is not a URL (the node's base URL, e.g. http://127.0.0.1:8080)`)
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ProvenaError('CLI_BAD_ARGUMENT', `"${url}" is not an http(s) URL`)
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}`
}

/** An answer that is not 2xx, as an error naming the node, the route and the node's own code. */
async function remoteError(res: Response, what: string): Promise<ProvenaError> {
  let problem: { code?: unknown; detail?: unknown; title?: unknown; hint?: unknown } = {}
  try {
    problem = (await res.json()) as typeof problem
  } catch {
    // Not a problem document: the status says it.
  }
  const code = typeof problem.code === 'string' ? problem.code : `HTTP ${res.status}`
  const detail = typeof problem.detail === 'string' ? problem.detail : typeof problem.title === 'string' ? problem.title : res.statusText
  return new ProvenaError('NODE_REMOTE_REFUSED', `${what}: the node answered ${res.status} ${code}: ${detail}`, {
    ...(typeof problem.hint === 'string' ? { hint: `the node says: ${problem.hint}` } : {}),
    details: { status: res.status, code, url: res.url },
  })
}

async function send(url: string, init: { method: string; body?: string }, key: HttpSigningKey, what: string): Promise<Response> {
  try {
    return await signedFetch(url, { method: init.method, ...(init.body !== undefined ? { body: init.body, headers: { 'content-type': 'application/json' } } : {}) }, key)
  } catch (cause) {
    throw new ProvenaError('NODE_UNREACHABLE', `${what}: cannot reach ${url}: ${(cause as Error).message}`, { hint: 'is the node serving (provena serve) and the URL right?', cause })
  }
}

async function body(res: Response, what: string): Promise<Buffer> {
  const declared = Number(res.headers.get('content-length') ?? '0')
  if (declared > MAX_ANSWER_BYTES) throw new ProvenaError('NODE_REMOTE_REFUSED', `${what}: the answer is ${declared} bytes, over the ${MAX_ANSWER_BYTES} this node reads`)
  const bytes = Buffer.from(await res.arrayBuffer())
  if (bytes.length > MAX_ANSWER_BYTES) throw new ProvenaError('NODE_REMOTE_REFUSED', `${what}: the answer is over the ${MAX_ANSWER_BYTES} bytes this node reads`)
  return bytes
}

/**
 * Posts a signed access request (src/service/accessRequest.ts) to the controller's node
 * and returns its key release, unchecked: the caller checks it as it would a file.
 */
export async function requestReleaseOverHttp(nodeUrl: string, request: DsseEnvelope, key: HttpSigningKey): Promise<unknown> {
  const url = `${nodeBaseUrl(nodeUrl)}/v1/access/release`
  const what = `key release from ${nodeBaseUrl(nodeUrl)}`
  const res = await send(url, { method: 'POST', body: JSON.stringify({ request }) }, key, what)
  if (!res.ok) throw await remoteError(res, what)
  let answer: { release?: unknown }
  try {
    answer = JSON.parse((await body(res, what)).toString('utf8')) as { release?: unknown }
  } catch (e) {
    if (e instanceof ProvenaError) throw e
    throw new ProvenaError('NODE_REMOTE_REFUSED', `${what}: the answer is not JSON`)
  }
  if (answer === null || typeof answer !== 'object' || answer.release === undefined) throw new ProvenaError('NODE_REMOTE_REFUSED', `${what}: the answer holds no "release"`)
  return answer.release
}

/** Fetches a ciphertext segment by CID from a node that released it to `key`'s member (the caller hashes it). */
export function segmentFetcher(nodeUrl: string, key: HttpSigningKey): (cid: string) => Promise<Buffer> {
  const base = nodeBaseUrl(nodeUrl)
  return async (cid) => {
    if (!/^[a-z0-9]{10,128}$/.test(cid)) throw new ProvenaError('ACCESS_BAD_RELEASE', `segment "${cid.slice(0, 80)}" is not a CID`)
    const what = `segment ${cid} from ${base}`
    const res = await send(`${base}/v1/segments/${cid}`, { method: 'GET' }, key, what)
    if (!res.ok) throw await remoteError(res, what)
    return body(res, what)
  }
}

/**
 * A segment source that reads ahead: asked for the segment at position i of `cids` (the
 * order an export reads them: a key release lists its segments in record order), it has
 * the next `ahead` ones on their way too, so that the round trips to the other node overlap
 * with hashing and decryption instead of adding up. Each segment is fetched once and held
 * only until asked for (at most `ahead` + 1 at a time); a read-ahead that fails is reported
 * to whoever asks for that segment, never before. A CID not in `cids` is fetched when asked.
 */
export function readAhead(fetchOne: (cid: string) => Promise<Buffer>, cids: readonly string[], ahead = 3): (cid: string) => Promise<Buffer> {
  const position = new Map<string, number>()
  cids.forEach((c, i) => position.has(c) || position.set(c, i))
  const started = new Map<string, Promise<Buffer>>()
  const taken = new Set<string>()
  const start = (cid: string): Promise<Buffer> => {
    let p = started.get(cid)
    if (!p) {
      p = fetchOne(cid)
      p.catch(() => {}) // reported when asked for
      started.set(cid, p)
    }
    return p
  }
  return (cid) => {
    const p = start(cid)
    started.delete(cid)
    taken.add(cid)
    const at = position.get(cid)
    if (at !== undefined) {
      for (let i = at + 1; i <= at + ahead && i < cids.length; i++) if (!taken.has(cids[i]!)) start(cids[i]!)
    }
    return p
  }
}

