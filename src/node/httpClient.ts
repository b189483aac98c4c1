// The HTTP client of a node: a request to another node is signed (RFC 9421, httpSignatures.ts)
// under the member's key and sent with fetch.
import { signRequest, type HttpSigningKey, type SignRequestOptions } from './httpSignatures.js'

/** What signedFetch takes: RequestInit with a body of bytes or text (a stream cannot be digested before it is sent). */
export interface SignedFetchInit extends Omit<RequestInit, 'body'> {
  body?: Uint8Array | string | undefined
}

export interface SignedFetchOptions extends SignRequestOptions {
  /** The fetch to send with (default globalThis.fetch). */
  fetch?: typeof fetch
}

// fetch upper-cases these methods and sends any other as given (Fetch standard, "normalize a method").
const NORMALISED_METHODS = new Set(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT'])

/**
 * Signs a request under `key` and sends it with fetch. The signature covers the method,
 * the target URI and (with a body) its Content-Digest and Content-Type. Redirects are not
 * followed (the signature is for this target only): a 3xx is returned as is.
 *
 * @example
 * const res = await signedFetch('http://127.0.0.1:8080/access/requests', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(envelope) }, { keyId: lab.did, privateKey: lab.signing.privateKey })
 * res.status // 200
 */
export async function signedFetch(url: string | URL, init: SignedFetchInit, key: HttpSigningKey, opts: SignedFetchOptions = {}): Promise<Response> {
  const target = new URL(url)
  const given = (init.method ?? 'GET').toUpperCase()
  const method = NORMALISED_METHODS.has(given) ? given : (init.method ?? 'GET')
  const body = typeof init.body === 'string' ? Buffer.from(init.body, 'utf8') : init.body
  const headers: Record<string, string> = {}
  new Headers(init.headers).forEach((value, name) => {
    headers[name] = value
  })
  const { fetch: send = globalThis.fetch, ...signOpts } = opts
  const signed = signRequest({ method, url: target.href, headers, body }, key, signOpts)
  return send(target, { ...init, method, headers: signed, body, redirect: 'manual' })
}
