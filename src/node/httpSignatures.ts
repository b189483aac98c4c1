// HTTP Message Signatures (RFC 9421) between nodes: a request is signed under the sending
// member's Ed25519 key (its did:key is the keyid), its body bound by a Content-Digest
// (RFC 9530, sha-256). The receiver checks, in this order: both headers are there; they
// parse; one signature carries our tag; its parameters (created, expires, nonce, keyid,
// alg="ed25519"); it covers @method, @target-uri, and, when there is a body,
// content-digest (and content-type when the request has one); the target URI is at one of
// the node's origins; the time window; the key (resolveKey: a member's); the signature;
// the body against its digest; and last the nonce (never seen from that key), recorded only
// when everything else passed.
import { createHash, randomBytes, type KeyObject } from 'node:crypto'
import { signEd25519, verifyEd25519 } from '../crypto/index.js'
import { ProvenaError } from '../errors.js'
import type { NonceTable } from './messages.js'
import { parseSfDictionary, serializeSfDictionary, serializeSfMember, SfParseError, type SfBareItem, type SfDictionary, type SfInnerList, type SfParameters } from './structuredFields.js'

/** The tag (RFC 9421 §2.3) of Provena's node-to-node signatures: a signature made for another application is not ours. */
export const SIGNATURE_TAG = 'provena'

/** The label our signatures carry in Signature-Input and Signature. */
export const SIGNATURE_LABEL = 'sig1'

/** How long a signature is valid by default (RFC 9421 `expires` = created + this). */
export const SIGNATURE_TTL_SECONDS = 60

/** Why a signed request is refused (the error codes, stable for scripts). */
export const SIGNATURE_ERRORS = {
  missing: 'API_SIGNATURE_MISSING',
  malformed: 'API_SIGNATURE_MALFORMED',
  notCovered: 'API_SIGNATURE_NOT_COVERED',
  badAlgorithm: 'API_SIGNATURE_BAD_ALGORITHM',
  wrongTarget: 'API_SIGNATURE_WRONG_TARGET',
  notYetValid: 'API_SIGNATURE_NOT_YET_VALID',
  expired: 'API_SIGNATURE_EXPIRED',
  unknownKey: 'API_SIGNATURE_UNKNOWN_KEY',
  badSignature: 'API_SIGNATURE_BAD_SIGNATURE',
  digestMismatch: 'API_SIGNATURE_DIGEST_MISMATCH',
  replayed: 'API_SIGNATURE_REPLAYED',
} as const

export type SignatureErrorCode = (typeof SIGNATURE_ERRORS)[keyof typeof SIGNATURE_ERRORS]

const refuse = (code: SignatureErrorCode, message: string, hint?: string, details?: Record<string, unknown>) => new ProvenaError(code, message, { hint, details })

/** Header values as Node (IncomingHttpHeaders) or a plain record holds them; names in any case. */
export type HeaderMap = Readonly<Record<string, string | readonly string[] | number | undefined>>

/** A request as the signer sends it or the verifier received it. */
export interface SignableRequest {
  /** The method, as sent (RFC 9421 §2.2.1: case-sensitive, not normalised). */
  method: string
  /** The absolute target URI (RFC 9421 §2.2.2), e.g. `http://127.0.0.1:8080/datasets?x=1`. */
  url: string
  headers: HeaderMap
  /** The body bytes (a string is its UTF-8); undefined or empty: no body. */
  body?: Uint8Array | string | undefined
}

/** The signer: the member's did:key (the keyid) and its Ed25519 private key. */
export interface HttpSigningKey {
  keyId: string
  privateKey: KeyObject
}

export interface SignRequestOptions {
  /** Unix time in seconds (default now). */
  created?: number
  /** Unix time in seconds (default created + 60). */
  expires?: number
  /** Default 32 random bytes, base64url. */
  nonce?: string
  /** Default "provena". */
  tag?: string
}

