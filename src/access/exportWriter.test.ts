import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { canonicalJson } from '../crypto/index.js'
import { CsvRows, csvField, OutputFile, parseFlatRecord } from './index.js'

const text = fc.string({ unit: fc.constantFrom('a', 'b', ',', ':', '"', '\\', ' ', 'é', '\n', '\r', '{', '}', '😀') })

describe('parseFlatRecord', () => {
  it('equals JSON.parse on the canonical JSON of any flat string record (property)', () => {
    fc.assert(
      fc.property(fc.dictionary(text, text, { maxKeys: 6 }), (record) => {
        const json = canonicalJson(record)
        assert.deepEqual(parseFlatRecord(json), JSON.parse(json))
      }),
      { seed: 8259, numRuns: 500 },
    )
  })

  it('keeps a column named __proto__ as an own member (a plain assignment would drop it)', () => {
    for (const json of ['{"__proto__":"x","a":"b"}', '{"a":"b","__proto__":"x"}']) {
      const r = parseFlatRecord(json)
      assert.ok(Object.hasOwn(r, '__proto__'), json)
      assert.equal(Object.getOwnPropertyDescriptor(r, '__proto__')?.value, 'x')
      assert.equal(r.a, 'b')
    }
  })
})

describe('CSV rows from canonical JSON bytes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'provena-csvrows-'))
  const expected = (columns: string[], rec: Record<string, unknown>) => `${columns.map((c) => csvField(String(rec[c] ?? ''))).join(',')}\n`

  it('writes what the parsed path writes, or declines and writes nothing (property)', () => {
    let n = 0
    fc.assert(
      fc.property(
        fc.uniqueArray(text.filter((s) => s.length > 0), { minLength: 1, maxLength: 6 }),
        fc.array(text, { minLength: 6, maxLength: 6 }),
        fc.boolean(),
        fc.constantFrom('none', 'number', 'extra', 'missing'),
        (columns, values, replace, damage) => {
          const record: Record<string, unknown> = Object.fromEntries(columns.map((c, i) => [c, values[i]!]))
          if (damage === 'number') record[columns[0]!] = 42
          if (damage === 'extra') record['zz-extra'] = 'x'
          if (damage === 'missing') delete record[columns[columns.length - 1]!]
          const path = join(dir, `t${n++}.csv`)
          const file = new OutputFile(path)
          const rows = new CsvRows(columns, columns[0]!, file)
          const subject = replace ? Buffer.from('ab12') : undefined
          const plain = Buffer.from(canonicalJson(record), 'utf8')
          const wrote = rows.row(plain, subject)
          file.commit()
          const got = readFileSync(path, 'utf8')
          if (!wrote) {
            assert.equal(got, '', 'declined without writing')
            return
          }
          assert.equal(damage, 'none', `a record with a ${damage} member is not in the simple shape`)
          if (replace) record[columns[0]!] = 'ab12'
          assert.equal(got, expected(columns, record))
        },
      ),
      { seed: 4242, numRuns: 400 },
    )
  })

  it('takes the fast path for plain rows (values with commas quoted)', () => {
    const path = join(dir, 'plain.csv')
    const file = new OutputFile(path)
    const rows = new CsvRows(['id', 'b', 'a'], 'id', file)
    rows.header()
    assert.equal(rows.row(Buffer.from(canonicalJson({ id: 'S-1', b: '1,5', a: 'é' }))), true)
    assert.equal(rows.row(Buffer.from(canonicalJson({ id: 'S-2', b: 'say "hi"', a: '' }))), false, 'an escape: the parsed path')
    file.commit()
    assert.equal(readFileSync(path, 'utf8'), 'id,b,a\nS-1,"1,5",é\n')
  })
})
