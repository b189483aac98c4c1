import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { commitDataset, commitRecord, openDataset } from './index.js'
import { recordBoundary } from './commitParallel.js'
import { rootOfLeafHashes } from '../log/index.js'

const dir = mkdtempSync(join(tmpdir(), 'provena-parallel-'))

/** Checks every commitment against the records read sequentially, index and line included. */
async function assertMatchesSequential(path: string, workers: number, regionBytes: number) {
  const c = await commitDataset(path, undefined, { workers, regionBytes })
  const records = []
  for await (const r of openDataset(path).records()) records.push(r)
  assert.equal(c.manifest.records, records.length)
  records.forEach((r, i) => {
    assert.equal(c.lines[i], r.line, `line of record ${i}`)
    const expected = commitRecord(i, c.salts.subarray(32 * i, 32 * i + 32), r.canonical)
    assert.ok(expected.equals(c.commitments.subarray(32 * i, 32 * i + 32)), `commitment of record ${i}`)
  })
  const leafHashes = Array.from({ length: c.manifest.records }, (_, i) => c.commitments.subarray(32 * i, 32 * i + 32))
  assert.equal(rootOfLeafHashes(leafHashes).toString('hex'), c.manifest.root, 'the merged subtrees give the root of all commitments')
  const seq = await commitDataset(path, undefined, { workers: 0 })
  assert.equal(seq.contentDigest, c.contentDigest)
  assert.deepEqual(seq.manifest.schema, c.manifest.schema)
  return c
}

describe('parallel dataset registration (worker threads)', () => {
  it('CSV cut into many small regions gives the records, lines and commitments of the sequential reader', async () => {
    const rows = Array.from({ length: 3000 }, (_, i) => `S-${i},${i * 1.5},${i % 7 === 0 ? '"quoted, with\nnewline"' : 'plain'},é${i}`)
    const path = join(dir, 'mixed.csv')
    writeFileSync(path, `id,value,note,text\r\n${rows.join('\r\n')}\r\n`)
    await assertMatchesSequential(path, 2, 4096)
    await assertMatchesSequential(path, 3, 1000)
  })

  it('JSON Lines with blank lines, in small regions', async () => {
    const path = join(dir, 'a.jsonl')
    writeFileSync(path, Array.from({ length: 2000 }, (_, i) => (i % 50 === 0 ? '' : JSON.stringify({ i, s: `x${i}`, n: [i, i / 3] }))).join('\n'))
    await assertMatchesSequential(path, 2, 2048)
  })

  it('a bad row deep in the file is named by its absolute line', async () => {
    const rows = Array.from({ length: 5000 }, (_, i) => (i === 4321 ? 'bad' : `${i},x`))
    const path = join(dir, 'ragged.csv')
    writeFileSync(path, `a,b\n${rows.join('\n')}\n`)
    await assert.rejects(commitDataset(path, undefined, { workers: 2, regionBytes: 3000 }), /ragged\.csv:4323: ragged row: 1 fields, the header has 2/)
    const open = join(dir, 'open.csv')
    writeFileSync(open, `a,b\n${rows.slice(0, 100).join('\n')}\n1,"never closed\n2,3\n`)
    await assert.rejects(commitDataset(open, undefined, { workers: 2, regionBytes: 256 }), /open\.csv:102: a quoted field is not closed/)
  })

  it('recordBoundary never cuts inside quotes', () => {
    assert.equal(recordBoundary(Buffer.from('a,b\n1,"x\ny"\n2')), 11)
    assert.equal(recordBoundary(Buffer.from('1,"x\ny')), -1)
    assert.equal(recordBoundary(Buffer.from('1,2\n3,4')), 3)
  })
})