/** What verifyRequest returns: who signed, and the window the signature was made for (Unix seconds). */
export interface VerifiedRequest {
  keyId: string
  created: number
  expires: number
  nonce: string
  /** The covered components, in order. */
  components: string[]
}

export interface VerifyRequestOptions {
  /**
   * The Ed25519 public key (32 bytes) of `keyId`, or undefined when it is not a key this
   * node accepts. WARNING: `keyId` is the sender's claim: return a key only for a member
   * (e.g. one in the pinned consortium file), never one decoded from any did:key given.
   */
  resolveKey(keyId: string): Uint8Array | undefined
  /**
   * Whether (keyId, nonce) was seen before (true = a replay); called last, when every other
   * check passed, and must record the nonce until `expires` (Unix seconds). See seenNonceIn.
   */
  seenNonce(keyId: string, nonce: string, expires: number): boolean
  /** Milliseconds since the epoch (default Date.now()). */
  now?: number
  /** A signature older than this is refused as expired whatever its `expires` (default 300). */
  maxAgeSeconds?: number
  /** How far the sender's clock may run ahead (default 60). */
  clockSkewSeconds?: number
  /** The tag the signature must carry (default "provena"). */
  tag?: string
  /**
   * The origins this node answers at (`http://127.0.0.1:8080`); the signed target URI must be
   * at one of them. WARNING: without it, and with a `url` built from the Host header, a
   * request signed for another node can be replayed here (its nonce is new here).
   */
  origins?: readonly string[]
}

/** Untrusted input bounds: a header longer than this, or more covered components, is refused. */
const MAX_HEADER_CHARS = 8192
const MAX_COMPONENTS = 32
const MAX_NONCE_CHARS = 256

/** The components our signatures cover, in this order; content-digest and content-type when present. */
const REQUIRED_COMPONENTS = ['@method', '@target-uri'] as const

/**
 * The Content-Digest field value (RFC 9530 §2) of a body: `sha-256=:base64:`.
 *
 * @example
 * contentDigest('{"hello": "world"}') // 'sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:'
 */
export function contentDigest(body: Uint8Array | string): string {
  return `sha-256=:${createHash('sha256').update(body).digest('base64')}:`
}

/**
 * Signs a request (RFC 9421 §3.1) under `key` with label sig1 and returns its headers with
 * Content-Digest (when there is a body), Signature-Input and Signature set (lowercase names;
 * any earlier values of these three are replaced). The target URI signed is the WHATWG
 * serialisation of `req.url`, which is what fetch sends.
 *
 * @example
 * signRequest({ method: 'POST', url: 'http://127.0.0.1:8080/x', headers: { 'content-type': 'application/json' }, body: '{}' }, { keyId: did, privateKey })
 * // { 'content-type': 'application/json', 'content-digest': 'sha-256=:RBNvo1WzZ4oRRq0W9+hknpT7T8If536DEMBg9hyq/4o=:',
 * //   'signature-input': 'sig1=("@method" "@target-uri" "content-digest" "content-type");created=1764680000;expires=1764680060;nonce="…";keyid="did:key:z6Mk…";alg="ed25519";tag="provena"',
 * //   signature: 'sig1=:…:' }
 */
