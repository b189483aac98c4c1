import { readPlaces } from '../access/index.js'
import { isProvenaError } from '../errors.js'
import type { BlobStore } from '../store/index.js'
import type { Provena } from './provena.js'

/** A block the database refers to that the store cannot give back as it was. */
export interface BadBlock {
  cid: string
  problem: 'missing' | 'corrupt'
  /** What the store said (for a corrupt block: the digest found). */
  message: string
  /** What the block holds, e.g. "dataset 3f2a… records 0–568". */
  holds: string[]
}

/** What `store info --verify` found. */
export interface StoreCheck {
  /** Blocks the store lists. */
  present: number
  /** Blocks the database refers to (imported datasets' segments, FL models, updates, manifests). */
  referenced: number
  /** Blocks read back and checked against their CID (referenced ones and every one present). */
  checked: number
  bytes: number
  bad: BadBlock[]
}

/**
 * What each block referenced by the database holds: the record ranges of imported
 * datasets in their segments, and the federated tasks' models, updates and manifests.
 */
export function referencedBlocks(p: Provena): Map<string, string[]> {
  const holds = new Map<string, string[]>()
  const add = (cid: string, what: string) => {
    const list = holds.get(cid)
    if (list) list.push(what)
    else holds.set(cid, [what])
  }
  const cids = new Map<number, string>()
  for (const r of p.db.prepare('SELECT id, cid FROM access_segments').all() as { id: number; cid: string }[]) cids.set(r.id, r.cid)
  const used = new Set<number>()
  for (const d of p.db.prepare('SELECT id, dataset FROM access_datasets ORDER BY id').all() as { id: number; dataset: string }[]) {
    // Records lie in segments in index order: runs of one segment are the ranges it holds.
    const places = readPlaces(p.db, d.id)
    const n = places.length / 4
    for (let i = 0; i < n; ) {
      const segment = places[4 * i + 1]!
      let j = i + 1
      while (j < n && places[4 * j + 1] === segment) j++
      used.add(segment)
      add(cids.get(segment) ?? `(segment ${segment}, no CID recorded)`, `dataset ${d.dataset} records ${i === j - 1 ? i : `${i}–${j - 1}`}`)
      i = j
    }
  }
  for (const [id, cid] of cids) if (!used.has(id)) add(cid, 'a segment of an imported dataset (no record in it now)')
  for (const r of p.db.prepare('SELECT task, round, model_cid FROM fl_rounds ORDER BY task, round').all() as { task: number; round: number; model_cid: string }[]) {
    add(r.model_cid, `federated task ${r.task}: the global model round ${r.round} starts from`)
  }
  const updates = p.db.prepare('SELECT task, round, did, update_cid, manifest_cid FROM fl_updates ORDER BY task, round, client').all() as {
    task: number
    round: number
    did: string
    update_cid: string
    manifest_cid: string
  }[]
  for (const u of updates) {
    add(u.update_cid, `federated task ${u.task} round ${u.round}: the sealed update of ${u.did}`)
    add(u.manifest_cid, `federated task ${u.task} round ${u.round}: the training manifest of ${u.did}`)
  }
  return holds
}

/** How many distinct blocks the database refers to (what referencedBlocks lists, counted in SQL). */
export function countReferencedBlocks(p: Provena): number {
  return p.db
    .prepare(
      `SELECT count(*) FROM (SELECT cid FROM access_segments UNION SELECT model_cid FROM fl_rounds
       UNION SELECT update_cid FROM fl_updates UNION SELECT manifest_cid FROM fl_updates)`,
    )
    .pluck()
    .get() as number
}

/**
 * Reads back every block the database refers to and every block the store holds, and
 * checks each against its CID. Reports every bad block (not the first), with what it holds.
 */
export async function checkStore(p: Provena, store: BlobStore): Promise<StoreCheck> {
  const holds = referencedBlocks(p)
  const bad: BadBlock[] = []
  let bytes = 0
  let checked = 0
  const check = async (cid: string) => {
    checked++
    try {
      bytes += (await store.get(cid)).length
    } catch (e) {
      const problem = isProvenaError(e, 'STORE_MISSING_BLOCK') ? 'missing' : isProvenaError(e, 'STORE_CORRUPT_BLOCK') || isProvenaError(e, 'STORE_BAD_CID') ? 'corrupt' : undefined
      if (!problem) throw e
      bad.push({ cid, problem, message: (e as Error).message, holds: holds.get(cid) ?? ['no record of the database (an unreferenced block)'] })
    }
  }
  for (const cid of holds.keys()) await check(cid)
  let present = 0
  for await (const cid of store.list()) {
    present++
    if (!holds.has(cid)) await check(cid)
  }
  return { present, referenced: holds.size, checked, bytes, bad }
}
