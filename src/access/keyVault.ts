// Subjects' data keys, sealed under the controller's key-encryption key in blocks: up to
// 1,024 keys of 32 bytes side by side, one AES-256-GCM seal per block (additional data:
// controller and block id). One cipher call opens the keys of a thousand subjects, where a
// wrap per key cost one each (~5 µs) on import, export and erasure. Erasing a subject
// re-seals its block with that slot zeroed (a fresh nonce; SQLite's secure_delete
// overwrites the old row), so the key is gone while its neighbours stay readable.
// Keys wrapped one by one (schema 2 data dirs) are still read and erased.
import { aeadOpen, aeadSeal } from '../crypto/index.js'
import { insertMany, type Db } from '../db/index.js'

const BLOCK_KEYS = 1024
const KEY = 32
const ZERO = Buffer.alloc(KEY)

const blockAad = (controller: string, id: number) => Buffer.from(`provena.key-block/v1:${controller}:${id}`, 'utf8')
const legacyAad = (controller: string, pseudonym: string) => Buffer.from(`provena.subject-key/v1:${controller}:${pseudonym}`, 'utf8')

/** Where a subject's key is kept: a block slot, or (schema 2) a key wrapped on its own. */
export interface KeyRef {
  /** The subject's number under this data dir (the per-record rows hold it). */
  id: number
  pseudonym: string
  block: number | null
  slot: number | null
  wrapped: Buffer | null
  erased: boolean
}

export class SubjectKeyVault {
  readonly #blocks = new Map<number, Buffer>()
  readonly #ref
  /** The controller's number in access_controllers (0: none yet, so no subjects). */
  #number: number

  constructor(
    private readonly db: Db,
    private readonly controller: string,
    private readonly kek: Buffer,
  ) {
    this.#ref = db.prepare('SELECT id, pseudonym, block, slot, wrapped_key AS wrapped, erased_at IS NOT NULL AS erased FROM access_subject_keys WHERE controller = ? AND pseudonym = ?')
    this.#number = (db.prepare('SELECT id FROM access_controllers WHERE did = ?').pluck().get(controller) as number | undefined) ?? 0
  }

  /** Where the subject's key is, or undefined when the subject has none under this controller. */
  ref(pseudonym: string): KeyRef | undefined {
    const row = this.#ref.get(this.#number, pseudonym) as (Omit<KeyRef, 'erased'> & { erased: number }) | undefined
    return row && { ...row, erased: row.erased === 1 }
  }