export function signRequest(req: SignableRequest, key: HttpSigningKey, opts: SignRequestOptions = {}): Record<string, string> {
  const url = new URL(req.url).href
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || ['content-digest', 'signature', 'signature-input'].includes(name.toLowerCase())) continue
    headers[name] = Array.isArray(value) ? value.join(', ') : String(value)
  }
  const components: string[] = [...REQUIRED_COMPONENTS]
  if (req.body !== undefined) {
    headers['content-digest'] = contentDigest(req.body)
    components.push('content-digest')
  }
  if (headerValue(headers, 'content-type') !== undefined) components.push('content-type')
  const created = opts.created ?? Math.floor(Date.now() / 1000)
  const params: SfParameters = [
    ['created', { type: 'integer', value: created }],
    ['expires', { type: 'integer', value: opts.expires ?? created + SIGNATURE_TTL_SECONDS }],
    ['nonce', { type: 'string', value: opts.nonce ?? randomBytes(32).toString('base64url') }],
    ['keyid', { type: 'string', value: key.keyId }],
    ['alg', { type: 'string', value: 'ed25519' }],
    ['tag', { type: 'string', value: opts.tag ?? SIGNATURE_TAG }],
  ]
  const input: SfInnerList = { kind: 'innerList', items: components.map((c) => ({ kind: 'item', item: { type: 'string', value: c }, params: [] })), params }
  const signatureParams = serializeSfMember(input)
  const base = signatureBase({ method: req.method, url, headers }, { components, signatureParams })
  const signature = signEd25519(key.privateKey, Buffer.from(base, 'utf8'))
  headers['signature-input'] = serializeSfDictionary(new Map([[SIGNATURE_LABEL, input]]))
  headers.signature = serializeSfDictionary(new Map([[SIGNATURE_LABEL, { kind: 'item', item: { type: 'bytes', value: signature }, params: [] }]]))
  return headers
}

/** One signature's entry of Signature-Input, parsed. */
export interface SignatureInput {
  /** The covered component names, in order (we take no component parameters). */
  components: string[]
  /** Its parameters by name (created, expires, nonce, keyid, alg, tag, …). */
  params: Map<string, SfBareItem>
  /** The serialised inner list: the value of @signature-params in the signature base. */
  signatureParams: string
}

/**
 * Parses a Signature-Input field value (RFC 9421 §4.1) into its signatures by label.
 * Throws API_SIGNATURE_MALFORMED naming what is wrong and where.
 */
export function parseSignatureInput(value: string): Map<string, SignatureInput> {
  const dict = parseField('Signature-Input', value)
  const out = new Map<string, SignatureInput>()
  for (const [label, member] of dict) {
    if (member.kind !== 'innerList') throw refuse(SIGNATURE_ERRORS.malformed, `Signature-Input: ${label} is not an inner list of components`)
    if (member.items.length > MAX_COMPONENTS) throw refuse(SIGNATURE_ERRORS.malformed, `Signature-Input: ${label} covers ${member.items.length} components, more than ${MAX_COMPONENTS}`)
    const components: string[] = []
    for (const item of member.items) {
      if (item.item.type !== 'string') throw refuse(SIGNATURE_ERRORS.malformed, `Signature-Input: ${label} lists a component that is not a string`)
      const name = item.item.value
      if (item.params.length > 0) throw refuse(SIGNATURE_ERRORS.malformed, `Signature-Input: ${label} gives the component "${name}" the parameter ;${item.params[0]![0]}, which is not supported`)
      if (name !== name.toLowerCase() || name.length === 0) throw refuse(SIGNATURE_ERRORS.malformed, `Signature-Input: ${label} lists the component "${name}", not a lowercase name`)
      if (components.includes(name)) throw refuse(SIGNATURE_ERRORS.malformed, `Signature-Input: ${label} lists the component "${name}" twice`)
      components.push(name)
    }
    out.set(label, { components, params: new Map(member.params), signatureParams: serializeSfMember(member) })
  }
  return out
}

/**
 * The signature base (RFC 9421 §2.5) of a request for the given covered components and
 * serialised signature parameters. Throws API_SIGNATURE_MALFORMED when a covered component
 * is absent from the request or not one we derive.
 *
 * @example
 * signatureBase({ method: 'POST', url: 'https://example.com/foo?param=Value&Pet=dog', headers: {} }, { components: ['@method', '@path'], signatureParams: '("@method" "@path");created=1618884473' })
 * // '"@method": POST\n"@path": /foo\n"@signature-params": ("@method" "@path");created=1618884473'
 */
