// Bulk consent changes from a file: CSV with a header, or JSON Lines; one change a line.
// Columns / members: subject, purpose, action (grant | withdraw | refuse), and optionally
// expires, dataset, and the subject's signature: signer (did:key), issued, signature.
import { readFileSync } from 'node:fs'
import { splitCsv } from '../registry/index.js'
import { isProvenaError, ProvenaError } from '../errors.js'
import { consentErrors } from './errors.js'
import { parseTime, type ConsentState } from './records.js'

/** A change as read from a file, with the controller's clear subject id. */
export interface BulkChange {
  line: number
  subjectId: string
  purpose: string
  state: ConsentState
  expires: string | null
  dataset: string | null
  signature: { signer: string; issued: string; signature: string } | undefined
}

// A Map, not an object literal: a user-given action such as "constructor" or "__proto__"
// must not find Object.prototype's members.
const ACTIONS = new Map<string, ConsentState>([
  ['grant', 'given'],
  ['give', 'given'],
  ['given', 'given'],
  ['withdraw', 'withdrawn'],
  ['withdrawn', 'withdrawn'],
  ['refuse', 'refused'],
  ['refused', 'refused'],
])
const KNOWN = new Set(['subject', 'purpose', 'action', 'expires', 'dataset', 'signer', 'issued', 'signature'])

/** Reads every line of `path`; the first bad line throws CONSENT_BAD_LINE naming it. */
export function readConsentFile(path: string): BulkChange[] {
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(readFileSync(path))
  } catch (e) {
    if (isProvenaError(e)) throw e
    const code = (e as NodeJS.ErrnoException).code
    throw new ProvenaError('CONSENT_BAD_FILE', `cannot read ${path}: ${code === 'ENOENT' ? 'no such file' : code ? (e as Error).message : 'not valid UTF-8'}`)
  }
  const lines = text.split(/\r?\n/)
  if (lines.at(-1) === '') lines.pop()
  const jsonl = path.endsWith('.jsonl') || path.endsWith('.ndjson') || lines[0]?.trimStart().startsWith('{')
  const out: BulkChange[] = []
  let header: string[] | undefined
  lines.forEach((raw, i) => {
    const line = i + 1
    if (raw.trim() === '') return
    let fields: Record<string, unknown>
    if (jsonl) {
      try {
        fields = JSON.parse(raw) as Record<string, unknown>
      } catch {
        throw consentErrors.badLine(path, line, 'not a JSON object')
      }
      if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) throw consentErrors.badLine(path, line, 'not a JSON object')
    } else {
      let cells: string[] | undefined
      try {
        cells = splitCsv(raw, path, line)
      } catch (e) {
        throw consentErrors.badLine(path, line, (e as Error).message.replace(/^.*?:\d+: /, ''))
      }
      if (!cells) throw consentErrors.badLine(path, line, 'unterminated quoted field')
      if (!header) {
        header = cells.map((c) => c.trim())
        for (const need of ['subject', 'purpose', 'action']) if (!header.includes(need)) throw consentErrors.badLine(path, line, `the header has no "${need}" column`, need)
        return
      }
      if (cells.length !== header.length) throw consentErrors.badLine(path, line, `${cells.length} fields, the header has ${header.length}`)
      fields = Object.fromEntries(header.map((h, k) => [h, cells[k]]))
    }
    for (const k of Object.keys(fields)) if (!KNOWN.has(k)) throw consentErrors.badLine(path, line, `unknown field (known: ${[...KNOWN].join(', ')})`, k)
    const str = (k: string, required: boolean): string | null => {
      const v = Object.hasOwn(fields, k) ? fields[k] : undefined
      if (v === undefined || v === null || v === '') {
        if (required) throw consentErrors.badLine(path, line, 'missing', k)
        return null
      }
      if (typeof v !== 'string' && typeof v !== 'number') throw consentErrors.badLine(path, line, 'must be a string', k)
      return String(v)
    }
    const action = str('action', true)!
    const state = ACTIONS.get(action.toLowerCase())
    if (!state) throw consentErrors.badLine(path, line, `"${action}" is not grant, withdraw or refuse`, 'action')
    const signer = str('signer', false)
    const signature = str('signature', false)
    const issued = str('issued', false)
    if ((signer || signature || issued) && !(signer && signature && issued)) throw consentErrors.badLine(path, line, 'a subject signature needs signer, issued and signature', 'signature')
    const subjectId = str('subject', true)!
    if (subjectId.trim() === '') throw consentErrors.badLine(path, line, 'blank', 'subject')
    const expires = str('expires', false)
    if (expires !== null) {
      try {
        parseTime(expires, 'expires') // the rule the consent store applies, checked here to name the line
      } catch {
        throw consentErrors.badLine(path, line, `"${expires}" is not an ISO 8601 time (e.g. 2027-06-30T00:00:00Z)`, 'expires')
      }
    }
    out.push({
      line,
      subjectId,
      purpose: str('purpose', true)!,
      state,
      expires,
      dataset: str('dataset', false),
      signature: signer ? { signer, issued: issued!, signature: signature! } : undefined,
    })
  })
  return out
}
