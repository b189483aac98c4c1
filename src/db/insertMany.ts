import type { Statement } from 'better-sqlite3'
import type { Db } from './openDatabase.js'

const ROWS = 200
const cache = new WeakMap<Db, Map<string, Statement>>()

/**
 * Inserts `values` (row after row, `width` values each) into `target` ("table (col, …)")
 * with multi-row INSERT statements of up to 200 rows: one statement per row costs far more.
 * Call inside a transaction.
 */
export function insertMany(db: Db, target: string, width: number, values: readonly unknown[], verb: 'INSERT' | 'INSERT OR REPLACE' = 'INSERT'): void {
  let statements = cache.get(db)
  if (!statements) cache.set(db, (statements = new Map()))
  const statement = (n: number) => {
    const key = `${verb} ${target}/${n}`
    let st = statements.get(key)
    if (!st) {
      const row = `(${Array(width).fill('?').join(',')})`
      st = db.prepare(`${verb} INTO ${target} VALUES ${Array(n).fill(row).join(',')}`)
      statements.set(key, st)
    }
    return st
  }
  const rows = values.length / width
  let at = 0
  for (; at + ROWS <= rows; at += ROWS) statement(ROWS).run(values.slice(at * width, (at + ROWS) * width))
  if (at < rows) statement(rows - at).run(values.slice(at * width))
}
