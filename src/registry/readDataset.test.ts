import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { canonicalJson } from '../crypto/index.js'
import { commitDataset, openDataset, splitCsv } from './index.js'

const tmp = () => mkdtempSync(join(tmpdir(), 'provena-read-'))
async function read(path: string) {
  const src = openDataset(path)
  const out = []
  for await (const r of src.records()) out.push({ line: r.line, json: JSON.parse(r.canonical) as unknown, canonical: r.canonical })
  return { src, out }
}

describe('dataset readers', () => {
  it('CSV: header, quoted fields with commas, quotes and line breaks, CRLF; records keep their starting line', async () => {
    const f = join(tmp(), 'd.csv')
    writeFileSync(f, 'id,b,a\r\n1,"x, y","say ""hi"""\r\n2,"two\nlines",z\r\n3,,\r\n')
    const { src, out } = await read(f)
    assert.deepEqual(src.columns, ['id', 'b', 'a'])
    assert.deepEqual(out.map((r) => r.line), [2, 3, 5])
    assert.deepEqual(out[0]!.json, { id: '1', b: 'x, y', a: 'say "hi"' })
    assert.deepEqual(out[1]!.json, { id: '2', b: 'two\nlines', a: 'z' })
    assert.equal(out[2]!.canonical, '{"a":"","b":"","id":"3"}')
  })

  it('CSV errors name the file and line', async () => {
    const d = tmp()
    const cases: [string, RegExp][] = [
      ['a,b\n1,2\n3\n', /r\.csv:3: ragged row: 1 fields, the header has 2/],
      ['a,b\n1,2\n\n3,4\n', /r\.csv:3: empty line inside the data/],
      ['a,a\n1,2\n', /r\.csv:1: duplicate column name "a"/],
      ['a,b\n1,"open\n', /r\.csv:2: a quoted field is not closed/],
      ['a,b\n1,x"y\n', /r\.csv:2: stray double quote/],
      ['', /holds no records: the file is empty/],
    ]
    for (const [text, re] of cases) {
      writeFileSync(join(d, 'r.csv'), text)
      await assert.rejects(read(join(d, 'r.csv')), re)
    }
    await assert.rejects(commitDataset(join(d, 'missing.csv')), { code: 'REGISTRY_UNREADABLE' })
    writeFileSync(join(d, 'h.csv'), 'a,b\n')
    await assert.rejects(commitDataset(join(d, 'h.csv')), { code: 'REGISTRY_EMPTY' })
    writeFileSync(join(d, 'x.txt'), 'a')
    assert.throws(() => openDataset(join(d, 'x.txt')), { code: 'REGISTRY_UNSUPPORTED_FORMAT' })
  })

  it('JSON Lines: canonicalised values; an invalid line is named', async () => {
    const d = tmp()
    writeFileSync(join(d, 'a.jsonl'), '{"b":2,"a":1}\n\n[1,"x"]\n')
    const { out } = await read(join(d, 'a.jsonl'))
    assert.deepEqual(out.map((r) => [r.line, r.canonical]), [[1, '{"a":1,"b":2}'], [3, '[1,"x"]']])
    writeFileSync(join(d, 'b.jsonl'), '{"a":1}\n{"a":\n')
    await assert.rejects(read(join(d, 'b.jsonl')), /b\.jsonl:2: invalid JSON/)
  })

  it('JSON Lines: each line\'s record is canonicalJson of its value, whatever its escapes and characters (property)', async () => {
    const d = tmp()
    let n = 0
    const text = fc.string({ unit: fc.constantFrom('a', 'é', '😀', '"', '\\', '\n', '\u0001', '/', ' ') })
    const value = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.dictionary(text, fc.oneof(text, fc.integer()), { maxKeys: 4 }))
    await fc.assert(
      fc.asyncProperty(fc.array(value, { minLength: 1, maxLength: 5 }), fc.boolean(), async (values, unicodeEscapes) => {
        // As written by JSON.stringify, or with every non-ASCII character escaped (\uXXXX).
        const line = (v: unknown) => (unicodeEscapes ? JSON.stringify(v).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) : JSON.stringify(v))
        const path = join(d, `p${n++}.jsonl`)
        writeFileSync(path, values.map(line).join('\n') + '\n')
        const { out } = await read(path)
        assert.deepEqual(
          out.map((r) => r.canonical),
          values.map((v) => canonicalJson(JSON.parse(JSON.stringify(v)))),
        )
      }),
      { seed: 4711, numRuns: 150 },
    )
  })

  it('directory: one record per file, in path order', async () => {
    const d = tmp()
    mkdirSync(join(d, 'sub'))
    writeFileSync(join(d, 'b.txt'), 'bee')
    writeFileSync(join(d, 'sub', 'a.txt'), 'ay')
    const { out } = await read(d)
    assert.deepEqual(out.map((r) => (r.json as { path: string }).path), ['b.txt', 'sub/a.txt'])
    assert.equal((out[0]!.json as { size: number }).size, 3)
  })

  it('directory: a symbolic link (to a file outside, or to a directory) is refused, naming the link', async () => {
    const outside = join(tmp(), 'secret.key')
    writeFileSync(outside, 'not data')
    for (const [name, target] of [['key.txt', outside], ['etc', tmp()]] as const) {
      const d = tmp()
      mkdirSync(join(d, 'sub'))
      writeFileSync(join(d, 'a.txt'), 'ay')
      symlinkSync(target, join(d, 'sub', name))
      await assert.rejects(read(d), (e: Error & { code: string }) => {
        assert.equal(e.code, 'REGISTRY_NOT_REGULAR')
        assert.ok(e.message.startsWith(`${join(d, 'sub', name)} is a symbolic link (to ${target})`), e.message)
        return true
      })
    }
  })

  it('directory: a FIFO is refused, with a hint that fits it (not the symbolic link one)', async () => {
    const d = tmp()
    writeFileSync(join(d, 'a.txt'), 'ay')
    execFileSync('mkfifo', [join(d, 'pipe')])
    await assert.rejects(read(d), (e: Error & { code: string; hint?: string }) => {
      assert.equal(e.code, 'REGISTRY_NOT_REGULAR')
      assert.match(e.message, /pipe is not a regular file/)
      assert.doesNotMatch(e.hint ?? '', /link/)
      return true
    })
  })

  it('splitCsv inverts RFC 4180 quoting for any fields (property)', () => {
    const quote = (s: string) => (/[",\n]/.test(s) || s === '' ? `"${s.replace(/"/g, '""')}"` : s)
    fc.assert(
      fc.property(fc.array(fc.string({ unit: fc.constantFrom('a', ',', '"', '\n', 'é', ' ', '1') }), { minLength: 1, maxLength: 8 }), (fields) => {
        assert.deepEqual(splitCsv(fields.map(quote).join(','), 'p', 1), fields)
      }),
      { seed: 4180, numRuns: 500 },
    )
  })

  it('commitDataset: same content gives the same manifest shape but fresh salts, so a different root', async () => {
    const d = tmp()
    writeFileSync(join(d, 'a.csv'), 'k,v\n1,2\n3,4\n')
    const a = await commitDataset(join(d, 'a.csv'))
    const b = await commitDataset(join(d, 'a.csv'))
    assert.equal(a.manifest.records, 2)
    assert.equal(a.contentDigest, b.contentDigest)
    assert.notEqual(a.root.toString('hex'), b.root.toString('hex'))
    assert.notEqual(a.id, b.id)
  })
})
