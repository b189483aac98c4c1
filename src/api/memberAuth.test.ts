import assert from 'node:assert/strict'
import { request as httpRequest } from 'node:http'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Validator } from '@seriousme/openapi-schema-validator'
import type { FastifyInstance } from 'fastify'
import { keccak256, toHex, type Hex } from 'viem'
import { unlockIdentity, type UnlockedIdentity } from '../access/index.js'
import { createMemberIdentity, initDataDir, openChain, openProvena, type ChainSession, type Provena } from '../app/index.js'
import { AccessPolicyAbi } from '../chain/index.js'
import { didKeyFromEd25519, generateEd25519 } from '../crypto/index.js'
import { signedFetch, signRequest, type HttpSigningKey } from '../node/index.js'
import { createConsortium, registerDatasetFile } from '../service/index.js'
import { memberAuthenticator, tokenAuthenticator, type ApiContext } from './index.js'
import { buildServer } from './server.js'
import { runCli, startServe, TEST_PASSPHRASE } from '../testing.js'

const P = 'dpv:ScientificResearch'

describe('signed member requests accepted by provena serve (RFC 9421, roles read on-chain; issue 13)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'provena-memberauth-'))
  let p: Provena
  let chain: ChainSession
  let app: FastifyInstance
  let ctx: ApiContext
  let base = ''
  let port = 0
  const ids: Record<string, UnlockedIdentity> = {}
  const key = (name: string): HttpSigningKey => ({ keyId: ids[name]!.did, privateKey: ids[name]!.signing.privateKey })
  const strangerPair = generateEd25519()
  const stranger: HttpSigningKey = { keyId: didKeyFromEd25519(strangerPair.publicKeyBytes), privateKey: strangerPair.privateKey }

  before(async () => {
    initDataDir(dir, 'pw')
    p = openProvena(dir, { passphrase: 'pw' })
    chain = await openChain(p)
    // The members: a hospital (controller), a lab (trainer), a controller the admin removes on-chain later.
    for (const [name, role] of [['st-mary', 'controller'], ['lab', 'trainer'], ['gone', 'controller']] as const) {
      await createMemberIdentity(p, chain, name, role, 'pw')
      ids[name] = unlockIdentity(dir, name, 'pw')
    }
    const file = join(dir, 'data.csv')
    writeFileSync(file, 'id,x\n1,2\n')
    await registerDatasetFile({ p, chain }, file)
    await createConsortium(p, chain, { passphrase: 'pw' })
    ctx = { p, chain, dir, passphrase: 'pw', authenticators: [tokenAuthenticator, memberAuthenticator] }
    app = await buildServer(ctx)
    await app.listen({ host: '127.0.0.1', port: 0 })
    port = (app.server.address() as { port: number }).port
    base = `http://127.0.0.1:${port}`
    ctx.origin = base
  })
  after(async () => {
    await app?.close()
    await chain?.close()
    p?.close()
  })

  /** Sends a request exactly as given (Host included) with node:http. */
  const send = (method: string, path: string, headers: Record<string, string>, body?: string) =>
    new Promise<{ status: number; json: Record<string, unknown> }>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, method, path, headers: { ...headers, ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}) } }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(Buffer.concat(chunks).toString() || '{}') as Record<string, unknown> }))
      })
      req.on('error', reject)
      req.end(body)
    })
  const json = async (r: Response) => ({ status: r.status, json: (await r.json()) as Record<string, unknown> })
  const consent = (subject: string) => JSON.stringify({ changes: [{ subject, purpose: P, action: 'grant' }] })
  const post = (k: HttpSigningKey, body: string, opts = {}) => signedFetch(`${base}/v1/consent`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }, k, opts)
  const lastEntry = () => JSON.parse(p.log.entry(p.log.size() - 1).leaf.toString('utf8')) as Record<string, unknown>

  /**
   * A refusal: its status and code; a member whose signature held but whose role does not
   * allow the route (403) is one log entry (provena.api.refused/v1 naming the DID), a
   * signature that does not hold (401) writes nothing (else anyone could write into the log,
   * or frame a member). Nothing else written.
   */
  const refused = async (r: Promise<{ status: number; json: Record<string, unknown> }>, status: number, code: string, did: string, route: string) => {
    const before = p.log.size()
    const res = await r
    assert.deepEqual([res.status, res.json.code], [status, code], JSON.stringify(res.json))
    if (status === 401) return assert.equal(p.log.size(), before, `${code}: nothing logged`)
    assert.equal(p.log.size(), before + 1, `${code}: the refusal is logged, nothing else`)
    const e = lastEntry()
    assert.deepEqual({ type: e.type, reason: e.reason, did: e.did, credential: e.credential, route: e.route, status: e.status }, { type: 'provena.api.refused/v1', reason: code, did, credential: did, route, status })
  }

  it("a member's signed GET and POST are accepted: the POST's consent is recorded as that member", async () => {
    const get = await json(await signedFetch(`${base}/v1/datasets`, {}, key('st-mary')))
    assert.equal(get.status, 200, JSON.stringify(get.json))
    const before = p.log.size()
    const res = await json(await post(key('st-mary'), consent('S-1')))
    assert.equal(res.status, 200, JSON.stringify(res.json))
    assert.deepEqual([res.json.changes, p.log.size()], [1, before + 1])
    assert.equal((JSON.parse(p.log.entry(before).leaf.toString('utf8')) as { controller: string }).controller, ids['st-mary']!.did)
    // A trainer reads datasets: its role allows the route.
    assert.equal((await signedFetch(`${base}/v1/datasets`, {}, key('lab'))).status, 200)
  })

  it('a non-member (a did:key not in the pinned file) → 401 API_SIGNATURE_UNKNOWN_KEY, with and without a body', async () => {
    await refused(signedFetch(`${base}/v1/datasets`, {}, stranger).then(json), 401, 'API_SIGNATURE_UNKNOWN_KEY', stranger.keyId, '/v1/datasets')
    await refused(post(stranger, consent('S-stranger')).then(json), 401, 'API_SIGNATURE_UNKNOWN_KEY', stranger.keyId, '/v1/consent')
  })

  it('a keyid that is no did:key → 401, and the log names no DID (never free text the request chose)', async () => {
    const junk = { keyId: `did:web:evil.example/${'x'.repeat(300)}`, privateKey: stranger.privateKey }
    const before = p.log.size()
    const res = await json(await signedFetch(`${base}/v1/datasets`, {}, junk))
    assert.deepEqual([res.status, res.json.code, p.log.size()], [401, 'API_SIGNATURE_UNKNOWN_KEY', before], 'nothing logged')
    assert.ok(![...p.log.entries()].some((e) => e.leaf.toString('utf8').includes('evil.example')))
  })

  it("a forged signature (a member's DID, another key) → 401 API_SIGNATURE_BAD_SIGNATURE; with a body, nothing written", async () => {
    const forged = { keyId: ids['st-mary']!.did, privateKey: stranger.privateKey }
    await refused(signedFetch(`${base}/v1/datasets`, {}, forged).then(json), 401, 'API_SIGNATURE_BAD_SIGNATURE', forged.keyId, '/v1/datasets')
    await refused(post(forged, consent('S-forged')).then(json), 401, 'API_SIGNATURE_BAD_SIGNATURE', forged.keyId, '/v1/consent')
    // Posing as a trainer on a controller's route: refused as forged (the headers' signature is checked before the role), never logged as the trainer's own attempt.
    const posing = { keyId: ids.lab!.did, privateKey: stranger.privateKey }
    await refused(post(posing, consent('S-posing')).then(json), 401, 'API_SIGNATURE_BAD_SIGNATURE', posing.keyId, '/v1/consent')
  })

  it('a replayed request → 401 API_SIGNATURE_REPLAYED (GET and POST: each nonce taken once)', async () => {
    const url = `${base}/v1/datasets`
    const headers = signRequest({ method: 'GET', url, headers: {} }, key('st-mary'))
    assert.equal((await send('GET', '/v1/datasets', { ...headers, host: `127.0.0.1:${port}` })).status, 200)
    await refused(send('GET', '/v1/datasets', { ...headers, host: `127.0.0.1:${port}` }), 401, 'API_SIGNATURE_REPLAYED', ids['st-mary']!.did, '/v1/datasets')
    const body = consent('S-replay')
    const h = signRequest({ method: 'POST', url: `${base}/v1/consent`, headers: { 'content-type': 'application/json' }, body }, key('st-mary'))
    assert.equal((await send('POST', '/v1/consent', h, body)).status, 200)
    await refused(send('POST', '/v1/consent', h, body), 401, 'API_SIGNATURE_REPLAYED', ids['st-mary']!.did, '/v1/consent')
  })

  it('an expired signature → 401 API_SIGNATURE_EXPIRED', async () => {
    const now = Math.floor(Date.now() / 1000)
    await refused(signedFetch(`${base}/v1/datasets`, {}, key('st-mary'), { created: now - 120, expires: now - 60 }).then(json), 401, 'API_SIGNATURE_EXPIRED', ids['st-mary']!.did, '/v1/datasets')
  })

  it('a body changed after signing → 401, refused in checkBody: nothing recorded', async () => {
    const signed = consent('S-signed')
    const h = signRequest({ method: 'POST', url: `${base}/v1/consent`, headers: { 'content-type': 'application/json' }, body: signed }, key('st-mary'))
    const other = consent('S-other!')
    await refused(send('POST', '/v1/consent', h, other), 401, 'API_SIGNATURE_DIGEST_MISMATCH', ids['st-mary']!.did, '/v1/consent')
    // With the digest recomputed for the new body, the signature no longer holds.
    const h2 = { ...h, 'content-digest': `sha-256=:${(await import('node:crypto')).createHash('sha256').update(other).digest('base64')}:` }
    await refused(send('POST', '/v1/consent', h2, other), 401, 'API_SIGNATURE_BAD_SIGNATURE', ids['st-mary']!.did, '/v1/consent')
  })

  it('a request signed for another node (its target URI) → 401 API_SIGNATURE_WRONG_TARGET', async () => {
    const headers = signRequest({ method: 'GET', url: 'http://127.0.0.1:1/v1/datasets', headers: {} }, key('st-mary'))
    await refused(send('GET', '/v1/datasets', { ...headers, host: '127.0.0.1:1' }), 401, 'API_SIGNATURE_WRONG_TARGET', ids['st-mary']!.did, '/v1/datasets')
  })

  it("a member in a role the route does not allow → 403 API_ROLE_DENIED (a trainer posting consent), nothing written", async () => {
    await refused(post(key('lab'), consent('S-lab')).then(json), 403, 'API_ROLE_DENIED', ids.lab!.did, '/v1/consent')
  })

  it('a member whose role the admin removed on-chain → 403 API_MEMBER_ROLE_REVOKED, though the pinned file still lists it', async () => {
    assert.equal((await json(await post(key('gone'), consent('S-gone-1')))).status, 200, 'a controller until removed')
    const c = chain.client
    const hash = await c.walletClient.writeContract({
      address: p.consortium!.contracts.AccessPolicy,
      abi: AccessPolicyAbi,
      functionName: 'removeMember',
      args: [ids.gone!.address as Hex, keccak256(toHex('CONTROLLER_ROLE'))],
      account: c.account,
      chain: c.chain,
    })
    await c.publicClient.waitForTransactionReceipt({ hash })
    assert.ok(p.consortium!.members.some((m) => m.did === ids.gone!.did))
    await refused(post(key('gone'), consent('S-gone-2')).then(json), 403, 'API_MEMBER_ROLE_REVOKED', ids.gone!.did, '/v1/consent')
    await refused(signedFetch(`${base}/v1/datasets`, {}, key('gone')).then(json), 403, 'API_MEMBER_ROLE_REVOKED', ids.gone!.did, '/v1/datasets')
  })

  it('a lone node (no pinned consortium) and a node that does not know its URL refuse member requests (401)', async () => {
    const pinned = p.consortium
    try {
      p.consortium = undefined
      await refused(signedFetch(`${base}/v1/datasets`, {}, key('st-mary')).then(json), 401, 'API_MEMBER_NO_CONSORTIUM', ids['st-mary']!.did, '/v1/datasets')
    } finally {
      p.consortium = pinned
    }
    try {
      ctx.origin = undefined
      await refused(signedFetch(`${base}/v1/datasets`, {}, key('st-mary')).then(json), 401, 'API_MEMBER_NO_ORIGIN', ids['st-mary']!.did, '/v1/datasets')
    } finally {
      ctx.origin = base
    }
  })

  it('/openapi.json documents the credential: a memberSignature scheme, an alternative to bearer on every route that needs a credential (valid OpenAPI 3.1)', async () => {
    const doc = (await (await fetch(`${base}/openapi.json`)).json()) as { components: { securitySchemes: Record<string, { type: string; name?: string }> }; paths: Record<string, Record<string, { security?: unknown }>> }
    const v = new Validator()
    const res = await v.validate(doc as unknown as Parameters<Validator['validate']>[0])
    assert.ok(res.valid, JSON.stringify(res.errors, null, 2))
    assert.deepEqual([doc.components.securitySchemes.memberSignature?.type, doc.components.securitySchemes.memberSignature?.name], ['apiKey', 'Signature'])
    for (const path of ['/v1/datasets', '/v1/consent', '/metrics']) {
      for (const op of Object.values(doc.paths[path]!)) assert.deepEqual(op.security, [{ bearer: [] }, { memberSignature: [] }], path)
    }
  })

  it('every refusal is counted in /metrics by code (read by a member: scopes "all")', async () => {
    const metrics = await (await signedFetch(`${base}/metrics`, {}, key('st-mary'))).text()
    const count = (code: string) => Number(new RegExp(`^provena_http_refusals_total\\{code="${code}"\\} (\\d+)$`, 'm').exec(metrics)?.[1] ?? 0)
    const codes = ['API_SIGNATURE_UNKNOWN_KEY', 'API_SIGNATURE_BAD_SIGNATURE', 'API_SIGNATURE_REPLAYED', 'API_SIGNATURE_EXPIRED', 'API_SIGNATURE_DIGEST_MISMATCH', 'API_SIGNATURE_WRONG_TARGET', 'API_ROLE_DENIED', 'API_MEMBER_ROLE_REVOKED', 'API_MEMBER_NO_CONSORTIUM', 'API_MEMBER_NO_ORIGIN']
    assert.deepEqual(codes.map(count), [3, 4, 2, 1, 1, 1, 1, 2, 1, 1])
  })
})

