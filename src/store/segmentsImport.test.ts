// Segments of a real encrypted import, checked with an independent CID implementation
// (multiformats): each is one raw block within Kubo's default 1 MiB block limit, so
// `ipfs block put --cid-codec raw --mhtype sha2-256` of its bytes gives the same CID.
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { repoRoot, runCli } from '../testing.js'

const MiB = 1 << 20

describe('encrypted import: every segment is a raw block of at most 1 MiB under its CIDv1 (raw, sha2-256)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'provena-segments-'))
  const work = mkdtempSync(join(tmpdir(), 'provena-segments-files-'))
  const env = { PROVENA_PASSPHRASE: 'pw for tests' }
  const cli = (...args: string[]) => runCli([...args, '--dir', dir], env)
  before(async () => {
    assert.equal((await cli('init')).code, 0)
    assert.equal((await cli('node', 'start')).code, 0)
    assert.equal((await cli('identity', 'create', 'st-mary', '--role', 'controller')).code, 0)
  })
  after(async () => void (await cli('node', 'stop')))

  /** Imports `file`, then returns each of its segments' size, checking its CID independently. */
  async function importedSegments(file: string): Promise<{ id: string; sizes: number[] }> {
    const segmentCids = () => {
      const db = new Database(join(dir, 'provena.db'), { readonly: true })
      const cids = db.prepare('SELECT cid FROM access_segments').pluck().all() as string[]
      db.close()
      return new Set(cids)
    }
    const before = segmentCids()
    const r = await cli('dataset', 'import', file, '--subject-column', 'patient_id', '--as', 'st-mary', '--json')
    assert.equal(r.code, 0, r.stderr)
    const { id } = r.json<{ id: string }>()
    const cids = [...segmentCids()].filter((cid) => !before.has(cid))
    const sizes: number[] = []
    for (const cid of cids) {
      const bytes = readFileSync(join(dir, 'blobs', cid.slice(-2), cid))
      const independent = CID.create(1, raw.code, await sha256.digest(bytes))
      assert.equal(independent.toString(), cid, 'CIDv1, raw codec, sha2-256 multihash, base32')
      sizes.push(bytes.length)
    }
    return { id, sizes }
  }

  it('the breast-cancer CSV', async () => {
    const { sizes } = await importedSegments(join(repoRoot, 'data', 'breast_cancer.csv'))
    assert.ok(sizes.length >= 1)
    for (const n of sizes) assert.ok(n <= MiB, `${n} bytes`)
  })

  it('a generated 6 MiB file: segments of at most 1 MiB, nearly full; export gives the file back', async () => {
    const file = join(work, 'big.csv')
    const rows = ['patient_id,notes']
    for (let i = 0; i < 20_000; i++) rows.push(`P-${i},${'x'.repeat(200 + (i % 200))}`)
    writeFileSync(file, `${rows.join('\n')}\n`)
    const { id, sizes } = await importedSegments(file)
    for (const n of sizes) assert.ok(n <= MiB, `${n} bytes`)
    assert.ok(sizes.length >= 6 && sizes.length <= 9, `${sizes.length} segments`)
    const notFull = sizes.filter((n) => n < MiB - 1024)
    assert.ok(notFull.length <= 1, `only the last segment is not full: ${sizes.join(', ')}`)
    const out = join(work, 'out.csv')
    const e = await cli('dataset', 'export', id, '--as', 'st-mary', '--out', out)
    assert.equal(e.code, 0, e.stderr)
    assert.equal(readFileSync(out, 'utf8'), readFileSync(file, 'utf8'))
  })
})
