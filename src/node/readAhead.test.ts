import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { createServer } from 'node:http'
import { describe, it } from 'node:test'
import { readAhead, segmentsFetcher } from './index.js'

describe('readAhead: segments fetched ahead, a batch a request, in the order a release lists them (issue 13)', () => {
  it('has the next batch on its way, fetches each segment once, reports a failure only to whoever asks', async () => {
    const cids = ['c0', 'c1', 'c2', 'c3', 'c4', 'c5', 'c6']
    const requests: string[] = []
    const fetchMany = async (batch: readonly string[]) => {
      requests.push(batch.join(','))
      if (batch.includes('c4')) throw new Error('c4 is gone')
      return batch.map((c) => Buffer.from(c))
    }
    const get = readAhead(fetchMany, cids, 2)
    assert.equal((await get('c0')).toString(), 'c0')
    assert.deepEqual(requests, ['c0,c1', 'c2,c3']) // its batch and the next, no more
    assert.equal((await get('c1')).toString(), 'c1')
    assert.deepEqual(requests, ['c0,c1', 'c2,c3'])
    // The batch of c4 failed while read ahead (asked with c2): nothing thrown until one of it is asked for.
    assert.equal((await get('c2')).toString(), 'c2')
    assert.deepEqual(requests, ['c0,c1', 'c2,c3', 'c4,c5'])
    assert.equal((await get('c3')).toString(), 'c3')
    await assert.rejects(get('c4'), /c4 is gone/)
    await assert.rejects(get('c5'), /c4 is gone/)
    assert.equal((await get('c6')).toString(), 'c6')
    assert.deepEqual(requests, ['c0,c1', 'c2,c3', 'c4,c5', 'c6']) // each once
    // A segment asked again, or one the list does not name, is fetched alone when asked.
    assert.equal((await get('c0')).toString(), 'c0')
    assert.equal((await get('other')).toString(), 'other')
    assert.deepEqual(requests.slice(4), ['c0', 'other'])
  })

  it('segmentsFetcher: one request for several, split by the lengths the node states, each in a buffer of its own; lengths that do not add up are refused', async () => {
    const a = 'a'.repeat(59)
    const b = 'b'.repeat(59)
    let lengths = '3,5'
    const paths: string[] = []
    const server = createServer((req, res) => {
      paths.push(req.url!)
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'provena-segment-lengths': lengths })
      res.end(Buffer.from('AAABBBBB'))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const key = { keyId: 'did:key:z6Mktest', privateKey: generateKeyPairSync('ed25519').privateKey }
      const get = segmentsFetcher(`http://127.0.0.1:${(server.address() as { port: number }).port}`, key)
      const [x, y] = await get([a, b])
      assert.deepEqual([x!.toString(), y!.toString()], ['AAA', 'BBBBB'])
      assert.deepEqual([x!.buffer.byteLength, y!.buffer.byteLength], [3, 5]) // not views into the whole answer
      assert.deepEqual(paths, [`/v1/segments/${a},${b}`])
      lengths = '3,4'
      await assert.rejects(get([a, b]), (e: Error & { code?: string }) => e.code === 'NODE_REMOTE_REFUSED' && /Provena-Segment-Lengths/.test(e.message))
    } finally {
      server.close()
    }
  })
})
