import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { ProvenaError } from '../errors.js'
import {
  fetchCheckpoint,
  fetchEntries,
  fullTileRoot,
  httpTileFetch,
  isConsistentFromTiles,
  openNoteCheckpoint,
  parseNoteVerifier,
  tileClientErrors,
  tilePathFor,
  TreeTiles,
  type TileFetch,
  type VerifiedCheckpoint,
} from './tileClient.js'

// `provena audit mirror`: a local copy of another member's log, read as C2SP tlog-tiles,
// checked at every run against the last checkpoint mirrored. Layout of
// <dir>/mirrors/<origin>/: `checkpoint` (the last note mirrored, written last), `checkpoints/
// <size>.note` (every note mirrored), `tile/…` (the tiles and entry bundles, as served),
// and `evidence/<time>/` (both notes of a split view).

/** The summary of one mirror run (`--json`). */
export interface MirrorReport {
  origin: string
  url: string
  /** The mirror's directory. */
  dir: string
  /** new: first run; grown: the log grew and extends what was mirrored; unchanged; stale: the server showed an older, consistent checkpoint (nothing written). */
  status: 'new' | 'grown' | 'unchanged' | 'stale'
  previous: { treeSize: number; rootHash: string } | null
  checkpoint: { treeSize: number; rootHash: string }
  /** The signed note served, as fetched: the log's signature and any cosignature lines (checked by the caller against keys it pins). */
  note: string
  newEntries: number
  tilesFetched: number
  bundlesFetched: number
}

