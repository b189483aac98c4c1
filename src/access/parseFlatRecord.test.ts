import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { canonicalJson } from '../crypto/index.js'
import { parseFlatRecord } from './index.js'

describe('parseFlatRecord', () => {
  it('equals JSON.parse on the canonical JSON of any flat string record (property)', () => {
    const text = fc.string({ unit: fc.constantFrom('a', 'b', ',', ':', '"', '\\\\', ' ', 'é', '\\n', '{', '}') })
    fc.assert(
      fc.property(fc.dictionary(text, text, { maxKeys: 6 }), (record) => {
        const json = canonicalJson(record)
        assert.deepEqual(parseFlatRecord(json), JSON.parse(json))
      }),
      { seed: 8259, numRuns: 500 },
    )
  })
})