describe('provena serve as a process takes signed requests from a member of another node, for its own URL (issue 13)', () => {
  // Two data dirs on one chain: A, the hospital that created the consortium and serves;
  // B, the lab's node, joined, whose identity the admin made a member (trainer).
  const work = mkdtempSync(join(tmpdir(), 'provena-memberauth-serve-'))
  const A = join(work, 'A')
  const B = join(work, 'B')
  const a = (...args: string[]) => runCli([...args, '--dir', A])
  const b = (...args: string[]) => runCli([...args, '--dir', B], { PROVENA_PASSPHRASE: 'pw-lab' })
  before(async () => {
    assert.equal((await a('init')).code, 0)
    assert.equal((await a('node', 'start')).code, 0)
    const rpcUrl = (await a('chain', 'info', '--json')).json<{ rpcUrl: string }>().rpcUrl
    assert.equal((await a('identity', 'create', 'st-mary', '--role', 'controller')).code, 0)
    const created = await a('consortium', 'create', '--out', join(work, 'consortium.json'))
    assert.equal(created.code, 0, created.stderr)
    const joined = await b('init', '--join', join(work, 'consortium.json'), '--rpc-url', rpcUrl)
    assert.equal(joined.code, 0, joined.stderr)
    const lab = await b('identity', 'create', 'lab', '--role', 'trainer', '--json')
    assert.equal(lab.code, 0, lab.stderr)
    const shown = await b('identity', 'show', 'lab', '--json')
    writeFileSync(join(work, 'card.json'), shown.stdout)
    const added = await a('consortium', 'add-member', '--did', lab.json<{ did: string }>().did, '--role', 'trainer', '--card', join(work, 'card.json'))
    assert.equal(added.code, 0, added.stderr)
  })
  after(async () => void (await a('node', 'stop')))

  /** `provena serve --json` on A as a child process; stop() expects exit 0. */
  const serve = async (...extra: string[]) => {
    const s = await startServe(A, { extra })
    return { url: s.url, stop: async () => assert.equal(await s.stop(), 0, s.stderr()) }
  }
  /** A GET sent to `url`'s port as given, with the Host header `host`. */
  const getAs = (url: string, path: string, host: string, headers: Record<string, string>) =>
    new Promise<{ status: number; code: string | undefined }>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: Number(new URL(url).port), path, headers: { ...headers, host } }, (res) => {
        let text = ''
        res.on('data', (c: Buffer) => (text += c.toString()))
        res.on('end', () => resolve({ status: res.statusCode!, code: (JSON.parse(text) as { code?: string }).code }))
      })
      req.on('error', reject)
      req.end()
    })
  const as = (dir: string, name: string, passphrase: string): HttpSigningKey => {
    const id = unlockIdentity(dir, name, passphrase)
    return { keyId: id.did, privateKey: id.signing.privateKey }
  }

  it("the hospital's node: its controller's signed POST recorded; the lab's (another data dir) signed GET taken, its POST refused for its role (403); a request signed for another name of the host refused (401)", async () => {
    const { url, stop } = await serve()
    try {
      const stMary = as(A, 'st-mary', TEST_PASSPHRASE)
      const lab = as(B, 'lab', 'pw-lab')
      const body = JSON.stringify({ changes: [{ subject: 'S-1', purpose: P, action: 'grant' }] })
      const init = { method: 'POST', headers: { 'content-type': 'application/json' }, body }
      const ok = await signedFetch(`${url}/v1/consent`, init, stMary)
      assert.equal(ok.status, 200, await ok.clone().text())
      assert.equal(((await ok.json()) as { changes: number }).changes, 1)
      const read = await signedFetch(`${url}/v1/datasets`, {}, lab)
      assert.equal(read.status, 200, await read.clone().text())
      const trainer = await signedFetch(`${url}/v1/consent`, init, lab)
      assert.deepEqual([trainer.status, ((await trainer.json()) as { code: string }).code], [403, 'API_ROLE_DENIED'])
      // Signed for the same node under another name (localhost): not its origin.
      const other = new URL(url)
      other.hostname = 'localhost'
      const headers = signRequest({ method: 'GET', url: `${other.origin}/v1/datasets`, headers: {} }, lab)
      assert.deepEqual(await getAs(url, '/v1/datasets', other.host, headers), { status: 401, code: 'API_SIGNATURE_WRONG_TARGET' })
    } finally {
      await stop()
    }
  })

  it('--public-url (TLS in front): members sign for the public URL, the proxy passing Host on; one signed for the listening URL is refused; a bad --public-url is refused before anything starts', async () => {
    const bad = await runCli(['serve', '--public-url', 'https://node.example.org/api', '--dir', A])
    assert.equal(bad.code, 2, bad.stderr)
    assert.match(bad.stderr, /--public-url https:\/\/node\.example\.org\/api: an http\(s\) origin is expected/)
    const { url, stop } = await serve('--public-url', 'https://node.example.org')
    try {
      const lab = as(B, 'lab', 'pw-lab')
      const viaProxy = signRequest({ method: 'GET', url: 'https://node.example.org/v1/datasets', headers: {} }, lab)
      assert.deepEqual(await getAs(url, '/v1/datasets', 'node.example.org', viaProxy), { status: 200, code: undefined })
      const direct = await signedFetch(`${url}/v1/datasets`, {}, lab)
      assert.deepEqual([direct.status, ((await direct.json()) as { code: string }).code], [401, 'API_SIGNATURE_WRONG_TARGET'])
    } finally {
      await stop()
    }
  })
})
