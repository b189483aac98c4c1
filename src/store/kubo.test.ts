// The Kubo RPC adapter against an HTTP server that speaks the part of the Kubo RPC API it
// uses, as documented at docs.ipfs.tech/reference/kubo/rpc (POST only; multipart block/put
// with cid-codec, mhtype, pin; offline block/get and block/stat; pin/ls; pin/rm; block/rm;
// errors as {"Message", "Code", "Type": "error"} with status 500). No Kubo binary can be
// installed on these machines (it downloads at install time); this pins the request and
// response shapes so that the adapter talks to a real node the same way.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { cidOf, FsBlobStore, KuboBlobStore, migrateStore } from './index.js'

describe('Kubo RPC adapter (block API)', () => {
  const blocks = new Map<string, Buffer>()
  const pins = new Set<string>()
  let corrupt = false
  let server: Server
  let url = ''
  const calls: string[] = []
  before(async () => {
    server = createServer(async (req, res) => {
      const chunks: Buffer[] = []
      for await (const c of req) chunks.push(c as Buffer)
      const u = new URL(req.url!, 'http://kubo')
      calls.push(`${req.method} ${u.pathname}`)
      const fail = (message: string) => {
        res.writeHead(500, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ Message: message, Code: 0, Type: 'error' }))
      }
      if (req.method !== 'POST') return fail('405 - Method Not Allowed')
      const arg = u.searchParams.get('arg') ?? ''
      switch (u.pathname) {
        case '/api/v0/block/put': {
          if (u.searchParams.get('cid-codec') !== 'raw' || u.searchParams.get('mhtype') !== 'sha2-256') return fail('unexpected codec or hash')
          const form = await new Request('http://kubo', { method: 'POST', headers: { 'content-type': req.headers['content-type']! }, body: Buffer.concat(chunks) }).formData()
          const file = form.get('file') as Blob
          const bytes = Buffer.from(await file.arrayBuffer())
          if (bytes.length > 1024 * 1024 && u.searchParams.get('allow-big-block') !== 'true') return fail('produced block is over 1MiB: big blocks can\'t be exchanged with other peers')
          const cid = cidOf(bytes)
          blocks.set(cid, bytes)
          if (u.searchParams.get('pin') === 'true') pins.add(cid)
          res.end(JSON.stringify({ Key: cid, Size: bytes.length }))
          return
        }
        case '/api/v0/block/get': {
          const b = blocks.get(arg)
          if (!b) return fail('block was not found locally (offline): ipld: could not find ' + arg)
          res.end(corrupt ? Buffer.concat([b, Buffer.of(0)]) : b)
          return
        }
        case '/api/v0/block/stat':
          return blocks.has(arg) ? res.end(JSON.stringify({ Key: arg, Size: blocks.get(arg)!.length })) : fail('block was not found locally (offline)')
        case '/api/v0/pin/ls':
          return res.end(JSON.stringify({ Keys: Object.fromEntries([...pins].map((c) => [c, { Type: 'recursive' }])) }))
        case '/api/v0/pin/rm':
          pins.delete(arg)
          return res.end(JSON.stringify({ Pins: [arg] }))
        case '/api/v0/block/rm':
          blocks.delete(arg)
          return res.end(JSON.stringify({ Hash: arg }))
        default:
          return fail(`404 page not found: ${u.pathname}`)
      }
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  })
  after(() => server.close())

  it('puts pinned raw blocks (over 1 MiB too), gets them back verified, lists, deletes; fs → Kubo migration is verified', async () => {
    const kubo = new KuboBlobStore(url)
    const small = randomBytes(1000)
    const big = randomBytes(2 * 1024 * 1024 + 5)
    assert.equal(await kubo.put(small), cidOf(small))
    assert.equal(await kubo.put(big), cidOf(big))
    assert.ok((await kubo.get(cidOf(big))).equals(big))
    assert.equal(await kubo.has(cidOf(small)), true)
    const listed: string[] = []
    for await (const c of kubo.list()) listed.push(c)
    assert.deepEqual(listed, [cidOf(small), cidOf(big)].sort())
    await kubo.delete(cidOf(small))
    assert.equal(await kubo.has(cidOf(small)), false)
    await assert.rejects(kubo.get(cidOf(small)), { code: 'STORE_MISSING_BLOCK' })
    corrupt = true
    await assert.rejects(kubo.get(cidOf(big)), { code: 'STORE_CORRUPT_BLOCK' })
    corrupt = false

    const fs = new FsBlobStore(join(mkdtempSync(join(tmpdir(), 'provena-kubo-')), 'blobs'))
    const blocksFs = [randomBytes(300), randomBytes(5000)]
    for (const b of blocksFs) await fs.put(b)
    const r = await migrateStore(fs, kubo)
    assert.equal(r.blocks, 2)
    for (const b of blocksFs) assert.ok((await kubo.get(cidOf(b))).equals(b))
    assert.ok(calls.every((c) => c.startsWith('POST /api/v0/')))
  })

  it('names an unreachable node', async () => {
    await assert.rejects(new KuboBlobStore('http://127.0.0.1:1').get(cidOf(Buffer.from('x'))), { code: 'STORE_IPFS_UNREACHABLE' })
  })
})