export function signatureBase(req: Omit<SignableRequest, 'body'>, input: Pick<SignatureInput, 'components' | 'signatureParams'>): string {
  const lines: string[] = []
  for (const name of input.components) {
    let value: string | undefined
    if (name.startsWith('@')) value = derivedComponent(req, name)
    else value = headerValue(req.headers, name)
    if (value === undefined) throw refuse(SIGNATURE_ERRORS.malformed, `the signature covers "${name}", which the request does not carry`)
    if (/[\r\n]/.test(value)) throw refuse(SIGNATURE_ERRORS.malformed, `the component "${name}" holds a line break`)
    lines.push(`"${name}": ${value}`)
  }
  lines.push(`"@signature-params": ${input.signatureParams}`)
  return lines.join('\n')
}

/** A derived component (RFC 9421 §2.2) of a request; @status and @query-param are not taken. */
function derivedComponent(req: Omit<SignableRequest, 'body'>, name: string): string {
  if (name === '@method') return req.method
  if (name === '@target-uri') return req.url
  const url = targetUrl(req.url)
  switch (name) {
    case '@authority':
      return url.host
    case '@scheme':
      return url.protocol.slice(0, -1)
    case '@request-target':
      return `${url.pathname}${url.search}`
    case '@path':
      return url.pathname || '/'
    case '@query':
      return url.search || '?'
    default:
      throw refuse(SIGNATURE_ERRORS.malformed, `the signature covers the derived component "${name}", which is not supported`)
  }
}

function targetUrl(url: string): URL {
  try {
    return new URL(url)
  } catch {
    throw refuse(SIGNATURE_ERRORS.malformed, `the target URI ${JSON.stringify(url.slice(0, 200))} is not an absolute URI`)
  }
}

/**
 * A header's value as RFC 9421 §2.1 canonicalises it: looked up by lowercase name, each
 * value trimmed, obsolete line folding made one space, several values joined by ", ".
 */
function headerValue(headers: HeaderMap, name: string): string | undefined {
  const values: string[] = []
  for (const key of Object.keys(headers)) {
    if (key.toLowerCase() !== name) continue
    const v = headers[key]
    if (v === undefined) continue
    for (const one of Array.isArray(v) ? (v as readonly string[]) : [String(v)]) values.push(one.replace(/\r?\n[ \t]*/g, ' ').trim())
  }
  return values.length === 0 ? undefined : values.join(', ')
}

function parseField(header: string, value: string): SfDictionary {
  if (value.length > MAX_HEADER_CHARS) throw refuse(SIGNATURE_ERRORS.malformed, `${header}: ${value.length} characters, more than ${MAX_HEADER_CHARS}`)
  try {
    return parseSfDictionary(value)
  } catch (e) {
    if (e instanceof SfParseError) throw refuse(SIGNATURE_ERRORS.malformed, `${header} is not an RFC 8941 dictionary: ${e.message}`, undefined, { header, at: e.at })
    throw e
  }
}

function integerParam(label: string, params: Map<string, SfBareItem>, name: string): number {
  const v = params.get(name)
  if (v === undefined) throw refuse(SIGNATURE_ERRORS.malformed, `Signature-Input: ${label} has no "${name}" parameter (an integer, Unix seconds)`)
  if (v.type !== 'integer' || v.value < 0) throw refuse(SIGNATURE_ERRORS.malformed, `Signature-Input: ${label}'s "${name}" is not a non-negative integer`)
  return v.value
}

function stringParam(label: string, params: Map<string, SfBareItem>, name: string): string {
  const v = params.get(name)
  if (v === undefined) throw refuse(SIGNATURE_ERRORS.malformed, `Signature-Input: ${label} has no "${name}" parameter (a string)`)
  if (v.type !== 'string') throw refuse(SIGNATURE_ERRORS.malformed, `Signature-Input: ${label}'s "${name}" is not a string`)
  return v.value
}

/**
 * Verifies a signed request (see the file comment for the order of the checks) and returns
 * who signed it. Throws a ProvenaError whose code is one of SIGNATURE_ERRORS, naming what
 * failed. The nonce is passed to `seenNonce` only when every other check passed.
 */