export interface MirrorOptions {
  /** The log's prefix URL (…/log). */
  url: string
  /** The pinned C2SP verifier key of the log (consortium file or --vkey; never the server's). */
  vkey: string
  /** The directory that holds `mirrors/` (the data dir). */
  dir: string
  /** Where tiles are read (default: HTTP GETs under `url`). */
  fetchTile?: TileFetch
  progress?: (message: string) => void
  now?: () => Date
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')
const summary = (c: { treeSize: number; rootHash: Buffer }) => ({ treeSize: c.treeSize, rootHash: hex(c.rootHash) })

/** The directory of a log's mirror: its origin, percent-encoded into one path element. */
export function mirrorDir(dir: string, origin: string): string {
  const name = encodeURIComponent(origin).replace(/^\./, '%2E')
  return join(dir, 'mirrors', name)
}

/**
 * Mirrors the log at `url` under `<dir>/mirrors/<origin>/`: fetches its checkpoint (signed by
 * the pinned key), checks the tiles hash to its root and that it extends the last
 * checkpoint mirrored (an RFC 9162 consistency proof built from the tiles), fetches the new
 * tiles and entry bundles, checks every new tile against its parent and every entry
 * against its leaf hash, then writes them, the checkpoint last.
 * Throws AUDIT_SPLIT_VIEW (both checkpoints named, both notes kept under evidence/),
 * AUDIT_BAD_CHECKPOINT, AUDIT_ROOT_MISMATCH, AUDIT_BAD_TILE, AUDIT_ENTRY_MISMATCH,
 * AUDIT_FETCH_FAILED, AUDIT_MIRROR_CORRUPT.
 */
export async function mirrorLog(opts: MirrorOptions): Promise<MirrorReport> {
  const verifier = parseNoteVerifier(opts.vkey)
  const progress = opts.progress ?? (() => undefined)
  const dir = mirrorDir(opts.dir, verifier.name)
  const http = opts.fetchTile ?? httpTileFetch(opts.url)
  let tilesFetched = 0
  let bundlesFetched = 0
  const fromServer: TileFetch = (path, max) => {
    if (path.startsWith('tile/entries/')) bundlesFetched++
    else if (path.startsWith('tile/')) tilesFetched++
    return http(path, max)
  }
  const local = (path: string): Buffer | undefined => (existsSync(join(dir, path)) ? readFileSync(join(dir, path)) : undefined)
  // Full tiles mirrored before were checked then, and never change: read them here.
  const fetchTile: TileFetch = async (path, max) => (!path.includes('.p/') && local(path)) || fromServer(path, max)

  const previous = readMirrored(dir, verifier)
  progress(`fetching ${opts.url.replace(/\/+$/, '')}/checkpoint`)
  const current = await fetchCheckpoint(fromServer, verifier, `${opts.url.replace(/\/+$/, '')}/checkpoint`)
  const base = { origin: verifier.name, url: opts.url, dir, previous: previous ? summary(previous) : null, checkpoint: summary(current), note: current.note }
  progress(`checkpoint of ${current.origin}: size ${current.treeSize}, root ${hex(current.rootHash)}${previous ? ` (mirrored: size ${previous.treeSize})` : ''}`)

  if (previous && current.treeSize <= previous.treeSize) {
    // The same tree, or an older one (a stale cache): its root must be the mirrored tree's.
    const mirrored = new TreeTiles(async (path, max) => local(path) ?? corrupt(dir, `${path} is missing`), previous.treeSize)
    const root = current.treeSize === previous.treeSize ? previous.rootHash : await mirrored.root(current.treeSize)
    if (!root.equals(current.rootHash)) throw splitView(dir, previous, current, opts.now?.() ?? new Date())
    return { ...base, status: current.treeSize === previous.treeSize ? 'unchanged' : 'stale', newEntries: 0, tilesFetched, bundlesFetched }
  }

  const tiles = new TreeTiles(fetchTile, current.treeSize)
  // Compute, then compare: the tiles of the new tree must hash to its signed root…
  const root = await tiles.root()
  if (!root.equals(current.rootHash)) throw tileClientErrors.rootMismatch(current.treeSize, current.rootHash, root)
  // …and show it extends the tree mirrored.
  if (previous && !(await isConsistentFromTiles(tiles, previous, current))) throw splitView(dir, previous, current, opts.now?.() ?? new Date())

  // Every tile not full in the mirrored tree, at every level, each hash of a tile above
  // level 0 checked against the full tile below it (the root check covers the partial ones).
  const oldSize = previous?.treeSize ?? 0
  for (let level = 0; 256 ** level <= current.treeSize; level++) {
    const indices = tileIndices(tiles, level, Math.floor(oldSize / 256 ** (level + 1)))
    const fetched = await inParallel(indices, (n) => tiles.tile(level, n))
    if (level > 0) {
      for (const [k, n] of indices.entries()) {
        const tile = fetched[k]!
        for (let i = 0; i < tile.length / 32; i++) {
          const child = fullTileRoot(await tiles.tile(level - 1, n * 256 + i))
          if (!child.equals(tile.subarray(32 * i, 32 * i + 32))) throw tileClientErrors.badTile(tilePathFor(level, n, tiles.widthOf(level, n)), `hash ${i} is not the root of tile ${tilePathFor(level - 1, n * 256 + i)}`)
        }
      }
    }
    progress(`level ${level}: ${indices.length} tile(s) checked`)
  }
  const bundles = await inParallel(tileIndices(tiles, 0, Math.floor(oldSize / 256)), async (n) => {
    const b = await fetchEntries(tiles, fromServer, n)
    if (n % 64 === 63) progress(`entries: ${Math.min(n * 256 + 256, current.treeSize)} of ${current.treeSize}`)
    return b
  })

  // Write: tiles and bundles, the note's history, then the checkpoint (the commit point).
  const written = await tiles.fetched()
  for (const [path, bytes] of written) if (path.includes('.p/') || !existsSync(join(dir, path))) writeAtomic(join(dir, path), bytes)
  for (const { path, bundle } of bundles) writeAtomic(join(dir, path), bundle)
  writeAtomic(join(dir, 'checkpoints', `${current.treeSize}.note`), Buffer.from(current.note))
  writeAtomic(join(dir, 'checkpoint'), Buffer.from(current.note))
  // The previous tree's partial tiles are superseded by the ones just written.
  if (previous) for (const path of partialPaths(previous.treeSize)) if (!written.has(path) && !bundles.some((b) => b.path === path)) rmSync(join(dir, path), { force: true })
  progress(`mirrored ${current.treeSize} entries (${current.treeSize - oldSize} new) in ${dir}`)
  return { ...base, status: previous ? 'grown' : 'new', newEntries: current.treeSize - oldSize, tilesFetched, bundlesFetched }
}

/** The indices of the tiles of `level` in the tree, from `first`. */
function tileIndices(tiles: TreeTiles, level: number, first: number): number[] {
  const out: number[] = []
  for (let n = first; tiles.widthOf(level, n) > 0; n++) out.push(n)
  return out
}

/** f over `items`, at most `width` at a time (GETs in flight), results in order. */
async function inParallel<T>(items: number[], f: (item: number) => Promise<T>, width = 8): Promise<T[]> {
  const out: T[] = new Array(items.length)
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) {
        const k = next++
        out[k] = await f(items[k]!)
      }
    }),
  )
  return out
}

