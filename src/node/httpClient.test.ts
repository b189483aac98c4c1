import assert from 'node:assert/strict'
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { didKeyFromEd25519, generateEd25519 } from '../crypto/index.js'
import { errorInfo } from '../errorCatalogue.js'
import { isProvenaError } from '../errors.js'
import { memoryNonceTable, seenNonceIn, signedFetch, verifyRequest } from './index.js'

const member = () => {
  const signing = generateEd25519()
  const did = didKeyFromEd25519(signing.publicKeyBytes)
  return { did, signing, key: { keyId: did, privateKey: signing.privateKey } }
}

/** Public keys by did:key (what a node reads from its pinned consortium file). */
const keys = new Map<string, Uint8Array>()

interface Seen {
  method: string
  path: string
  headers: IncomingHttpHeaders
  body: Buffer
}

/**
 * A node's HTTP front as the API will have it: the target URI from the Host header and the
 * raw path, verifyRequest against the members' keys and its own nonce table; a refusal
 * answered with the catalogue's status and code. `origins: false` leaves out the origin check.
 */
async function startNode(members: string[], o: { origins?: boolean } = {}): Promise<{ url: string; seen: Seen[]; server: Server }> {
  const nonces = memoryNonceTable()
  const seen: Seen[] = []
  let origin = ''
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks)
      seen.push({ method: req.method!, path: req.url!, headers: req.headers, body })
      if (req.url === '/moved') {
        res.writeHead(307, { location: '/elsewhere' }).end()
        return
      }
      try {
        const ok = verifyRequest(
          { method: req.method!, url: `http://${req.headers.host}${req.url}`, headers: req.headers, body },
          {
            resolveKey: (id) => (members.includes(id) ? keys.get(id) : undefined),
            seenNonce: seenNonceIn(nonces),
            ...(o.origins === false ? {} : { origins: [origin] }),
          },
        )
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keyId: ok.keyId, method: req.method, body: body.toString() }))
      } catch (e) {
        if (!isProvenaError(e)) throw e
        res.writeHead(errorInfo(e.code).http, { 'content-type': 'application/problem+json' }).end(JSON.stringify({ code: e.code, detail: e.message }))
      }
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return { url: origin, seen, server }
}


/** Sends a request as captured, byte for byte (Host included), to `port`. */
function resend(port: number, s: Seen, body: Buffer = s.body): Promise<{ status: number; json: { code?: string; keyId?: string; detail?: string } }> {
  return new Promise((resolve, reject) => {
    const headers = { ...s.headers, 'content-length': String(body.length) }
    const req = request({ host: '127.0.0.1', port, method: s.method, path: s.path, headers }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(Buffer.concat(chunks).toString() || '{}') as { code?: string } }))
    })
    req.on('error', reject)
    req.end(body)
  })
}

describe('signedFetch: signed requests between nodes over real HTTP on loopback (issue 13)', () => {
  const lab = member()
  const stranger = member()
  keys.set(lab.did, lab.signing.publicKeyBytes)
  keys.set(stranger.did, stranger.signing.publicKeyBytes)
  let hospital: Awaited<ReturnType<typeof startNode>>
  let other: Awaited<ReturnType<typeof startNode>>
  let careless: Awaited<ReturnType<typeof startNode>>
  before(async () => {
    hospital = await startNode([lab.did])
    other = await startNode([lab.did])
    careless = await startNode([lab.did], { origins: false })
  })
  after(() => {
    for (const n of [hospital, other, careless]) n.server.close()
  })
  const port = (n: { url: string }) => Number(new URL(n.url).port)

  it('a member\'s signed POST (JSON body) and GET are accepted, and the server reads who signed', async () => {
    const body = JSON.stringify({ purpose: 'dpv:ScientificResearch' })
    const res = await signedFetch(`${hospital.url}/datasets/ab12/export?x=1`, { method: 'post', headers: { 'content-type': 'application/json' }, body }, lab.key)
    assert.equal(res.status, 200)
    assert.deepEqual(await res.json(), { keyId: lab.did, method: 'POST', body })
    const get = await signedFetch(`${hospital.url}/log/checkpoint`, {}, lab.key)
    assert.equal(get.status, 200)
    const del = await signedFetch(`${hospital.url}/tokens/t1`, { method: 'delete' }, lab.key)
    assert.equal(del.status, 200, 'a lower-case standard method is signed as fetch sends it (upper case)')
    const bytes = await signedFetch(`${hospital.url}/segments`, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: new Uint8Array([0, 1, 2, 255]) }, lab.key)
    assert.equal(bytes.status, 200)
  })

  it('refuses a non-member (401 API_SIGNATURE_UNKNOWN_KEY) and an unsigned request (401 API_SIGNATURE_MISSING)', async () => {
    const res = await signedFetch(`${hospital.url}/datasets`, {}, stranger.key)
    assert.equal(res.status, 401)
    assert.equal(((await res.json()) as { code: string }).code, 'API_SIGNATURE_UNKNOWN_KEY')
    const plain = await fetch(`${hospital.url}/datasets`)
    assert.equal(plain.status, 401)
    assert.equal(((await plain.json()) as { code: string }).code, 'API_SIGNATURE_MISSING')
  })

  it('a captured request sent again is refused as a replay; with another body, as a digest mismatch', async () => {
    const body = JSON.stringify({ round: 3 })
    const first = await signedFetch(`${hospital.url}/fl/rounds/3/updates`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }, lab.key)
    assert.equal(first.status, 200)
    const captured = hospital.seen.at(-1)!
    const tampered = await resend(port(hospital), captured, Buffer.from(JSON.stringify({ round: 4 })))
    assert.deepEqual([tampered.status, tampered.json.code], [401, 'API_SIGNATURE_DIGEST_MISMATCH'])
    const again = await resend(port(hospital), captured)
    assert.deepEqual([again.status, again.json.code], [401, 'API_SIGNATURE_REPLAYED'])
  })

  it('a request signed for one node, replayed to another with the first one\'s Host, is refused there (API_SIGNATURE_WRONG_TARGET)', async () => {
    const res = await signedFetch(`${hospital.url}/access/releases`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }, lab.key)
    assert.equal(res.status, 200)
    const captured = hospital.seen.at(-1)!
    assert.equal(captured.headers.host, new URL(hospital.url).host)
    const there = await resend(port(other), captured)
    assert.deepEqual([there.status, there.json.code], [401, 'API_SIGNATURE_WRONG_TARGET'])
    assert.match(there.json.detail!, new RegExp(`the request is for ${hospital.url}, not this node \\(${other.url}\\)`))
    // Why the check: a node that builds the target URI from Host and checks no origin takes it (its nonce table never saw it).
    const taken = await resend(port(careless), captured)
    assert.deepEqual([taken.status, taken.json.keyId], [200, lab.did])
  })

  it('does not follow a redirect: the signature is for its target only', async () => {
    const res = await signedFetch(`${hospital.url}/moved`, {}, lab.key)
    assert.equal(res.status, 307)
    assert.equal(hospital.seen.at(-1)!.path, '/moved')
  })
})
