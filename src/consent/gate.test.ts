import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { openDatabase } from '../db/index.js'
import { checkRecords, type ExclusionReason } from './index.js'

interface Row {
  subject: string
  state: 'given' | 'withdrawn' | 'refused'
  validFrom: number
  validUntil: number | null
  dataset: string | null
}

/** The gate's rule read plainly, one row at a time. */
function plainVerdict(row: Row | undefined, at: number, dataset: string): ExclusionReason | null {
  if (!row) return 'no-consent'
  if (row.state !== 'given') return row.state
  if (row.validFrom > at) return 'not-yet-valid'
  if (row.validUntil !== null && at >= row.validUntil) return 'expired'
  if (row.dataset !== null && row.dataset !== dataset) return 'other-dataset'
  return null
}

const rowArb = fc.record({
  subject: fc.string({ minLength: 1, maxLength: 12 }).filter((s) => !s.includes('\x1f')),
  state: fc.constantFrom('given' as const, 'given' as const, 'withdrawn' as const, 'refused' as const),
  validFrom: fc.integer({ min: 0, max: 20 }),
  validUntil: fc.option(fc.integer({ min: 0, max: 20 })),
  dataset: fc.option(fc.constantFrom('d1', 'd2')),
})

describe('the gate loads the consent state with its verdicts', () => {
  it('checkRecords equals the plain rule, across load chunks, purposes and missing subjects (property)', () => {
    const db = openDatabase(join(mkdtempSync(join(tmpdir(), 'provena-gate-')), 'db.sqlite'))
    const insert = db.prepare('INSERT INTO consent_current (map_key, log_index, record, subject, purpose, state, valid_from, valid_until, dataset) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
    let key = 0
    fc.assert(
      fc.property(
        fc.uniqueArray(rowArb, { maxLength: 40, selector: (r) => r.subject }),
        fc.array(fc.string({ maxLength: 12 }), { maxLength: 5 }),
        fc.integer({ min: 0, max: 20 }),
        fc.constantFrom('d1', 'd2'),
        fc.integer({ min: 1, max: 7 }),
        (rows, others, at, dataset, chunk) => {
          db.exec('DELETE FROM consent_current')
          for (const r of rows) {
            const k = Buffer.alloc(32)
            k.writeUInt32BE(key++ * 2654435761 >>> 0) // keys out of insertion order
            insert.run(k, key, Buffer.alloc(32), r.subject, 'dpv:ScientificResearch', r.state, r.validFrom, r.validUntil, r.dataset)
            // The same subject under another purpose must not count.
            insert.run(Buffer.concat([k.subarray(0, 31), Buffer.of(1)]), key, Buffer.alloc(32), r.subject, 'dpv:Marketing', 'given', 0, null, null)
          }
          const subjects = [...rows.map((r) => r.subject), ...others, null]
          const byId = new Map(rows.map((r) => [r.subject, r]))
          const got = checkRecords({ db }, subjects, dataset, 'dpv:ScientificResearch', at, chunk).verdict
          assert.deepEqual(got, subjects.map((s) => (s === null ? 'erased' : plainVerdict(byId.get(s), at, dataset))))
        },
      ),
      { numRuns: 150 },
    )
    db.close()
  })
})
