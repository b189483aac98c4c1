// Proving keys of an in-memory sparse map of 100,000 keys: the cached tree views (LeavesNode,
// MemoryMap) against the plain view, whose hash() rehashes its whole subtree (as LeavesNode
// did: each proof rehashed half the tree, then a quarter, …).
import { createHash } from 'node:crypto'
import { progress, report, time } from '../bench/harness.js'
import { LeavesNode, MemoryMap, proveKey, sortLeaves, type MapNode } from './index.js'
import { keyBit, subtreeOfLeaves, type Leaves } from './sparseMap.js'

/** The plain tree view (the reference of the property tests in memoryMap.test.ts). */
class PlainNode implements MapNode {
  constructor(
    readonly l: Leaves,
    readonly lo: number,
    readonly hi: number,
    readonly depth: number,
  ) {}
  count = () => this.hi - this.lo
  hash = () => subtreeOfLeaves(this.l, this.lo, this.hi, this.depth)
  single = (): [Buffer, Buffer] => [this.l.keys[this.lo]!, this.l.values[this.lo]!]
  children(): [MapNode, MapNode] {
    let mid = this.lo
    while (mid < this.hi && !keyBit(this.l.keys[mid]!, this.depth)) mid++
    return [new PlainNode(this.l, this.lo, mid, this.depth + 1), new PlainNode(this.l, mid, this.hi, this.depth + 1)]
  }
}

const N = 100_000
const sha = (s: string) => createHash('sha256').update(s).digest()
const entries = Array.from({ length: N }, (_, i) => [sha(`key ${i}`), sha(`value ${i}`)] as [Buffer, Buffer])
const leaves = sortLeaves(entries)
const keys = Array.from({ length: 1_000 }, (_, i) => entries[(i * 7_919) % N]![0])

progress(`proveKey over ${N} keys: plain view (10 proofs), cached LeavesNode and MemoryMap (1,000 proofs each)`)
const tPlain = (await time(() => keys.slice(0, 10).forEach((k) => proveKey(new PlainNode(leaves, 0, N, 0), k)))) / 10
const cached = new LeavesNode(leaves, 0, N, 0)
const tFirst = await time(() => cached.hash())
const tCached = (await time(() => keys.forEach((k) => proveKey(cached, k)))) / keys.length
const map = new MemoryMap()
const tBuild = await time(() => {
  for (const [k, v] of entries) map.set(k, v)
  map.root()
})
const tMap = (await time(() => keys.forEach((k) => proveKey(map.rootNode(), k)))) / keys.length
report({
  name: `proveKey over an in-memory map of ${N.toLocaleString('en-US')} keys, cached subtree hashes (LeavesNode)`,
  value: tCached * 1e6,
  unit: 'µs a proof',
  baseline: { name: 'the plain view, rehashing subtrees for each proof', value: tPlain * 1e6, unit: 'µs a proof' },
  ratio: tPlain / tCached,
  note: `ratio = plain ÷ cached; the first proof hashes the tree once (${tFirst.toFixed(2)} s); MemoryMap: ${(tMap * 1e6).toFixed(0)} µs a proof after building it in ${tBuild.toFixed(2)} s`,
})