  /**
   * The key references of these subjects that have one, by pseudonym: a statement per 500
   * (a lookup each costs more; a scan of every subject grows with the data dir, not the import).
   */
  refsOf(pseudonyms: Iterable<string>): Map<string, KeyRef> {
    if (this.#number === 0) return new Map()
    return new Map(refsWhereIn(this.db, 'controller = ? AND pseudonym', [this.#number], pseudonyms).map((r) => [r.pseudonym, r]))
  }

  /** The key of a (not erased) subject. */
  key(ref: Pick<KeyRef, 'pseudonym' | 'block' | 'slot' | 'wrapped'>): Buffer {
    if (ref.block !== null && ref.slot !== null) return this.#block(ref.block).subarray(KEY * ref.slot, KEY * ref.slot + KEY)
    if (ref.wrapped) return aeadOpen(this.kek, ref.wrapped, legacyAad(this.controller, ref.pseudonym), 'a subject data key')
    throw new Error(`subject ${ref.pseudonym} has no key`)
  }

  #block(id: number): Buffer {
    let keys = this.#blocks.get(id)
    if (!keys) {
      const sealed = this.db.prepare('SELECT sealed FROM access_key_blocks WHERE id = ? AND controller = ?').pluck().get(id, this.controller) as Buffer | undefined
      if (!sealed) throw new Error(`key block ${id} of ${this.controller} is missing`)
      this.#blocks.set(id, (keys = aeadOpen(this.kek, sealed, blockAad(this.controller, id), `key block ${id}`)))
    }
    return keys
  }

  /**
   * Stores new subjects' keys (sorted by pseudonym), sealed in new blocks, and returns each
   * one's subject number. Call inside the transaction that registers what they encrypt.
   */
  insert(keys: ReadonlyMap<string, Buffer>, now: number): Map<string, number> {
    const names = [...keys.keys()].sort()
    if (this.#number === 0) {
      this.db.prepare('INSERT OR IGNORE INTO access_controllers (did) VALUES (?)').run(this.controller)
      this.#number = this.db.prepare('SELECT id FROM access_controllers WHERE did = ?').pluck().get(this.controller) as number
    }
    let next = ((this.db.prepare('SELECT max(id) FROM access_key_blocks').pluck().get() as number | null) ?? 0) + 1
    let subject = ((this.db.prepare('SELECT max(id) FROM access_subject_keys').pluck().get() as number | null) ?? 0) + 1
    const putBlock = this.db.prepare('INSERT INTO access_key_blocks (id, controller, sealed) VALUES (?, ?, ?)')
    const ids = new Map<string, number>()
    const rows: unknown[] = []
    for (let from = 0; from < names.length; from += BLOCK_KEYS) {
      const id = next++
      const count = Math.min(BLOCK_KEYS, names.length - from)
      const plain = Buffer.allocUnsafe(KEY * count)
      for (let slot = 0; slot < count; slot++) {
        const pseudonym = names[from + slot]!
        keys.get(pseudonym)!.copy(plain, KEY * slot)
        ids.set(pseudonym, subject)
        rows.push(subject++, this.#number, pseudonym, id, slot, now)
      }
      putBlock.run(id, this.controller, aeadSeal(this.kek, plain, blockAad(this.controller, id)))
      this.#blocks.set(id, plain)
    }
    insertMany(this.db, 'access_subject_keys (id, controller, pseudonym, block, slot, created_at)', 6, rows)
    return ids
  }

  /**
   * Destroys subjects' keys: each block holding one is re-sealed with those slots zeroed
   * (a key wrapped on its own is deleted). Takes pseudonyms, or refs already read. Call
   * inside the erasure's transaction.
   */
  erase(subjects: readonly (string | KeyRef)[], now: number): void {
    const byBlock = new Map<number, number[]>()
    const mark = this.db.prepare('UPDATE access_subject_keys SET wrapped_key = NULL, erased_at = ? WHERE id = ?')
    for (const s of subjects) {
      const ref = typeof s === 'string' ? this.ref(s) : s
      if (!ref || ref.erased) continue
      if (ref.block !== null && ref.slot !== null) byBlock.set(ref.block, [...(byBlock.get(ref.block) ?? []), ref.slot])
      mark.run(now, ref.id)
    }
    const reseal = this.db.prepare('UPDATE access_key_blocks SET sealed = ? WHERE id = ? AND controller = ?')
    for (const [id, slots] of byBlock) {
      const keys = Buffer.from(this.#block(id))
      for (const s of slots) ZERO.copy(keys, KEY * s)
      reseal.run(aeadSeal(this.kek, keys, blockAad(this.controller, id)), id, this.controller)
      this.#blocks.set(id, keys)
    }
  }
}

/** Subjects' key references by number, whoever their controller: a statement per 500. */
export function keyRefsById(db: Db, ids: Iterable<number>): Map<number, KeyRef> {
  return new Map(refsWhereIn(db, 'id', [], ids).map((r) => [r.id, r]))
}

/** Key references `WHERE <column> IN (values)`, 500 values a statement, after `fixed` parameters. */
function refsWhereIn(db: Db, column: string, fixed: unknown[], values: Iterable<unknown>): KeyRef[] {
  const list = [...new Set(values)]
  const CHUNK = 500
  const query = (n: number) =>
    db.prepare(`SELECT id, pseudonym, block, slot, wrapped_key AS wrapped, erased_at IS NOT NULL AS erased FROM access_subject_keys WHERE ${column} IN (${Array(n).fill('?').join(',')})`)
  const full = query(CHUNK)
  const out: KeyRef[] = []
  for (let from = 0; from < list.length; from += CHUNK) {
    const part = list.slice(from, from + CHUNK)
    for (const r of (part.length === CHUNK ? full : query(part.length)).all(...fixed, ...part) as (Omit<KeyRef, 'erased'> & { erased: number })[]) {
      out.push({ ...r, erased: r.erased === 1 })
    }
  }
  return out
}
