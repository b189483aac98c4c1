import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import fc from 'fast-check'
import Fastify, { type FastifyInstance } from 'fastify'
import { tilesRoutes } from '../api/tiles.js'
import { generateEd25519 } from '../crypto/index.js'
import { openDatabase, type Db } from '../db/index.js'
import { consistencyProof, hashLeaf, MemoryNodes, noteVerifierKey, parseTilePath, recordCheckpoint, SqliteLog, tileHashes, type StoredCheckpoint } from '../log/index.js'
import {
  fetchCheckpoint,
  fetchEntries,
  httpTileFetch,
  isConsistent,
  isConsistentFromTiles,
  openNoteCheckpoint,
  parseNoteVerifier,
  TreeTiles,
  verifyTreeRoot,
  type TileFetch,
} from './tileClient.js'

const key = generateEd25519()
const origin = 'example.org/client'
const signer = { origin, privateKey: key.privateKey, publicKey: key.publicKeyBytes }
const vkey = noteVerifierKey(origin, key.publicKeyBytes)
const entry = (i: number) => Buffer.from(`{"entry":${i}}`)

describe('tile client (from the C2SP specs only) against the tiles served over HTTP', () => {
  let app: FastifyInstance
  let db: Db
  let log: SqliteLog
  let fetchTile: TileFetch
  const checkpoints: StoredCheckpoint[] = []

  before(async () => {
    db = openDatabase(':memory:')
    log = new SqliteLog(db)
    app = Fastify()
    await app.register(tilesRoutes, { db })
    fetchTile = httpTileFetch(`${await app.listen({ host: '127.0.0.1', port: 0 })}/log`)
  })
  after(async () => {
    await app.close()
    db.close()
  })

  it('recomputes every root from the tiles, partial tiles at levels 0, 1 and 2, and proves each checkpoint extends every earlier one', async () => {
    const verifier = parseNoteVerifier(vkey)
    // 1, 255: one partial level-0 tile; 256: a full one and a level-1 partial; 257: both
    // partial; 65,836 = 256·256 + 300: full level-1 tile, partial at levels 0, 1 and 2.
    for (const size of [1, 255, 256, 257, 511, 513, 65_536 + 300]) {
      const from = log.size()
      log.append(Array.from({ length: size - from }, (_, i) => entry(from + i)))
      checkpoints.push(recordCheckpoint(db, log, signer))
      const c = await fetchCheckpoint(fetchTile, verifier)
      assert.equal(c.treeSize, size)
      assert.deepEqual(c.rootHash, log.rootAt(size))
      const tiles = await verifyTreeRoot(fetchTile, c)
      for (const old of checkpoints) {
        assert.ok(await isConsistentFromTiles(tiles, old, c), `${old.treeSize} → ${size}`)
        assert.deepEqual(await tiles.root(old.treeSize), old.rootHash, `root of ${old.treeSize} from the tiles of ${size}`)
      }
      // Not consistent with a root the log never had.
      assert.equal(await isConsistentFromTiles(tiles, { treeSize: 1, rootHash: hashLeaf(Buffer.from('forged')) }, c), false)
    }
    const tiles = new TreeTiles(fetchTile, 65_836)
    const fetchedPaths = [...(await (async () => (await tiles.root(), tiles.fetched()))()).keys()].sort()
    assert.deepEqual(fetchedPaths, ['tile/0/257.p/44', 'tile/1/001.p/1', 'tile/2/000.p/1'])
    // Every entry of the last tree, bundle by bundle, each checked against its leaf hash.
    let n = 0
    for (let b = 0; b * 256 < 65_836; b++) {
      const { entries } = await fetchEntries(tiles, fetchTile, b)
      entries.forEach((e, i) => assert.deepEqual(e, entry(b * 256 + i)))
      n += entries.length
    }
    assert.equal(n, 65_836)
  })

  it('refuses a checkpoint not signed by the pinned key, for another origin, or edited', async () => {
    const note = checkpoints.at(-1)!.note
    const other = generateEd25519()
    assert.throws(() => openNoteCheckpoint(note, parseNoteVerifier(noteVerifierKey(origin, other.publicKeyBytes))), { code: 'AUDIT_BAD_CHECKPOINT' })
    const renamed = noteVerifierKey('example.org/other', key.publicKeyBytes)
    assert.throws(() => openNoteCheckpoint(note, parseNoteVerifier(renamed)), { code: 'AUDIT_BAD_CHECKPOINT' })
    assert.throws(() => openNoteCheckpoint(note.replace('\n65836\n', '\n65837\n'), parseNoteVerifier(vkey)), /does not verify/)
    assert.throws(() => openNoteCheckpoint(note.replace('\n\n', '\n'), parseNoteVerifier(vkey)), { code: 'AUDIT_BAD_CHECKPOINT' })
    // A cosignature by someone else is ignored; the log's own must still be there.
    const cosigned = `${note}\u2014 witness.example AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n`
    assert.equal(openNoteCheckpoint(cosigned, parseNoteVerifier(vkey)).treeSize, 65_836)
    const stripped = `${note.slice(0, note.indexOf('\n\n') + 2)}\u2014 witness.example AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n`
    assert.throws(() => openNoteCheckpoint(stripped, parseNoteVerifier(vkey)), /no signature by the pinned key/)
  })

  it('refuses a verifier key whose key id does not match its name and key', () => {
    const [name, id] = vkey.split('+', 2) as [string, string]
    const rest = vkey.slice(name.length + id.length + 2)
    assert.throws(() => parseNoteVerifier(`${name}+${id === '00000000' ? '00000001' : '00000000'}+${rest}`), { code: 'AUDIT_BAD_VKEY' })
    assert.throws(() => parseNoteVerifier(`${name}+${id}`), { code: 'AUDIT_BAD_VKEY' })
    assert.throws(() => parseNoteVerifier(`other.example+${id}+${rest}`), { code: 'AUDIT_BAD_VKEY' })
    assert.equal(parseNoteVerifier(vkey).name, origin)
  })

  it('catches a server that alters a tile, an entry or a tile length', async () => {
    const c = await fetchCheckpoint(fetchTile, parseNoteVerifier(vkey))
    const altering =
      (target: string, change: (b: Buffer) => Buffer): TileFetch =>
      async (path, max) => {
        const b = await fetchTile(path, max)
        return path === target ? change(Buffer.from(b)) : b
      }
    const flip = (b: Buffer) => ((b[5]! ^= 1), b)
    await assert.rejects(verifyTreeRoot(altering('tile/0/257.p/44', flip), c), { code: 'AUDIT_ROOT_MISMATCH' })
    await assert.rejects(verifyTreeRoot(altering('tile/2/000.p/1', flip), c), { code: 'AUDIT_ROOT_MISMATCH' })
    await assert.rejects(verifyTreeRoot(altering('tile/1/001.p/1', (b) => b.subarray(1)), c), { code: 'AUDIT_BAD_TILE' })
    // An entry edited in its bundle no longer hashes to its leaf hash.
    const bundleEdit = altering('tile/entries/005', (b) => ((b[10]! ^= 1), b))
    await assert.rejects(fetchEntries(new TreeTiles(bundleEdit, c.treeSize), bundleEdit, 5), { code: 'AUDIT_ENTRY_MISMATCH' })
    const bundleCut = altering('tile/entries/005', (b) => b.subarray(0, b.length - 1))
    await assert.rejects(fetchEntries(new TreeTiles(bundleCut, c.treeSize), bundleCut, 5), { code: 'AUDIT_BAD_TILE' })
    // A level-0 tile altered where a consistency proof reads it: the proof fails, not passes.
    const old = checkpoints[3]! // size 257
    const tiles = new TreeTiles(altering('tile/0/001', flip), c.treeSize)
    assert.equal(await isConsistentFromTiles(tiles, old, c), false)
    // Past the signed tree the server answers 404 with its code.
    await assert.rejects(fetchTile('tile/0/x001/000', 8192), (e: Error & { code?: string; details?: { code?: string } }) => e.code === 'AUDIT_FETCH_FAILED' && e.details?.code === 'LOG_TILE_NOT_FOUND')
  })
})