export function verifyRequest(req: SignableRequest, opts: VerifyRequestOptions): VerifiedRequest {
  const wantTag = opts.tag ?? SIGNATURE_TAG
  const inputHeader = headerValue(req.headers, 'signature-input')
  const signatureHeader = headerValue(req.headers, 'signature')
  if (inputHeader === undefined || signatureHeader === undefined) {
    const missing = [inputHeader === undefined ? 'Signature-Input' : undefined, signatureHeader === undefined ? 'Signature' : undefined].filter((h) => h !== undefined)
    throw refuse(SIGNATURE_ERRORS.missing, `the request is not signed: no ${missing.join(' and no ')} header`, 'a node signs its requests to other nodes with RFC 9421 HTTP Message Signatures (signedFetch)')
  }
  const inputs = parseSignatureInput(inputHeader)
  const signatures = parseField('Signature', signatureHeader)
  const ours = [...inputs].filter(([, i]) => {
    const tag = i.params.get('tag')
    return tag?.type === 'string' && tag.value === wantTag
  })
  if (ours.length === 0) throw refuse(SIGNATURE_ERRORS.missing, `no signature tagged "${wantTag}" (labels: ${[...inputs.keys()].join(', ') || 'none'})`, 'sign with signedFetch, which tags its signature')
  if (ours.length > 1) throw refuse(SIGNATURE_ERRORS.malformed, `${ours.length} signatures are tagged "${wantTag}" (${ours.map(([l]) => l).join(', ')}); one is expected`)
  const [label, input] = ours[0]!
  const sigMember = signatures.get(label)
  if (sigMember === undefined) throw refuse(SIGNATURE_ERRORS.malformed, `Signature has no "${label}", the label of Signature-Input`)
  if (sigMember.kind !== 'item' || sigMember.item.type !== 'bytes') throw refuse(SIGNATURE_ERRORS.malformed, `Signature: ${label} is not a byte sequence`)
  const signature = sigMember.item.value
  if (signature.length !== 64) throw refuse(SIGNATURE_ERRORS.malformed, `Signature: ${label} is ${signature.length} bytes, an Ed25519 signature is 64`)

  const created = integerParam(label, input.params, 'created')
  const expires = integerParam(label, input.params, 'expires')
  const nonce = stringParam(label, input.params, 'nonce')
  const keyId = stringParam(label, input.params, 'keyid')
  const alg = stringParam(label, input.params, 'alg')
  if (nonce.length === 0 || nonce.length > MAX_NONCE_CHARS) throw refuse(SIGNATURE_ERRORS.malformed, `Signature-Input: ${label}'s nonce is ${nonce.length} characters; 1 to ${MAX_NONCE_CHARS} are expected`)
  if (expires <= created) throw refuse(SIGNATURE_ERRORS.malformed, `Signature-Input: ${label} expires (${expires}) before it is created (${created})`)
  if (alg !== 'ed25519') throw refuse(SIGNATURE_ERRORS.badAlgorithm, `the signature's alg is "${alg}"; only "ed25519" is accepted`)

  const body = req.body === undefined ? undefined : typeof req.body === 'string' ? Buffer.from(req.body, 'utf8') : req.body
  const hasBody = body !== undefined && body.length > 0
  const required: string[] = [...REQUIRED_COMPONENTS]
  if (hasBody) {
    required.push('content-digest')
    if (headerValue(req.headers, 'content-type') !== undefined) required.push('content-type')
  }
  const uncovered = required.filter((c) => !input.components.includes(c))
  if (uncovered.length > 0) {
    throw refuse(SIGNATURE_ERRORS.notCovered, `the signature does not cover ${uncovered.map((c) => `"${c}"`).join(', ')}`, `a signature must cover ${required.join(', ')}`, { covered: input.components })
  }

  if (opts.origins !== undefined) {
    const origin = targetUrl(req.url).origin
    if (!opts.origins.includes(origin)) throw refuse(SIGNATURE_ERRORS.wrongTarget, `the request is for ${origin}, not this node (${opts.origins.join(', ')})`, 'a signed request is for the node it was signed for')
  }

  const nowMs = opts.now ?? Date.now()
  const now = Math.floor(nowMs / 1000)
  const maxAge = opts.maxAgeSeconds ?? 300
  const skew = opts.clockSkewSeconds ?? 60
  if (created > now + skew) throw refuse(SIGNATURE_ERRORS.notYetValid, `the signature was created at ${iso(created)}, more than ${skew} s ahead of this node's clock (${iso(now)})`, "check the sender's clock")
  if (expires <= now) throw refuse(SIGNATURE_ERRORS.expired, `expired: the signature was valid until ${iso(expires)} (now ${iso(now)})`, 'sign the request again')
  if (now - created > maxAge) throw refuse(SIGNATURE_ERRORS.expired, `expired: the signature was created at ${iso(created)}, more than ${maxAge} s ago`, 'sign the request again')

  const publicKey = opts.resolveKey(keyId)
  if (publicKey === undefined) throw refuse(SIGNATURE_ERRORS.unknownKey, `unknown key: ${keyId} is not a member's key`, 'a node joins with provena consortium add-member', { keyId })

  const base = signatureBase(req, input)
  if (!verifyEd25519(publicKey, Buffer.from(base, 'utf8'), signature)) {
    throw refuse(SIGNATURE_ERRORS.badSignature, `bad signature: ${label} is not a signature by ${keyId} of this request (forged, or the method, target, covered headers or parameters were altered)`)
  }

  if (input.components.includes('content-digest')) checkContentDigest(headerValue(req.headers, 'content-digest')!, body ?? new Uint8Array())

  const window = Math.min(expires, created + maxAge)
  if (opts.seenNonce(keyId, nonce, window)) throw refuse(SIGNATURE_ERRORS.replayed, `replayed nonce: ${keyId} sent a request with nonce ${nonce.slice(0, 16)}… before`, 'a signed request is used once: sign it again')
  return { keyId, created, expires, nonce, components: input.components }
}

