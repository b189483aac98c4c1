// GET /metrics in the Prometheus text exposition format (version 0.0.4), written by hand:
// a few counters kept here and gauges read from the data dir at each scrape.
import type { ApiContext } from './context.js'

/** A label value escaped as the exposition format says: backslash, double quote and line feed. */
export const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')

/** Counters by label set, rendered in insertion order. */
class Counter {
  private readonly values = new Map<string, number>()
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labels: readonly string[],
  ) {}
  inc(...values: string[]): void {
    const key = this.labels.map((l, i) => `${l}="${escapeLabel(values[i] ?? '')}"`).join(',')
    this.values.set(key, (this.values.get(key) ?? 0) + 1)
  }
  get(...values: string[]): number {
    return this.values.get(this.labels.map((l, i) => `${l}="${escapeLabel(values[i] ?? '')}"`).join(',')) ?? 0
  }
  render(): string[] {
    return [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`, ...[...this.values].map(([k, v]) => `${this.name}{${k}} ${v}`)]
  }
}

/** The server's counters. */
export class ApiMetrics {
  readonly requests = new Counter('provena_http_requests_total', 'HTTP requests answered, by route pattern, method and status.', ['route', 'method', 'status'])
  readonly refusals = new Counter('provena_http_refusals_total', 'Requests refused for their credential (401) or authorisation (403), by error code.', ['code'])
}

/** What the gauges read: the log, its latest anchored checkpoint as the outbox saw it mined, and the outbox. */
function anchoring(ctx: ApiContext): { logSize: number; anchoredSize: number; anchoredAt: number | null; outboxPending: number } {
  const db = ctx.p.db
  const chain = ctx.chain.client.chainKey
  const mined = db
    .prepare("SELECT json_extract(payload, '$.treeSize') AS size, updated_at AS at FROM chain_outbox WHERE chain = ? AND kind = 'checkpoint' AND status = 'mined' ORDER BY size DESC LIMIT 1")
    .get(chain) as { size: number; at: number } | undefined
  const outboxPending = db.prepare("SELECT count(*) FROM chain_outbox WHERE chain = ? AND status IN ('decided', 'sent')").pluck().get(chain) as number
  return { logSize: ctx.p.log.size(), anchoredSize: mined?.size ?? 0, anchoredAt: mined?.at ?? null, outboxPending }
}

const gauge = (name: string, help: string, value: number) => [`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, `${name} ${value}`]

/** The exposition text of every metric. */
export function renderMetrics(ctx: ApiContext, metrics: ApiMetrics, now = Date.now()): string {
  const a = anchoring(ctx)
  return [
    ...gauge('provena_log_size', 'Entries in the log.', a.logSize),
    ...gauge('provena_log_anchored_size', 'Tree size of the latest checkpoint mined on-chain.', a.anchoredSize),
    ...gauge('provena_anchoring_lag_entries', 'Log entries not yet covered by an anchored checkpoint.', a.logSize - a.anchoredSize),
    // Absent until a first checkpoint is anchored (no sample rather than a made-up value).
    ...(a.anchoredAt === null ? [] : gauge('provena_seconds_since_last_anchor', 'Seconds since the latest checkpoint was mined.', Math.max(0, (now - a.anchoredAt) / 1000))),
    ...gauge('provena_outbox_pending', 'Chain writes decided or sent but not yet mined.', a.outboxPending),
    ...metrics.requests.render(),
    ...metrics.refusals.render(),
    '',
  ].join('\n')
}
