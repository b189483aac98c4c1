import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import { sha256 } from '../crypto/index.js'
import { verifyCosignature, type WitnessContext } from '../node/index.js'
import { tempDb, TestLog, witnessKey } from '../node/witnessFixtures.js'
import { witnessRoutes } from './witness.js'

const bodyOf = (note: string) => note.slice(0, note.indexOf('\n\n') + 1)

describe('the witness over HTTP: POST /witness/add-checkpoint (src/api/witness.ts)', () => {
  const log = new TestLog('provena.log/aaaa').append(9)
  const ctx: WitnessContext = { db: tempDb(), key: witnessKey(), logKey: (o) => (o === log.origin ? log.key.publicKeyBytes : undefined) }
  let app: FastifyInstance
  let url: string
  const post = (body: string, headers: Record<string, string> = { 'content-type': 'text/plain' }) => fetch(`${url}/witness/add-checkpoint`, { method: 'POST', body, headers })

  before(async () => {
    app = Fastify()
    await app.register(witnessRoutes, { witness: ctx })
    // A JSON route beside it keeps its JSON parser: the witness's text parser is its own.
    app.post('/json', async (req) => ({ echo: req.body }))
    await app.listen({ host: '127.0.0.1', port: 0 })
    const address = app.server.address()
    url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`
  })
  after(() => app.close())

  it('200 with a cosignature line (text/plain) for a good checkpoint; 409 text/x.tlog.size with the size; then 200 from it', async () => {
    let res = await post(log.request(0))
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/)
    const line = await res.text()
    assert.ok(line.endsWith('\n'))
    assert.ok(verifyCosignature(bodyOf(log.note()), line, ctx.key))
    log.append(7)
    res = await post(log.request(0))
    assert.equal(res.status, 409)
    assert.equal(res.headers.get('content-type'), 'text/x.tlog.size')
    assert.equal(await res.text(), '9\n')
    res = await post(log.request(9))
    assert.equal(res.status, 200)
  })

  it('403 forged signature, 404 unknown log, 422 split view, 400 malformed; any content type (or none) is read as text', async () => {
    const fork = new TestLog(log.origin, log.key).append(16, 'fork')
    assert.equal((await post(fork.request(16))).status, 422)
    const stranger = new TestLog('provena.log/bbbb').append(2)
    assert.equal((await post(stranger.request(0))).status, 404)
    const forged = new TestLog(log.origin).append(20)
    const res = await post(forged.request(16))
    assert.equal(res.status, 403)
    assert.match(await res.text(), /no valid signature by the log key/)
    assert.equal((await post('old x\n\n')).status, 400)
    assert.equal((await post(log.request(16), { 'content-type': 'application/octet-stream' })).status, 200)
    assert.equal((await post(log.request(16), {})).status, 200)
    // The JSON route beside it still parses JSON.
    const json = await fetch(`${url}/json`, { method: 'POST', body: '{"a":1}', headers: { 'content-type': 'application/json' } })
    assert.deepEqual(await json.json(), { echo: { a: 1 } })
  })

  it('refuses a body over 16 KiB (413) without reading it as a checkpoint', async () => {
    const res = await post(`old 0\n${'A'.repeat(17 * 1024)}\n\n`)
    assert.equal(res.status, 413)
  })

  it('GET /witness/<sha256(origin)>/checkpoint serves the last cosigned checkpoint with the log signature and the cosignature; 404 otherwise', async () => {
    const res = await fetch(`${url}/witness/${sha256(Buffer.from(log.origin)).toString('hex')}/checkpoint`)
    assert.equal(res.status, 200)
    const text = await res.text()
    assert.ok(text.startsWith(log.note()))
    const cosig = text.slice(log.note().length)
    assert.ok(verifyCosignature(bodyOf(log.note()), cosig, ctx.key))
    assert.equal((await fetch(`${url}/witness/${'0'.repeat(64)}/checkpoint`)).status, 404)
    assert.equal((await fetch(`${url}/witness/..%2F..%2Fetc/checkpoint`)).status, 400)
  })
})