/** The last checkpoint mirrored, re-opened under the pinned key; undefined before the first run. */
function readMirrored(dir: string, verifier: ReturnType<typeof parseNoteVerifier>): VerifiedCheckpoint | undefined {
  const path = join(dir, 'checkpoint')
  if (!existsSync(path)) return undefined
  try {
    return openNoteCheckpoint(readFileSync(path, 'utf8'), verifier, path)
  } catch (e) {
    throw new ProvenaError('AUDIT_MIRROR_CORRUPT', `the mirror's last checkpoint ${path} does not open under the pinned key: ${(e as Error).message}`, {
      hint: 'the mirror was altered, or another key is pinned now: move the directory away to start a new mirror',
      cause: e,
    })
  }
}

function corrupt(dir: string, what: string): never {
  throw new ProvenaError('AUDIT_MIRROR_CORRUPT', `the mirror in ${dir} is incomplete: ${what}`, { hint: 'move the directory away to start a new mirror' })
}

/** The paths of the partial tiles and bundle of a tree. */
function partialPaths(treeSize: number): string[] {
  const out: string[] = []
  for (let level = 0; 256 ** level <= treeSize; level++) {
    const w = Math.floor(treeSize / 256 ** level) % 256
    const n = Math.floor(treeSize / 256 ** (level + 1))
    if (w > 0) out.push(tilePathFor(level, n, w), ...(level === 0 ? [tilePathFor('entries', n, w)] : []))
  }
  return out
}

/** AUDIT_SPLIT_VIEW naming both checkpoints, with both notes kept under evidence/<time>/. */
function splitView(dir: string, mirrored: VerifiedCheckpoint, served: VerifiedCheckpoint, now: Date): ProvenaError {
  const evidence = join(dir, 'evidence', now.toISOString().replace(/[:.]/g, '-'))
  writeAtomic(join(evidence, 'mirrored.note'), Buffer.from(mirrored.note))
  writeAtomic(join(evidence, 'served.note'), Buffer.from(served.note))
  const what =
    mirrored.treeSize === served.treeSize
      ? 'the same size with another root'
      : served.treeSize > mirrored.treeSize
        ? 'a newer checkpoint that does not extend the one mirrored'
        : 'an older checkpoint that is not a prefix of the one mirrored'
  return new ProvenaError(
    'AUDIT_SPLIT_VIEW',
    `split view of ${served.origin}: mirrored size ${mirrored.treeSize} root ${hex(mirrored.rootHash)}, served size ${served.treeSize} root ${hex(served.rootHash)}: ${what}`,
    {
      hint: `both signed notes are kept in ${evidence} as evidence: show them to the consortium`,
      details: { mirrored: summary(mirrored), served: summary(served), evidence },
    },
  )
}

function writeAtomic(path: string, bytes: Buffer): void {
  mkdirSync(dirname(path), { recursive: true })
  const tmp = `${path}.tmp-${process.pid}`
  writeFileSync(tmp, bytes)
  renameSync(tmp, path)
}

/**
 * The root of the first `size` entries of the log mirrored in `dataDir` under the pinned
 * `vkey`, from the mirror's own tiles (checked when mirrored); undefined when nothing is
 * mirrored or `size` is beyond the last mirrored checkpoint. `audit mirror --quorum` checks
 * the anchored checkpoint whose cosignatures it counts is a prefix of the mirrored log.
 */
export async function mirroredRootAt(dataDir: string, vkey: string, size: number): Promise<Buffer | undefined> {
  const verifier = parseNoteVerifier(vkey)
  const dir = mirrorDir(dataDir, verifier.name)
  const last = readMirrored(dir, verifier)
  if (!last || size > last.treeSize || size < 0) return undefined
  if (size === last.treeSize) return last.rootHash
  const tiles = new TreeTiles(async (path) => (existsSync(join(dir, path)) ? readFileSync(join(dir, path)) : corrupt(dir, `${path} is missing`)), last.treeSize)
  return tiles.root(size)
}
