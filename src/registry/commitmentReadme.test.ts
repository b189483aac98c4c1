// An outsider's check of the README's record commitment formula: this file recomputes a
// registered dataset's root from the README's text alone, with node:crypto and the salts
// read from the data dir's database. It imports nothing of Provena's hashing on purpose.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { repoRoot, runCli } from '../testing.js'

const CSV = join(repoRoot, 'data', 'breast_cancer.csv')
const sha256 = (...parts: Buffer[]) => createHash('sha256').update(Buffer.concat(parts)).digest()

/** RFC 9162 §2.1.1 tree hash over leaf hashes given as they are (not hashed again). */
function treeHash(leaves: Buffer[]): Buffer {
  if (leaves.length === 1) return leaves[0]!
  let k = 1
  while (2 * k < leaves.length) k *= 2
  return sha256(Buffer.of(0x01), treeHash(leaves.slice(0, k)), treeHash(leaves.slice(k)))
}

/** RFC 8785 JSON of {column: value} with string values (ASCII here): members sorted by UTF-16 code units. */
function canonicalRow(columns: string[], fields: string[]): Buffer {
  const order = columns.map((c, i) => [c, fields[i]!] as const).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return Buffer.from(`{${order.map(([c, v]) => `${JSON.stringify(c)}:${JSON.stringify(v)}`).join(',')}}`, 'utf8')
}

describe("README: a dataset root recomputed from the README's commitment formula alone", () => {
  const dir = mkdtempSync(join(tmpdir(), 'provena-readme-root-'))
  after(async () => void (await runCli(['node', 'stop', '--dir', dir])))

  it('states the formula this test implements', () => {
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8').replace(/\s+/g, ' ')
    assert.ok(readme.includes('`SHA-256(0x00 ‖ "provena.record.v1\\0" ‖ uint64be(index) ‖ salt ‖ canonical bytes)`'), 'the commitment formula')
    assert.ok(readme.includes('whose leaf hashes are the commitments themselves (not hashed again; interior nodes `SHA-256(0x01 ‖ left ‖ right)`)'), 'the root over the commitments')
    assert.ok(readme.includes('`index` counting from 0'), 'the index base')
  })

  it('gives the root and the id `dataset register` registered for the breast-cancer CSV', async () => {
    assert.equal((await runCli(['init', '--dir', dir])).code, 0)
    const r = await runCli(['dataset', 'register', CSV, '--json', '--dir', dir])
    assert.equal(r.code, 0, r.stderr)
    const { id, root } = r.json<{ id: string; root: string }>()

    const db = new Database(join(dir, 'provena.db'), { readonly: true })
    const salts = Buffer.concat(
      (db.prepare('SELECT salts FROM registry_record_chunks WHERE dataset = ? ORDER BY chunk').all(id) as { salts: Buffer }[]).map((row) => row.salts),
    )
    db.close()
    const [header, ...rows] = readFileSync(CSV, 'utf8').trimEnd().split('\n')
    const columns = header!.split(',')
    assert.equal(salts.length, 32 * rows.length)
    const domain = Buffer.from('provena.record.v1\0', 'utf8')
    const leaves = rows.map((line, index) => {
      const i = Buffer.alloc(8)
      i.writeBigUInt64BE(BigInt(index))
      return sha256(Buffer.of(0x00), domain, i, salts.subarray(32 * index, 32 * index + 32), canonicalRow(columns, line.split(',')))
    })
    assert.equal(treeHash(leaves).toString('hex'), root)

    // The id: SHA-256 of the manifest's RFC 8785 JSON, members as the README lists them.
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8').replace(/\s+/g, ' ')
    const rule = /`commitment`, the rule above as text: `([^`]+)`/.exec(readme)?.[1]
    assert.ok(rule, 'the README gives the commitment rule text')
    const manifest = { _type: 'provena.dataset.manifest/v1', format: 'csv', schema: { columns }, records: rows.length, root, commitment: rule }
    const sorted = (v: unknown): unknown =>
      Array.isArray(v) ? v.map(sorted) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, x]) => [k, sorted(x)])) : v
    assert.equal(createHash('sha256').update(JSON.stringify(sorted(manifest))).digest('hex'), id)
  })
})
