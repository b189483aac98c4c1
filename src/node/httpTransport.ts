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
export async function remoteError(res: Response, what: string): Promise<ProvenaError> {
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

/** Sends a request signed under `key` (a JSON body when given); NODE_UNREACHABLE when the node cannot be reached. */
export async function sendSigned(url: string, init: { method: string; body?: string }, key: HttpSigningKey, what: string): Promise<Response> {
  try {
    return await signedFetch(url, { method: init.method, ...(init.body !== undefined ? { body: init.body, headers: { 'content-type': 'application/json' } } : {}) }, key)
  } catch (cause) {
    throw new ProvenaError('NODE_UNREACHABLE', `${what}: cannot reach ${url}: ${(cause as Error).message}`, { hint: 'is the node serving (provena serve) and the URL right?', cause })
  }
}

/** An answer's bytes, refused above MAX_ANSWER_BYTES. */
export async function answerBytes(res: Response, what: string): Promise<Buffer> {
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
  const res = await sendSigned(url, { method: 'POST', body: JSON.stringify({ request }) }, key, what)
  if (!res.ok) throw await remoteError(res, what)
  let answer: { release?: unknown }
  try {
    answer = JSON.parse((await answerBytes(res, what)).toString('utf8')) as { release?: unknown }
  } catch (e) {
    if (e instanceof ProvenaError) throw e
    throw new ProvenaError('NODE_REMOTE_REFUSED', `${what}: the answer is not JSON`)
  }
  if (answer === null || typeof answer !== 'object' || answer.release === undefined) throw new ProvenaError('NODE_REMOTE_REFUSED', `${what}: the answer holds no "release"`)
  return answer.release
}

/** Fetches a ciphertext segment by CID from a node that released it to `key`'s member (the caller hashes it); segmentsFetcher takes several at once. */
export function segmentFetcher(nodeUrl: string, key: HttpSigningKey): (cid: string) => Promise<Buffer> {
  const base = nodeBaseUrl(nodeUrl)
  return async (cid) => {
    if (!/^[a-z0-9]{10,128}$/.test(cid)) throw new ProvenaError('ACCESS_BAD_RELEASE', `segment "${cid.slice(0, 80)}" is not a CID`)
    const what = `segment ${cid} from ${base}`
    const res = await sendSigned(`${base}/v1/segments/${cid}`, { method: 'GET' }, key, what)
    if (!res.ok) throw await remoteError(res, what)
    return answerBytes(res, what)
  }
}

/** The most segments one request asks for (GET /v1/segments/{cid},{cid},…). */
export const SEGMENTS_PER_REQUEST = 8

/**
 * Fetches several segments by CID in one signed request from a node that released them to
 * `key`'s member (`GET /v1/segments/cid1,cid2,…`): their bytes, in order, split by the
 * lengths the node states (the caller hashes each against its CID).
 */
export function segmentsFetcher(nodeUrl: string, key: HttpSigningKey): (cids: readonly string[]) => Promise<Buffer[]> {
  const base = nodeBaseUrl(nodeUrl)
  return async (cids) => {
    if (cids.length === 0) return []
    if (cids.length > SEGMENTS_PER_REQUEST) throw new ProvenaError('INTERNAL', `${cids.length} segments in one request: at most ${SEGMENTS_PER_REQUEST}`)
    for (const cid of cids) if (!/^[a-z0-9]{10,128}$/.test(cid)) throw new ProvenaError('ACCESS_BAD_RELEASE', `segment "${cid.slice(0, 80)}" is not a CID`)
    const what = `segment${cids.length > 1 ? 's' : ''} ${cids.join(', ')} from ${base}`
    const res = await sendSigned(`${base}/v1/segments/${cids.join(',')}`, { method: 'GET' }, key, what)
    if (!res.ok) throw await remoteError(res, what)
    const bytes = await answerBytes(res, what)
    if (cids.length === 1) return [bytes]
    const lengths = (res.headers.get('provena-segment-lengths') ?? '').split(',').map(Number)
    if (lengths.length !== cids.length || lengths.some((n) => !Number.isSafeInteger(n) || n < 0) || lengths.reduce((a, b) => a + b, 0) !== bytes.length) {
      throw new ProvenaError('NODE_REMOTE_REFUSED', `${what}: the answer's Provena-Segment-Lengths does not split its ${bytes.length} bytes into ${cids.length} segments`)
    }
    // Each in a buffer of its own: a view into the whole answer would be copied whole when
    // posted to a worker thread (structured clone copies a view's entire ArrayBuffer).
    const out: Buffer[] = []
    let at = 0
    for (const n of lengths) {
      const own = Buffer.allocUnsafeSlow(n) // never a slice of the shared pool either
      bytes.copy(own, 0, at, (at += n))
      out.push(own)
    }
    return out
  }
}

/**
 * A segment source that reads ahead: the segments of `cids` (in the order an export reads
 * them: a key release lists its segments in record order) are fetched `batch` at a time,
 * one request each; asked for one, the batch holding it and the next are on their way, so
 * the round trips to the other node overlap with hashing and decryption and there are few
 * of them. Each segment is fetched once and held only until asked for (two batches at a
 * time); a read-ahead that fails is reported to whoever asks for one of its segments,
 * never before. A CID not in `cids`, or asked for again, is fetched alone when asked.
 */
export function readAhead(fetchMany: (cids: readonly string[]) => Promise<Buffer[]>, cids: readonly string[], batch = SEGMENTS_PER_REQUEST): (cid: string) => Promise<Buffer> {
  const order = [...new Set(cids)]
  const position = new Map(order.map((c, i) => [c, i]))
  const batches = new Map<number, Promise<Buffer[]>>()
  const taken = new Set<string>()
  const start = (b: number): Promise<Buffer[]> | undefined => {
    if (b * batch >= order.length) return undefined
    let p = batches.get(b)
    if (!p) {
      p = fetchMany(order.slice(b * batch, (b + 1) * batch))
      p.catch(() => {}) // reported when one of its segments is asked for
      batches.set(b, p)
    }
    return p
  }
  return async (cid) => {
    const at = position.get(cid)
    if (at === undefined || taken.has(cid)) return (await fetchMany([cid]))[0]!
    taken.add(cid)
    const b = Math.floor(at / batch)
    const mine = start(b)!
    start(b + 1)
    // A batch is let go once every segment of it was asked for.
    if (order.slice(b * batch, (b + 1) * batch).every((c) => taken.has(c))) batches.delete(b)
    return (await mine)[at - b * batch]!
  }
}
