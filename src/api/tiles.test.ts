import assert from 'node:assert/strict'
import { request } from 'node:http'
import { after, before, describe, it } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import { generateEd25519 } from '../crypto/index.js'
import { openDatabase, type Db } from '../db/index.js'
import { hashLeaf, recordCheckpoint, SqliteLog } from '../log/index.js'
import { CHECKPOINT, IMMUTABLE, PARTIAL, tilesRoutes } from './tiles.js'

const key = generateEd25519()
const signer = { origin: 'example.org/api-tiles', privateKey: key.privateKey, publicKey: key.publicKeyBytes }

/** A raw GET whose path is sent as written (fetch would normalise "..").  */
function rawGet(base: string, path: string): Promise<{ status: number; body: string }> {
  const u = new URL(base)
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, method: 'GET' }, (res) => {
      let body = ''
      res.on('data', (d: Buffer) => (body += d.toString()))
      res.on('end', () => resolve({ status: res.statusCode!, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

describe('GET /log/… (C2SP tlog-tiles over HTTP)', () => {
  let app: FastifyInstance
  let base: string
  let db: Db
  let log: SqliteLog

  before(async () => {
    db = openDatabase(':memory:')
    log = new SqliteLog(db)
    app = Fastify()
    await app.register(tilesRoutes, { db, log })
    base = await app.listen({ host: '127.0.0.1', port: 0 })
  })
  after(async () => {
    await app.close()
    db.close()
  })

  it('answers 404 LOG_TILE_NO_CHECKPOINT before the first signed checkpoint', async () => {
    const r = await fetch(`${base}/log/checkpoint`)
    assert.equal(r.status, 404)
    assert.match(r.headers.get('content-type')!, /^application\/problem\+json/)
    assert.equal(((await r.json()) as { code: string }).code, 'LOG_TILE_NO_CHECKPOINT')
  })

  it('serves the signed checkpoint as text/plain with a short cache lifetime', async () => {
    log.append(Array.from({ length: 300 }, (_, i) => Buffer.from(`e${i}`)))
    const c = recordCheckpoint(db, log, signer)
    const r = await fetch(`${base}/log/checkpoint`)
    assert.equal(r.status, 200)
    assert.equal(r.headers.get('content-type'), 'text/plain; charset=utf-8')
    assert.equal(r.headers.get('cache-control'), CHECKPOINT)
    assert.equal(await r.text(), c.note)
  })

  it('serves full tiles as immutable octets, partial tiles with a short lifetime', async () => {
    const full = await fetch(`${base}/log/tile/0/000`)
    assert.equal(full.status, 200)
    assert.equal(full.headers.get('content-type'), 'application/octet-stream')
    assert.equal(full.headers.get('cache-control'), IMMUTABLE)
    const bytes = Buffer.from(await full.arrayBuffer())
    assert.equal(bytes.length, 8192)
    assert.deepEqual(bytes.subarray(32, 64), hashLeaf(Buffer.from('e1')))
    const partial = await fetch(`${base}/log/tile/0/001.p/44`)
    assert.equal(partial.headers.get('cache-control'), PARTIAL)
    assert.equal((await partial.arrayBuffer()).byteLength, 44 * 32)
    // fetch asks for gzip and inflates it; a client that does not ask gets the bytes as they are.
    const zipped = await fetch(`${base}/log/tile/entries/001.p/2`)
    assert.equal(zipped.headers.get('content-encoding'), 'gzip')
    assert.deepEqual(Buffer.from(await zipped.arrayBuffer()), Buffer.from('\x00\x04e256\x00\x04e257'))
    const plain = await rawGet(base, '/log/tile/entries/001.p/2')
    assert.equal(plain.body, '\x00\x04e256\x00\x04e257')
    const head = await fetch(`${base}/log/tile/1/000.p/1`, { method: 'HEAD' })
    assert.equal(head.status, 200)
  })

  it('answers 404 LOG_TILE_NOT_FOUND for a tile beyond the signed tree, even when the entries exist', async () => {
    log.append([Buffer.from('not signed yet')])
    for (const path of ['/log/tile/0/001.p/45', '/log/tile/0/001', '/log/tile/entries/001.p/45', '/log/tile/2/000.p/1', '/log/tile/0/x001/000']) {
      const r = await fetch(`${base}${path}`)
      assert.equal(r.status, 404, path)
      const p = (await r.json()) as { code: string; status: number; instance: string; type: string }
      assert.deepEqual([p.code, p.status, p.instance, p.type], ['LOG_TILE_NOT_FOUND', 404, path, 'urn:provena:error:LOG_TILE_NOT_FOUND'])
      assert.equal(r.headers.get('cache-control'), 'no-store')
    }
  })

  it('answers 400 LOG_TILE_BAD_PATH for non-canonical paths and traversal, sent byte for byte', async () => {
    for (const path of ['/log/tile/0/x000/000', '/log/tile/00/000', '/log/tile/0/000.p/0', '/log/tile/0/000.p/256', '/log/tile/0/%2e%2e/000', '/log/tile/..%2f..%2fetc%2fpasswd', '/log/tile/entries/000.p/007']) {
      const r = await rawGet(base, path)
      assert.equal(r.status, 400, path)
      assert.equal((JSON.parse(r.body) as { code: string }).code, 'LOG_TILE_BAD_PATH', path)
    }
    // Dot segments sent raw never reach a file: Fastify's router or our grammar refuses them.
    for (const path of ['/log/tile/../../../etc/passwd', '/log/tile/0/../000']) {
      const r = await rawGet(base, path)
      assert.ok(r.status === 400 || r.status === 404, `${path}: ${r.status}`)
      assert.doesNotMatch(r.body, /root:/)
    }
  })

  it('answers 500 LOG_TILE_ENTRY_TOO_LARGE for a bundle holding an entry over 65,535 bytes', async () => {
    const db2 = openDatabase(':memory:')
    const log2 = new SqliteLog(db2)
    log2.append([Buffer.from('small'), Buffer.alloc(70_000, 0x62)])
    recordCheckpoint(db2, log2, signer)
    const app2 = Fastify()
    await app2.register(tilesRoutes, { db: db2, prefix: '/other/' })
    const base2 = await app2.listen({ host: '127.0.0.1', port: 0 })
    try {
      const r = await fetch(`${base2}/other/tile/entries/000.p/2`)
      assert.equal(r.status, 500)
      const p = (await r.json()) as { code: string; detail: string }
      assert.equal(p.code, 'LOG_TILE_ENTRY_TOO_LARGE')
      assert.match(p.detail, /entry 1 is 70000 bytes/)
      assert.equal((await fetch(`${base2}/other/tile/0/000.p/2`)).status, 200)
    } finally {
      await app2.close()
      db2.close()
    }
  })

  it("serves under Fastify's own register prefix without doubling it", async () => {
    const app3 = Fastify()
    await app3.register(tilesRoutes, { db, prefix: '/logs/a' })
    const base3 = await app3.listen({ host: '127.0.0.1', port: 0 })
    try {
      assert.equal((await fetch(`${base3}/logs/a/checkpoint`)).status, 200)
      assert.equal((await fetch(`${base3}/logs/a/tile/0/000`)).status, 200)
      assert.equal((await fetch(`${base3}/log/checkpoint`)).status, 404)
    } finally {
      await app3.close()
    }
  })
})