/** Checks a body against its Content-Digest's sha-256 member (other algorithms are ignored, RFC 9530 §2). */
function checkContentDigest(value: string, body: Uint8Array): void {
  const dict = parseField('Content-Digest', value)
  const member = dict.get('sha-256')
  if (member === undefined) throw refuse(SIGNATURE_ERRORS.malformed, `Content-Digest has no sha-256 member (algorithms: ${[...dict.keys()].join(', ') || 'none'})`)
  if (member.kind !== 'item' || member.item.type !== 'bytes' || member.item.value.length !== 32) throw refuse(SIGNATURE_ERRORS.malformed, 'Content-Digest: sha-256 is not a 32-byte byte sequence')
  const actual = createHash('sha256').update(body).digest()
  if (!actual.equals(member.item.value)) {
    throw refuse(SIGNATURE_ERRORS.digestMismatch, `the body (${body.length} bytes) does not match its Content-Digest: sha-256 is ${actual.toString('base64')}, the header says ${Buffer.from(member.item.value).toString('base64')}`, 'the body was altered or truncated on the way')
  }
}

const iso = (seconds: number) => new Date(seconds * 1000).toISOString()

/**
 * The `seenNonce` of verifyRequest over a node's seen-nonce table (dbNonceTable: the rows of
 * node_seen_nonces, by keyid): records the nonce, and says true when it was there already.
 *
 * @example
 * verifyRequest(req, { resolveKey, seenNonce: seenNonceIn(dbNonceTable(db)) })
 */
export function seenNonceIn(table: NonceTable, now: () => number = Date.now): VerifyRequestOptions['seenNonce'] {
  return (keyId, nonce, expires) => !table.record(keyId, nonce, expires * 1000, now())
}

