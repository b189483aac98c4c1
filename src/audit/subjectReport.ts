// A data subject's report: their consents and history, and every logged use of their
// records (imports, training manifests that included them, exports, erasure), each with
// an RFC 9162 inclusion proof against the anchored log.
import { subjectRecords } from '../access/index.js'
import { consentKey, currentRecord, DPV_PURPOSES, subjectPurposes, manifestsIncluding, recordHistory, stateAt, type ConsentContext } from '../consent/index.js'
import { rootFromInclusionProof, type SqliteLog } from '../log/index.js'
import { tasksTrainedOn } from '../fl/index.js'
import { getAsset } from '../registry/index.js'

export interface LoggedEvent {
  logIndex: number
  type: string
  time: string
  summary: string
  /** RFC 9162 inclusion proof of the entry in the anchored log (null when not anchored yet). */
  proof: { treeSize: number; leafHash: string; path: string[]; verified: boolean } | null
}

export interface SubjectReport {
  pseudonym: string
  erased: boolean
  consents: { purpose: string; state: string; validUntil: string | null; history: LoggedEvent[] }[]
  datasets: { dataset: string; name: string; records: number[]; registered: LoggedEvent }[]
  manifests: (LoggedEvent & { manifest: string; dataset: string; purpose: string; records: number[] })[]
  /** Federated training that used those manifests: task, round, and the model once registered. */
  models: { task: number; round: number; manifest: string; model: string | null }[]
  exports: (LoggedEvent & { dataset: string; actor: string; purpose: string; outcome: string })[]
  erasure: LoggedEvent | null
}

/** Builds the report of one subject (by pseudonym), with proofs against `anchored` (the anchored log's size and root). */
export function subjectReport(ctx: ConsentContext & { log: SqliteLog }, pseudonym: string, anchored: { treeSize: number; rootHash: Buffer }, now = Date.now()): SubjectReport {
  const event = (logIndex: number, summary: string): LoggedEvent => {
    const e = ctx.log.entry(logIndex)
    const parsed = JSON.parse(e.leaf.toString('utf8')) as { type?: string; time?: string; recordedAt?: string }
    let proof: LoggedEvent['proof'] = null
    if (logIndex < anchored.treeSize) {
      const path = ctx.log.inclusionProof(logIndex, anchored.treeSize)
      proof = {
        treeSize: anchored.treeSize,
        leafHash: e.leafHash.toString('hex'),
        path: path.map((h) => h.toString('hex')),
        verified: rootFromInclusionProof(logIndex, anchored.treeSize, e.leafHash, path).equals(anchored.rootHash),
      }
    }
    return { logIndex, type: parsed.type ?? 'unknown', time: parsed.time ?? parsed.recordedAt ?? '', summary, proof }
  }

  const purposes = subjectPurposes(ctx, pseudonym, [...DPV_PURPOSES, ...Object.keys(ctx.ownPurposes ?? {})])
  const consents = purposes.map((purpose) => {
    const key = consentKey(pseudonym, purpose)
    const cur = currentRecord(ctx, key)
    return {
      purpose,
      state: cur ? stateAt(cur.record, now) : 'no-consent',
      validUntil: cur?.record.validUntil ?? null,
      history: recordHistory(ctx, key).map((h) => event(h.logIndex, `${h.record.state} ${purpose}${h.record.validUntil ? ` until ${h.record.validUntil}` : ''}`)),
    }
  })

  const held = subjectRecords(ctx.db, pseudonym)
  const datasets = held.datasets.map((d) => {
    const a = getAsset(ctx.db, d.dataset)
    return { dataset: d.dataset, name: a.name, records: d.indexes, registered: event(a.logIndex, `dataset ${a.name} imported, ${d.indexes.length} record(s) of this subject`) }
  })
  const manifests = held.datasets.flatMap((d) =>
    manifestsIncluding(ctx, d.dataset, d.indexes).map((m) => ({
      ...event(m.logIndex, `training manifest ${m.hash.slice(0, 12)} for ${m.purpose} included record(s) ${m.records.join(', ')}`),
      manifest: m.hash,
      dataset: d.dataset,
      purpose: m.purpose,
      records: m.records,
    })),
  )

  // Exports of their datasets and their erasure: one scan of the log for entries naming them.
  const needles = [...held.datasets.map((d) => Buffer.from(d.dataset)), Buffer.from(pseudonym)]
  const exports: SubjectReport['exports'] = []
  let erasure: LoggedEvent | null = null
  for (const e of ctx.log.entries()) {
    if (!needles.some((n) => e.leaf.includes(n))) continue
    let doc: { type?: string; dataset?: string; actor?: string; requester?: string; purpose?: string; outcome?: string; pseudonym?: string; records?: number }
    try {
      doc = JSON.parse(e.leaf.toString('utf8'))
    } catch {
      continue
    }
    if (doc.type === 'provena.access.export/v1' && doc.dataset && held.datasets.some((d) => d.dataset === doc.dataset)) {
      exports.push({
        ...event(e.index, `export of dataset ${doc.dataset.slice(0, 12)} by ${doc.actor} for ${doc.purpose}: ${doc.outcome}`),
        dataset: doc.dataset,
        actor: doc.actor ?? '',
        purpose: doc.purpose ?? '',
        outcome: doc.outcome ?? '',
      })
    } else if (doc.type === 'provena.access.released/v1' && doc.outcome === 'released' && doc.dataset && held.datasets.some((d) => d.dataset === doc.dataset)) {
      // A key release to another node: the use happens there, on the keys released here.
      exports.push({
        ...event(e.index, `keys of dataset ${doc.dataset.slice(0, 12)} released to ${doc.requester} for ${doc.purpose}`),
        dataset: doc.dataset,
        actor: doc.requester ?? '',
        purpose: doc.purpose ?? '',
        outcome: 'released',
      })
    } else if (doc.type === 'provena.subject.erased/v1' && doc.pseudonym === pseudonym) {
      erasure = event(e.index, `erased: key and salts of ${doc.records} record(s) destroyed`)
    }
  }
  const models = tasksTrainedOn(ctx.db, manifests.map((m) => m.manifest))
  return { pseudonym, erased: held.erased, consents, datasets, manifests, models, exports, erasure }
}
