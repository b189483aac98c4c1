import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { canonicalJson } from '../crypto/index.js'
import { memberReader } from './recordMember.js'

// What JSON.parse says the subject is: the top-level member, if a string or a number.
const expected = (record: Record<string, unknown>, column: string) => {
  const v = Object.hasOwn(record, column) ? record[column] : undefined
  return typeof v === 'string' || typeof v === 'number' ? String(v) : undefined
}

describe('a member (the subject id) read from canonical record bytes', () => {
  const text = fc.string({ unit: fc.constantFrom('a', 'id', '"', '\\', ':', ',', '{', '}', '[', ']', 'é', '\n') })

  it('any JSON record: the top-level member, never a nested one or one inside a string (property)', () => {
    const value = fc.oneof(fc.jsonValue({ maxDepth: 2 }), text, fc.constant({ id: 'nested' }), fc.constant('"id":"fake"'))
    fc.assert(
      fc.property(fc.dictionary(fc.oneof(text, fc.constant('id')), value, { maxKeys: 5 }), fc.constantFrom('id', 'a', '"'), (record, column) => {
        const bytes = Buffer.from(`xx${canonicalJson(record)}yy`, 'utf8')
        assert.equal(memberReader(column, false)(bytes, 2, bytes.length - 2), expected(JSON.parse(canonicalJson(record)) as Record<string, unknown>, column))
      }),
      { seed: 99, numRuns: 2000 },
    )
  })

  it('CSV records (flat objects of strings), by the one-search path (property)', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.oneof(text, fc.constant('id')), text, { maxKeys: 5 }), (record) => {
        const bytes = Buffer.from(canonicalJson(record), 'utf8')
        assert.equal(memberReader('id', true)(bytes, 0, bytes.length), expected(record, 'id'))
      }),
      { seed: 98, numRuns: 2000 },
    )
  })
})
