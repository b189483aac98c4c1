import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { readAhead } from './index.js'

describe('readAhead: segments fetched ahead in the order a release lists them (issue 13)', () => {
  it('has the next ones on their way, fetches each once, holds few, reports a failure only to whoever asks', async () => {
    const cids = ['c0', 'c1', 'c2', 'c3', 'c4', 'c5']
    const asked: string[] = []
    const fetchOne = async (cid: string) => {
      asked.push(cid)
      if (cid === 'c4') throw new Error('c4 is gone')
      return Buffer.from(cid)
    }
    const get = readAhead(fetchOne, cids, 2)
    assert.equal((await get('c0')).toString(), 'c0')
    assert.deepEqual(asked, ['c0', 'c1', 'c2']) // two ahead, no more
    assert.equal((await get('c1')).toString(), 'c1')
    assert.deepEqual(asked, ['c0', 'c1', 'c2', 'c3'])
    // c4 failed while read ahead (asked after c2): nothing thrown until c4 is asked for.
    assert.equal((await get('c2')).toString(), 'c2')
    assert.equal((await get('c3')).toString(), 'c3')
    await assert.rejects(get('c4'), /c4 is gone/)
    assert.equal((await get('c5')).toString(), 'c5')
    assert.deepEqual(asked, cids) // each fetched once
    // A segment asked again, or one the list does not name, is fetched when asked.
    assert.equal((await get('c0')).toString(), 'c0')
    assert.equal((await get('other')).toString(), 'other')
    assert.deepEqual(asked.slice(6), ['c0', 'other'])
  })
})
