import type { Db } from '../db/index.js'
import { childrenOf, getAsset, type Asset } from './assets.js'

/** A lineage graph around one asset: its ancestors and descendants. */
export interface Lineage {
  id: string
  nodes: { id: string; kind: string; name: string; root: string; records: number | null; logIndex: number }[]
  /** `from` was derived from (trained on) `to`. */
  edges: { from: string; to: string; relation: 'derivedFrom' }[]
}

/** The lineage graph of an asset: every ancestor and every descendant. */
export function lineageOf(db: Db, idOrPrefix: string): Lineage {
  const start = getAsset(db, idOrPrefix)
  const nodes = new Map<string, Asset>([[start.id, start]])
  const edges = new Map<string, { from: string; to: string; relation: 'derivedFrom' }>()
  const up = [start]
  while (up.length > 0) {
    const a = up.pop()!
    for (const p of a.parents) {
      edges.set(`${a.id}>${p}`, { from: a.id, to: p, relation: 'derivedFrom' })
      if (!nodes.has(p)) {
        const parent = getAsset(db, p)
        nodes.set(p, parent)
        up.push(parent)
      }
    }
  }
  const down = [start.id]
  const seenDown = new Set(down)
  while (down.length > 0) {
    const id = down.pop()!
    for (const c of childrenOf(db, id)) {
      edges.set(`${c}>${id}`, { from: c, to: id, relation: 'derivedFrom' })
      if (!nodes.has(c)) nodes.set(c, getAsset(db, c))
      if (!seenDown.has(c)) {
        seenDown.add(c)
        down.push(c)
      }
    }
  }
  return {
    id: start.id,
    nodes: [...nodes.values()].map((a) => ({ id: a.id, kind: a.kind, name: a.name, root: a.root, records: a.records, logIndex: a.logIndex })),
    edges: [...edges.values()],
  }
}

/** The lineage as an indented text tree: the asset, what it derives from, what derives from it. */
export function formatLineage(l: Lineage): string {
  const byId = new Map(l.nodes.map((n) => [n.id, n]))
  const label = (id: string) => {
    const n = byId.get(id)!
    return `${n.kind} ${n.id.slice(0, 16)}…  ${n.name}${n.records !== null ? ` (${n.records} records)` : ''}`
  }
  const out = [label(l.id)]
  const walk = (id: string, dir: 'up' | 'down', prefix: string, seen: Set<string>) => {
    const next = l.edges.filter((e) => (dir === 'up' ? e.from === id : e.to === id)).map((e) => (dir === 'up' ? e.to : e.from))
    next.forEach((n, i) => {
      const last = i === next.length - 1
      out.push(`${prefix}${last ? '└─' : '├─'} ${dir === 'up' ? 'derived from' : 'used by'} ${label(n)}`)
      if (!seen.has(n)) walk(n, dir, `${prefix}${last ? '   ' : '│  '}`, new Set([...seen, n]))
    })
  }
  walk(l.id, 'up', '', new Set([l.id]))
  walk(l.id, 'down', '', new Set([l.id]))
  return out.join('\n')
}
