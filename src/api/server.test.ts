import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Validator } from '@seriousme/openapi-schema-validator'
import type { FastifyInstance } from 'fastify'
import { createMemberIdentity, initDataDir, openChain, openProvena, type ChainSession, type Provena } from '../app/index.js'
import { ERROR_CATALOGUE } from '../errorCatalogue.js'
import { importEncrypted, registerDatasetFile, registryContext } from '../service/index.js'
import { openStore } from '../store/index.js'
import { createHash } from 'node:crypto'
import { createPublicClient, http } from 'viem'
import { findIdentity, unlockIdentity, type DataPlaneContext } from '../access/index.js'
import { ProvenaError } from '../errors.js'
import { API_SCOPES, createServeToken, createToken, listTokens, revokeServeTokens, revokeToken, tokenAuthenticator, type ApiContext, type Authenticator } from './index.js'
import { buildServer, withDefaultAuth } from './server.js'

const P = 'dpv:ScientificResearch'

interface Problem {
  type: string
  title: string
  status: number
  detail: string
  instance: string
  code: string
}

describe('provena serve: the HTTP API over real loopback HTTP (issue 13)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'provena-api-'))
  let p: Provena
  let chain: ChainSession
  let app: FastifyInstance
  let base = ''
  let dataset = ''
  let imported = ''
  let store: Awaited<ReturnType<typeof openStore>>
  let plane: DataPlaneContext
  const tokens: Record<string, string> = {}
  const tokenIds: Record<string, string> = {}

  before(async () => {
    initDataDir(dir, 'pw')
    p = openProvena(dir, { passphrase: 'pw' })
    chain = await openChain(p)
    await createMemberIdentity(p, chain, 'st-mary', 'controller', 'pw')
    await createMemberIdentity(p, chain, 'lab', 'trainer', 'pw')
    const file = join(dir, 'data.csv')
    writeFileSync(file, 'id,x\n1,2\n3,4\n')
    dataset = (await registerDatasetFile({ p, chain }, file)).id
    store = await openStore(dir, { backend: 'fs' })
    plane = { ...registryContext({ p, chain }), store }
    writeFileSync(join(dir, 'people.csv'), 'id,age\nE-1,40\nE-2,41\n')
    imported = (await importEncrypted({ p, chain, plane }, join(dir, 'people.csv'), { subjectColumn: 'id', controller: unlockIdentity(dir, 'st-mary', 'pw') })).id
    const hour = 3_600_000
    const make = (key: string, as: string, role: string, scopes: string[], now = Date.now()) => {
      const t = createToken(p.db, dir, { as, role, scopes, lifetimeMs: hour, now })
      tokens[key] = t.token
      tokenIds[key] = t.info.id
    }
    make('right', 'st-mary', 'controller', [...API_SCOPES])
    make('wrongScope', 'st-mary', 'controller', ['log:read'])
    make('wrongRole', 'lab', 'trainer', [...API_SCOPES])
    make('expired', 'st-mary', 'controller', [...API_SCOPES], Date.now() - 2 * hour)
    make('revoked', 'st-mary', 'controller', [...API_SCOPES])
    revokeToken(p.db, tokenIds.revoked!)
    // A real id with a made-up secret, and an id that does not exist.
    tokens.forged = `pvn_${tokenIds.right}_${Buffer.alloc(32, 7).toString('base64url')}`
    tokenIds.forged = tokenIds.right!
    tokens.unknown = `pvn_0123456789abcdef_${Buffer.alloc(32, 9).toString('base64url')}`
    tokenIds.unknown = '0123456789abcdef'
    app = await buildServer({ p, chain, dir, passphrase: 'pw', plane })
    await app.listen({ host: '127.0.0.1', port: 0 })
    base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
  })
  after(async () => {
    await app?.close()
    await store?.close?.()
    await chain?.close()
    p?.close()
  })

  const call = async (method: string, path: string, opts: { token?: string | undefined; body?: unknown; raw?: string; headers?: Record<string, string>; base?: string } = {}) => {
    const headers: Record<string, string> = { ...opts.headers }
    if (opts.token) headers.authorization = `Bearer ${opts.token}`
    let body: string | undefined
    if (opts.raw !== undefined || opts.body !== undefined) {
      headers['content-type'] ??= 'application/json'
      body = opts.raw ?? JSON.stringify(opts.body)
    }
    const r = await fetch((opts.base ?? base) + path, { method, headers, body })
    const text = await r.text()
    return { status: r.status, type: r.headers.get('content-type') ?? '', headers: r.headers, text, json: <T = Record<string, unknown>>() => JSON.parse(text) as T }
  }

  const assertProblem = (r: Awaited<ReturnType<typeof call>>, status: number, code: string, instance: string) => {
    assert.equal(r.status, status, r.text)
    assert.match(r.type, /^application\/problem\+json/)
    const pb = r.json<Problem>()
    assert.deepEqual(
      { type: pb.type, title: pb.title, status: pb.status, code: pb.code, instance: pb.instance },
      { type: `urn:provena:error:${code}`, title: ERROR_CATALOGUE[code as keyof typeof ERROR_CATALOGUE].description, status, code, instance },
    )
    assert.ok(pb.detail.length > 0)
    return pb
  }

  const consentBody = (subject: string) => ({ changes: [{ subject, purpose: P, action: 'grant' }] })

  /** Every route that needs a credential: its scope, and a request that succeeds with the right one. */
  const routes = () => [
    { method: 'GET', path: '/v1/datasets', route: '/v1/datasets', body: undefined },
    { method: 'GET', path: `/v1/datasets/${dataset.slice(0, 10)}`, route: '/v1/datasets/:id', body: undefined },
    { method: 'POST', path: '/v1/consent', route: '/v1/consent', body: consentBody('S-matrix') },
    { method: 'GET', path: '/v1/log', route: '/v1/log', body: undefined },
    { method: 'GET', path: '/metrics', route: '/metrics', body: undefined },
    { method: 'POST', path: '/v1/datasets?name=m.csv', route: '/v1/datasets', body: undefined, raw: 'id,x\n7,8\n', headers: { 'content-type': 'text/csv' } },
    { method: 'POST', path: `/v1/datasets/${imported.slice(0, 10)}/export`, route: '/v1/datasets/:id/export', body: { purpose: P } },
    { method: 'POST', path: '/v1/subjects/E-1/erase', route: '/v1/subjects/:subject/erase', body: {} },
    { method: 'GET', path: '/v1/verify', route: '/v1/verify', body: undefined },
  ]

  const lastEntry = () => JSON.parse(p.log.entry(p.log.size() - 1).leaf.toString('utf8')) as Record<string, unknown>

  it('authorisation matrix: every route × (none, unknown, forged, expired, revoked, wrong scope, wrong role, right); a refusal of a verified credential logged without the secret, one that never verified not logged', async () => {
    const cases: { who: string; status: number; code?: string; onlyFor?: string }[] = [
      { who: 'none', status: 401, code: 'API_UNAUTHENTICATED' },
      { who: 'unknown', status: 401, code: 'API_TOKEN_INVALID' },
      { who: 'forged', status: 401, code: 'API_TOKEN_INVALID' },
      { who: 'expired', status: 401, code: 'API_TOKEN_EXPIRED' },
      { who: 'revoked', status: 401, code: 'API_TOKEN_REVOKED' },
      { who: 'wrongScope', status: 403, code: 'API_SCOPE_DENIED' },
      { who: 'right', status: 200 },
    ]
    let n = 0
    for (const r of routes()) {
      for (const c of cases) {
        // The wrong-scope token holds log:read: for GET /v1/log and /v1/verify it is the right scope.
        const status = c.who === 'wrongScope' && (r.route === '/v1/log' || r.route === '/v1/verify') ? 200 : c.status
        const before = p.log.size()
        const res = await call(r.method, r.path, { token: c.who === 'none' ? undefined : tokens[c.who], body: r.body, raw: 'raw' in r ? r.raw : undefined, headers: 'headers' in r ? r.headers : undefined })
        const what = `${r.method} ${r.path} as ${c.who}`
        if (status === 200) {
          assert.equal(res.status, 200, `${what}: ${res.text}`)
          continue
        }
        assertProblem(res, status, c.code!, r.path.split('?')[0]!)
        if (status === 401) assert.equal(res.headers.get('www-authenticate'), `Bearer realm="provena"${c.who === 'none' ? '' : ', error="invalid_token"'}`, what)
        if (status === 401) {
          // A credential that never verified writes nothing into the log (a stranger cannot); it is counted in /metrics.
          assert.equal(p.log.size(), before, `${what}: nothing logged`)
          n++
          continue
        }
        assert.equal(p.log.size(), before + 1, `${what}: one log entry`)
        const e = lastEntry()
        assert.deepEqual(
          { type: e.type, method: e.method, route: e.route, status: e.status, reason: e.reason, credential: e.credential, actor: e.actor },
          { type: 'provena.api.refused/v1', method: r.method, route: r.route, status, reason: c.code, credential: c.who === 'none' ? null : tokenIds[c.who], actor: p.operatorDid },
          what,
        )
        if (c.who !== 'none') assert.ok(!p.log.entry(p.log.size() - 1).leaf.toString('utf8').includes(tokens[c.who]!.slice('pvn_0123456789abcdef_'.length)), `${what}: no secret in the log`)
        n++
      }
    }
    // A trainer with every scope: the consent route is for controllers.
    const before = p.log.size()
    assertProblem(await call('POST', '/v1/consent', { token: tokens.wrongRole, body: consentBody('S-trainer') }), 403, 'API_ROLE_DENIED', '/v1/consent')
    assert.deepEqual([p.log.size(), lastEntry().reason, lastEntry().did], [before + 1, 'API_ROLE_DENIED', listTokens(p.db).find((t) => t.id === tokenIds.wrongRole)!.did])
    assert.equal((await call('GET', '/v1/datasets', { token: tokens.wrongRole })).status, 200, 'a trainer reads datasets')
    n++
    // Registering and erasing are for controllers too.
    assertProblem(await call('POST', '/v1/datasets?name=t.csv', { token: tokens.wrongRole, raw: 'id,x\n9,9\n', headers: { 'content-type': 'text/csv' } }), 403, 'API_ROLE_DENIED', '/v1/datasets')
    assertProblem(await call('POST', '/v1/subjects/E-1/erase', { token: tokens.wrongRole, body: {} }), 403, 'API_ROLE_DENIED', '/v1/subjects/E-1/erase')
    n += 2
    // Counted in /metrics by code.
    const metrics = (await call('GET', '/metrics', { token: tokens.right })).text
    const count = (code: string) => Number(new RegExp(`^provena_http_refusals_total\\{code="${code}"\\} (\\d+)$`, 'm').exec(metrics)?.[1] ?? 0)
    assert.deepEqual(
      ['API_UNAUTHENTICATED', 'API_TOKEN_INVALID', 'API_TOKEN_EXPIRED', 'API_TOKEN_REVOKED', 'API_SCOPE_DENIED', 'API_ROLE_DENIED'].map(count),
      [9, 18, 9, 9, 7, 3],
    )
    assert.equal(n, 55)
  })

  it("the operator's serve token acts as the identity it names (as); another token only as its own; the export streams CSV with its report; a body over the limit is 413, nothing registered", async () => {
    const serve = createServeToken(p.db, p.operatorDid, 3_600_000).token
    const ok = await call('POST', '/v1/consent', { token: serve, body: { ...consentBody('S-op'), as: 'st-mary' } })
    assert.equal(ok.status, 200, ok.text)
    const e = lastEntry() as { type: string; controller: string }
    assert.equal(e.controller, findIdentity(dir, 'st-mary').did)
    assertProblem(await call('POST', '/v1/consent', { token: serve, body: { ...consentBody('S-op'), as: 'lab' } }), 403, 'CONSENT_NOT_CONTROLLER', '/v1/consent')
    // A controller's own token names no one else.
    const before = p.log.size()
    assertProblem(await call('POST', '/v1/consent', { token: tokens.right, body: { ...consentBody('S-op2'), as: 'lab' } }), 403, 'API_ROLE_DENIED', '/v1/consent')
    assertProblem(await call('POST', '/v1/subjects/E-1/erase', { token: tokens.right, body: { as: 'lab' } }), 403, 'API_ROLE_DENIED', '/v1/subjects/E-1/erase')
    assert.equal(p.log.size(), before, 'nothing logged')
    assert.equal(revokeServeTokens(p.db, p.operatorDid), 1)
    assertProblem(await call('GET', '/v1/log', { token: serve }), 401, 'API_TOKEN_REVOKED', '/v1/log')

    await call('POST', '/v1/consent', { token: tokens.right, body: { changes: [{ subject: 'E-2', purpose: P, action: 'grant' }] } })
    const x = await call('POST', `/v1/datasets/${imported}/export`, { token: tokens.right, body: { purpose: P } })
    assert.equal(x.status, 200, x.text)
    assert.match(x.type, /^text\/csv/)
    assert.equal(x.text, 'id,age\nE-2,41\n')
    const report = JSON.parse(x.headers.get('provena-export-report')!) as { records: number; excluded: Record<string, number>; out?: string }
    assert.deepEqual([report.records, report.excluded, report.out], [1, { erased: 1 }, undefined], 'E-1 erased by the matrix')

    const count = () => (p.db.prepare("SELECT COUNT(*) AS n FROM registry_assets WHERE kind = 'dataset'").get() as { n: number }).n
    const n = count()
    const big = 'id,x\n' + '1,2\n'.repeat((1 << 20) / 4 + 10)
    assertProblem(await call('POST', '/v1/datasets?name=big.csv', { token: tokens.right, raw: big, headers: { 'content-type': 'text/csv' } }), 413, 'API_BODY_TOO_LARGE', '/v1/datasets')
    // A JSON body is not a dataset file: 415, nothing registered (it was a 500).
    assertProblem(await call('POST', '/v1/datasets?name=j.csv', { token: tokens.right, raw: '{"id":1}', headers: { 'content-type': 'application/json' } }), 415, 'API_UNSUPPORTED_MEDIA_TYPE', '/v1/datasets')
    const bad = assertProblem(await call('POST', '/v1/datasets?name=bad.csv', { token: tokens.right, raw: 'id,x\n1,2\n3,4,5\n', headers: { 'content-type': 'text/csv' } }), 400, 'REGISTRY_PARSE', '/v1/datasets')
    assert.match(bad.detail, /^body line 3: /)
    assert.equal(count(), n, 'nothing registered')
  })

  it('a GET route\'s HEAD twin needs the same credential', async () => {
    assert.equal((await call('HEAD', '/v1/datasets')).status, 401)
    assert.equal((await call('HEAD', '/v1/datasets', { token: tokens.right })).status, 200)
  })

  it('tokens are stored as SHA-256 of their secret only', () => {
    const row = p.db.prepare('SELECT * FROM api_tokens WHERE id = ?').get(tokenIds.right) as Record<string, unknown>
    const secret = tokens.right!.slice('pvn_0123456789abcdef_'.length)
    assert.deepEqual(row.secret_hash, createHash('sha256').update(secret).digest())
    assert.ok(!Object.values(row).some((v) => String(v).includes(secret)))
  })

  it('16 concurrent clients posting consent: every change logged once', async () => {
    const before = p.log.size()
    const rs = await Promise.all(Array.from({ length: 16 }, (_, i) => call('POST', '/v1/consent', { token: tokens.right, body: { changes: Array.from({ length: 5 }, (_, k) => ({ subject: `C-${i}-${k}`, purpose: P, action: 'grant' })) } })))
    assert.deepEqual(rs.map((r) => r.status), Array(16).fill(200))
    assert.equal(p.log.size(), before + 80)
    assert.deepEqual(rs.map((r) => r.json<{ firstLogIndex: number }>().firstLogIndex).sort((a, b) => a - b), Array.from({ length: 16 }, (_, i) => before + 5 * i))
  })

  it('public routes answer without a credential: /healthz, /openapi.json, /docs', async () => {
    const h = await call('GET', '/healthz')
    assert.equal(h.status, 200)
    assert.equal(h.json().status, 'ok')
    assert.equal((await call('GET', '/openapi.json')).status, 200)
    const docs = await call('GET', '/docs')
    assert.equal(docs.status, 200)
    assert.match(docs.type, /text\/html/)
  })

  it('POST /v1/consent records a batch as the token\'s controller, all or none', async () => {
    const before = p.log.size()
    const ok = await call('POST', '/v1/consent', { token: tokens.right, body: { changes: [{ subject: 'S-1', purpose: P, action: 'grant' }, { subject: 'S-2', purpose: P, action: 'refuse', dataset: dataset.slice(0, 8) }] } })
    assert.equal(ok.status, 200, ok.text)
    assert.deepEqual(ok.json(), { changes: 2, unchanged: 0, byState: { given: 1, refused: 1 }, firstLogIndex: before, treeSize: before + 2 })
    const e = JSON.parse(p.log.entry(before).leaf.toString('utf8')) as { type: string; controller: string }
    assert.equal(e.type, 'provena.consent.record/v2')
    // The same again: unchanged, nothing logged.
    const again = await call('POST', '/v1/consent', { token: tokens.right, body: { changes: [{ subject: 'S-1', purpose: P, action: 'grant' }] } })
    assert.deepEqual([again.json().changes, again.json().unchanged, p.log.size()], [0, 1, before + 2])
    // One bad change among good ones: nothing applied.
    const bad = await call('POST', '/v1/consent', { token: tokens.right, body: { changes: [{ subject: 'S-3', purpose: P, action: 'grant' }, { subject: 'S-4', purpose: 'dpv:NoSuchPurpose', action: 'grant' }] } })
    assertProblem(bad, 400, 'CONSENT_UNKNOWN_PURPOSE', '/v1/consent')
    const unknownDataset = await call('POST', '/v1/consent', { token: tokens.right, body: { changes: [{ subject: 'S-3', purpose: P, action: 'grant' }, { subject: 'S-4', purpose: P, action: 'grant', dataset: 'abcdef0123' }] } })
    assert.match(assertProblem(unknownDataset, 400, 'CONSENT_BAD_LINE', '/v1/consent').detail, /^body\/changes:1: dataset: /)
    assert.equal(p.log.size(), before + 2)
  })

  it('bad input: 400 naming the field (unknown, missing, wrong type, malformed JSON), 413 oversized, 415, 404, path traversal refused', async () => {
    const t = tokens.right
    const before = p.log.size()
    const detail = async (body: unknown, raw?: string) => assertProblem(await call('POST', '/v1/consent', { token: t, body, raw }), 400, 'API_BAD_REQUEST', '/v1/consent').detail
    assert.equal(await detail({ changes: [{ subject: 'S', purpose: P, action: 'grant', colour: 'red' }] }), 'body/changes/0/colour: unknown field')
    assert.equal(await detail({ changes: [], extra: 1 }), 'body/extra: unknown field')
    assert.equal(await detail({ changes: [{ subject: 'S', action: 'grant' }] }), 'body/changes/0/purpose: missing')
    assert.match(await detail({ changes: [{ subject: 5, purpose: P, action: 'grant' }] }), /^body\/changes\/0\/subject: must be string/)
    assert.match(await detail({ changes: [{ subject: 'S', purpose: P, action: 'steal' }] }), /^body\/changes\/0\/action: must be equal to one of the allowed values/)
    assert.match(await detail({ changes: [{ subject: 'S', purpose: P, action: 'grant', expires: 'tomorrow' }] }), /^body\/changes\/0\/expires: must match format "date-time"/)
    assert.match(await detail({ changes: [{ subject: 'S', purpose: P, action: 'grant', signer: 'did:key:z6Mk' }] }), /^body\/changes\/0\/issued: missing/)
    assert.match(await detail(undefined, '{"changes": [}'), /^malformed request: /)
    assert.match(await detail(undefined, '{"changes": [{"subject": "S", "purpose": "dpv:ScientificResearch", "action": "grant"}], "__proto__": {"polluted": 1}}'), /^malformed request: /)
    assert.match(await detail({ changes: [] }), /^body\/changes: must NOT have fewer than 1 items/)
    assertProblem(await call('POST', '/v1/consent', { token: t, raw: JSON.stringify({ changes: [{ subject: 'x'.repeat(1 << 20), purpose: P, action: 'grant' }] }) }), 413, 'API_BODY_TOO_LARGE', '/v1/consent')
    assertProblem(await call('POST', '/v1/consent', { token: t, raw: 'subject=S', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 415, 'API_UNSUPPORTED_MEDIA_TYPE', '/v1/consent')
    assertProblem(await call('GET', '/v1/nothing-here', { token: t }), 404, 'API_NOT_FOUND', '/v1/nothing-here')
    assertProblem(await call('GET', `/v1/datasets/${'0'.repeat(64)}`, { token: t }), 404, 'REGISTRY_UNKNOWN_ASSET', `/v1/datasets/${'0'.repeat(64)}`)
    for (const id of ['..%2F..%2Fkeys%2Fkeystore.json', '..', '%2e%2e', 'abcdef%00', 'abcdef/..']) {
      const r = await call('GET', `/v1/datasets/${id}`, { token: t })
      assert.ok(r.status === 400 || r.status === 404, `${id}: ${r.status}`)
      assert.match(r.type, /^application\/problem\+json/, id)
      if (r.status === 400) assert.match(r.json<Problem>().detail, /^params\/id: must match pattern/, id)
    }
    assert.equal(p.log.size(), before, 'nothing written')
  })

  it('GET /v1/datasets and /v1/log answer from the service layer', async () => {
    const list = (await call('GET', '/v1/datasets', { token: tokens.right })).json<{ datasets: { id: string; records: number }[] }>()
    // The one registered before, the one imported, the one the matrix registered (POST /v1/datasets).
    assert.deepEqual(list.datasets.filter((d) => d.id === dataset).map((d) => [d.id, d.records]), [[dataset, 2]])
    assert.equal(list.datasets.length, 3)
    const one = (await call('GET', `/v1/datasets/${dataset.slice(0, 6)}`, { token: tokens.right })).json<{ id: string; manifest: { records: number } }>()
    assert.deepEqual([one.id, one.manifest.records], [dataset, 2])
    const log = (await call('GET', '/v1/log', { token: tokens.right })).json<{ origin: string; treeSize: number; checkpoint: { note: string }; anchored: { treeSize: number } }>()
    assert.equal(log.origin, p.signer.origin)
    assert.equal(log.treeSize, p.log.size())
    assert.match(log.checkpoint.note, new RegExp(`^${log.origin}\\n`))
    assert.ok(log.anchored.treeSize > 0 && log.anchored.treeSize <= log.treeSize)
  })

  it('/metrics: Prometheus text with anchoring lag, seconds since the last anchor, outbox depth and requests by route', async () => {
    const r = await call('GET', '/metrics', { token: tokens.right })
    assert.match(r.type, /^text\/plain; version=0\.0\.4/)
    const samples = new Map<string, number>()
    for (const line of r.text.split('\n')) {
      if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue
      const m = /^([a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line)
      assert.ok(m, `not a sample line: ${line}`)
      samples.set(m[1]!, Number(m[2]))
    }
    assert.equal(samples.get('provena_log_size'), p.log.size())
    assert.equal(samples.get('provena_anchoring_lag_entries'), p.log.size() - samples.get('provena_log_anchored_size')!)
    assert.ok(samples.get('provena_anchoring_lag_entries')! > 0, 'refusals and consent since the last anchor')
    assert.ok(samples.get('provena_seconds_since_last_anchor')! >= 0)
    assert.equal(samples.get('provena_outbox_pending'), 0)
    assert.ok(samples.get('provena_http_requests_total{route="/v1/datasets",method="GET",status="200"}')! >= 2)
    assert.ok(samples.get('provena_http_requests_total{route="unmatched",method="GET",status="404"}')! >= 1, 'unknown paths share one label value')
  })

  it('the OpenAPI document is valid OpenAPI 3.1 (independent validator) and describes every route with its security', async () => {
    const doc = (await call('GET', '/openapi.json')).json<{ openapi: string; paths: Record<string, Record<string, { security?: unknown; responses: Record<string, unknown> }>> }>()
    const v = new Validator()
    const res = await v.validate(doc as unknown as Parameters<Validator["validate"]>[0])
    assert.ok(res.valid, JSON.stringify(res.errors, null, 2))
    assert.equal(v.version, '3.1')
    assert.deepEqual(Object.keys(doc.paths).sort(), [
      '/healthz',
      '/log/checkpoint',
      '/log/tile/{*}',
      '/metrics',
      '/v1/access/release',
      '/v1/consent',
      '/v1/datasets',
      '/v1/datasets/{id}',
      '/v1/datasets/{id}/export',
      '/v1/fl/tasks',
      '/v1/fl/tasks/{task}',
      '/v1/fl/tasks/{task}/aggregate',
      '/v1/fl/tasks/{task}/model',
      '/v1/fl/tasks/{task}/rounds/{round}/model',
      '/v1/fl/tasks/{task}/rounds/{round}/updates',
      '/v1/fl/tasks/{task}/status',
      '/v1/fl/tasks/{task}/train',
      '/v1/log',
      '/v1/segments/{cid}',
      '/v1/subjects/{subject}/erase',
      '/v1/verify',
      '/witness/add-checkpoint',
      '/witness/{originHash}/checkpoint',
    ])
    // Public: what anyone may read or post (signed content, checked against pinned keys).
    const PUBLIC = new Set(['/healthz', '/log/checkpoint', '/log/tile/{*}', '/witness/add-checkpoint', '/witness/{originHash}/checkpoint'])
    const ids: string[] = []
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        if (PUBLIC.has(path)) assert.equal(op.security, undefined, `${method} ${path}`)
        else assert.deepEqual(op.security, [{ bearer: [] }], `${method} ${path}`)
        assert.ok(op.responses['4XX'], `${method} ${path} documents its problems`)
        ids.push((op as { operationId?: string }).operationId ?? '')
      }
    }
    const named = ids.filter(Boolean)
    assert.equal(new Set(named).size, named.length, 'operationIds are unique, for client generators')
    for (const id of ['getDataset', 'getHealth', 'getLog', 'getMetrics', 'listDatasets', 'recordConsent', 'registerDataset', 'exportDataset', 'eraseSubject', 'verifyLog']) assert.ok(named.includes(id), id)
  })

  it('a route that declares no auth stops the server from starting; withDefaultAuth gives one', async () => {
    const ctx: ApiContext = { p, chain, dir }
    const open = async (a: FastifyInstance) => void a.get('/open', async () => 'open')
    await assert.rejects(buildServer(ctx, { plugins: [open] }), /route GET \/open declares no config.auth/)
    const s = await buildServer(ctx, { plugins: [withDefaultAuth('public', open), withDefaultAuth({ scope: 'log:read' }, async (a) => void a.get('/closed', async () => 'closed'))] })
    try {
      assert.equal((await s.inject({ method: 'GET', url: '/open' })).statusCode, 200)
      assert.equal((await s.inject({ method: 'GET', url: '/closed' })).statusCode, 401)
    } finally {
      await s.close()
    }
  })

  it('another credential kind is one Authenticator: a member whose headers hold (role from elsewhere) and whose body is checked once read', async () => {
    // A stand-in for RFC 9421: x-member names a DID, x-digest is the SHA-256 of the body it "signed".
    const roles = new Map([[findIdentity(dir, 'st-mary').did, 'controller'], [findIdentity(dir, 'lab').did, 'trainer']])
    const member: Authenticator = async (request) => {
      const did = request.headers['x-member']
      if (typeof did !== 'string') return undefined
      const role = roles.get(did)
      if (!role) throw new ProvenaError('API_TOKEN_INVALID', `${did} is not a member`)
      const digest = String(request.headers['x-digest'] ?? '')
      return {
        kind: 'signature',
        id: did,
        name: did,
        did,
        role,
        scopes: 'all',
        checkBody: (raw) => {
          if (createHash('sha256').update(raw).digest('hex') !== digest) throw new ProvenaError('API_TOKEN_INVALID', 'the body is not the one signed', { details: { token: did } })
        },
      }
    }
    const s = await buildServer({ p, chain, dir, passphrase: 'pw', authenticators: [tokenAuthenticator, member] })
    await s.listen({ host: '127.0.0.1', port: 0 })
    const at = `http://127.0.0.1:${(s.server.address() as { port: number }).port}`
    try {
      const body = JSON.stringify(consentBody('S-member'))
      const sha = createHash('sha256').update(body).digest('hex')
      const stMary = findIdentity(dir, 'st-mary').did
      const ok = await call('POST', '/v1/consent', { base: at, raw: body, headers: { 'x-member': stMary, 'x-digest': sha } })
      assert.equal(ok.status, 200, ok.text)
      const before = p.log.size()
      const tampered = await call('POST', '/v1/consent', { base: at, raw: body.replace('S-member', 'S-other!'), headers: { 'x-member': stMary, 'x-digest': sha } })
      assertProblem(tampered, 401, 'API_TOKEN_INVALID', '/v1/consent')
      assert.equal(p.log.size(), before, 'nothing logged: a body that is not the one signed is a credential that does not hold (401)')
      const trainer = await call('POST', '/v1/consent', { base: at, raw: body, headers: { 'x-member': findIdentity(dir, 'lab').did, 'x-digest': sha } })
      assertProblem(trainer, 403, 'API_ROLE_DENIED', '/v1/consent')
      // A member, even a controller, registers nothing on this node: that takes one of its tokens.
      const csv = 'id,x\n11,12\n'
      const reg = await call('POST', '/v1/datasets?name=member.csv', { base: at, raw: csv, headers: { 'content-type': 'text/csv', 'x-member': stMary, 'x-digest': createHash('sha256').update(csv).digest('hex') } })
      assertProblem(reg, 403, 'API_ROLE_DENIED', '/v1/datasets')
      assert.equal((await call('GET', '/v1/log', { base: at, token: tokens.right })).status, 200, 'tokens still work beside it')
    } finally {
      await s.close()
    }
  })

  it('the chain lost mid-request: 503 CHAIN_UNREACHABLE, not a 500', async () => {
    const dead = createPublicClient({ transport: http('http://127.0.0.1:1', { retryCount: 0 }) })
    const s = await buildServer({ p, chain: { ...chain, client: { ...chain.client, publicClient: dead as typeof chain.client.publicClient } }, dir })
    try {
      const r = await s.inject({ method: 'GET', url: '/v1/log', headers: { authorization: `Bearer ${tokens.right}` } })
      assert.equal(r.statusCode, 503, r.body)
      assert.equal((JSON.parse(r.body) as Problem).code, 'CHAIN_UNREACHABLE')
    } finally {
      await s.close()
    }
  })
})