describe('tile maths of the client vs src/log (property)', () => {
  const N = 70_000
  const nodes = new MemoryNodes(Array.from({ length: N }, (_, i) => hashLeaf(entry(i))))
  // Tiles built by src/log from the same tree (in memory, no HTTP).
  const fetchTile: TileFetch = async (path) => {
    const t = parseTilePath(path)
    return tileHashes(nodes, t.level, t.index, t.width)
  }
  const size = fc.oneof(fc.integer({ min: 0, max: 1100 }), fc.integer({ min: 0, max: N }), fc.constantFrom(255, 256, 257, 65_535, 65_536, 65_537, N))

  it('recomputes src/log root for any size, and its consistency proofs node for node', async () => {
    await fc.assert(
      fc.asyncProperty(size, size, async (a, b) => {
        const [s1, s2] = a <= b ? [a, b] : [b, a]
        const tiles = new TreeTiles(fetchTile, s2)
        assert.deepEqual(await tiles.root(), nodes.root(s2))
        assert.deepEqual(await tiles.root(s1), nodes.root(s1))
        const proof = s1 > 0 && s1 < s2 ? await tiles.consistencyProof(s1) : []
        assert.deepEqual(proof, consistencyProof(nodes, s1, s2))
        assert.ok(isConsistent(s1, nodes.root(s1), s2, nodes.root(s2), proof))
        if (s1 > 0 && s1 < s2) {
          assert.equal(isConsistent(s1, hashLeaf(Buffer.from('x')), s2, nodes.root(s2), proof), false)
          assert.equal(isConsistent(s1, nodes.root(s1), s2, hashLeaf(Buffer.from('x')), proof), false)
          if (proof.length > 0) assert.equal(isConsistent(s1, nodes.root(s1), s2, nodes.root(s2), proof.slice(1)), false)
        }
      }),
      { seed: 1313, numRuns: 300 },
    )
  })
})
