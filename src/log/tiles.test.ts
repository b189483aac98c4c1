import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { generateEd25519 } from '../crypto/index.js'
import { openDatabase } from '../db/index.js'
import { hashChildren, hashLeaf, recordCheckpoint, SqliteLog } from './index.js'
import { entryBundle, formatTileIndex, formatTilePath, isTileInTree, LogTiles, parseTilePath, partialTileWidth, tileHashes } from './tiles.js'

const key = generateEd25519()
const signer = { origin: 'example.org/tiles', privateKey: key.privateKey, publicKey: key.publicKeyBytes }

function logOf(n: number, leafOf = (i: number) => Buffer.from(`entry ${i}`)) {
  const db = openDatabase(':memory:')
  const log = new SqliteLog(db)
  log.append(Array.from({ length: n }, (_, i) => leafOf(i)))
  return { db, log }
}

describe('tlog-tiles paths', () => {
  it('encodes N in groups of three digits, x before all but the last', () => {
    assert.equal(formatTileIndex(1234067), 'x001/x234/067')
    assert.equal(formatTileIndex(0), '000')
    assert.equal(formatTileIndex(999), '999')
    assert.equal(formatTileIndex(1000), 'x001/000')
    assert.deepEqual(parseTilePath('tile/0/x001/x234/067'), { kind: 'hashes', level: 0, index: 1234067, width: 256 })
    assert.deepEqual(parseTilePath('tile/2/005.p/17'), { kind: 'hashes', level: 2, index: 5, width: 17 })
    assert.deepEqual(parseTilePath('tile/entries/x001/000.p/255'), { kind: 'entries', level: 0, index: 1000, width: 255 })
    assert.deepEqual(parseTilePath('tile/63/000'), { kind: 'hashes', level: 63, index: 0, width: 256 })
  })

  it('refuses every other spelling with LOG_TILE_BAD_PATH', () => {
    for (const bad of [
      'tile/0/x000/005', // an extra zero group: 5 has one spelling
      'tile/00/000', // leading zero in L
      'tile/64/000', // L beyond 63
      'tile/-1/000',
      'tile/0/0005',
      'tile/0/05',
      'tile/0/x1/000',
      'tile/0/001/002', // x missing
      'tile/0/x001', // x on the last group
      'tile/0/000.p/0', // W outside 1..255
      'tile/0/000.p/256',
      'tile/0/000.p/05',
      'tile/0/000.p/',
      'tile/0/000.p',
      'tile/0/000/',
      'tile/0/../000',
      'tile/0/%2e%2e/000',
      'tile/../../etc/passwd',
      'tile/entries/../0/000',
      'tile/entries',
      'tile/0',
      'tiles/0/000',
      'tile/0/000?x=1',
      'tile/0/000.p/5/6',
      'tile/data/000',
      'tile/0/ 000',
      `tile/0/${'x000/'.repeat(30)}000`,
    ]) {
      assert.throws(() => parseTilePath(bad), { code: 'LOG_TILE_BAD_PATH' }, bad)
    }
    // A canonical index beyond any tree this log can hold: not found, not malformed.
    assert.throws(() => parseTilePath('tile/0/x009/x007/x199/x254/x740/992'), { code: 'LOG_TILE_NOT_FOUND' })
  })

  it('gives the partial widths of the spec example (a tree of 70,000)', () => {
    assert.deepEqual([0, 1, 2, 3].map((l) => partialTileWidth(70000, l)), [112, 17, 1, 0])
    assert.equal(isTileInTree({ kind: 'hashes', level: 0, index: 272, width: 256 }, 70000), true)
    assert.equal(isTileInTree({ kind: 'hashes', level: 0, index: 273, width: 256 }, 70000), false)
    assert.equal(isTileInTree({ kind: 'hashes', level: 0, index: 273, width: 112 }, 70000), true)
    assert.equal(isTileInTree({ kind: 'hashes', level: 0, index: 273, width: 113 }, 70000), false)
    assert.equal(isTileInTree({ kind: 'hashes', level: 1, index: 0, width: 256 }, 70000), true)
    assert.equal(isTileInTree({ kind: 'hashes', level: 1, index: 1, width: 17 }, 70000), true)
    assert.equal(isTileInTree({ kind: 'hashes', level: 2, index: 0, width: 1 }, 70000), true)
    assert.equal(isTileInTree({ kind: 'hashes', level: 2, index: 0, width: 2 }, 70000), false)
    assert.equal(isTileInTree({ kind: 'hashes', level: 63, index: 0, width: 1 }, 70000), false)
    // A tree of 256: one full level-0 tile and a partial level-1 tile of width 1.
    assert.equal(isTileInTree({ kind: 'hashes', level: 1, index: 0, width: 1 }, 256), true)
  })
})

describe('LogTiles', () => {
  it('serves the leaf hashes, the level-1 hashes and the entry bundles of the signed tree', () => {
    const { db, log } = logOf(600)
    recordCheckpoint(db, log, signer)
    const tiles = new LogTiles(db)
    const leafHashes = Array.from({ length: 600 }, (_, i) => hashLeaf(Buffer.from(`entry ${i}`)))
    assert.deepEqual(tiles.read('tile/0/000').bytes, Buffer.concat(leafHashes.slice(0, 256)))
    assert.equal(tiles.read('tile/0/000').isFull, true)
    const partial = tiles.read('tile/0/002.p/88')
    assert.deepEqual(partial, { bytes: Buffer.concat(leafHashes.slice(512, 600)), isFull: false })
    // A level-1 hash is the root of a full level-0 tile (an 8-level subtree).
    let row = leafHashes.slice(0, 256)
    while (row.length > 1) row = row.flatMap((h, i) => (i % 2 ? [] : [hashChildren(h, row[i + 1]!)]))
    assert.deepEqual(tiles.read('tile/1/000.p/2').bytes.subarray(0, 32), row[0])
    assert.deepEqual(tiles.read('tile/1/000.p/2').bytes, tileHashes(log, 1, 0, 2))
    // An older checkpoint's partial tile stays readable; an entry bundle decodes back.
    assert.deepEqual(tiles.read('tile/0/002.p/5').bytes, Buffer.concat(leafHashes.slice(512, 517)))
    const bundle = tiles.read('tile/entries/002.p/3').bytes
    assert.deepEqual(bundle, Buffer.concat(['entry 512', 'entry 513', 'entry 514'].map((e) => Buffer.concat([Buffer.of(0, e.length), Buffer.from(e)]))))
  })

  it('serves nothing beyond the latest signed checkpoint', () => {
    const { db, log } = logOf(300)
    assert.throws(() => new LogTiles(db).read('tile/0/000'), { code: 'LOG_TILE_NO_CHECKPOINT' })
    recordCheckpoint(db, log, signer)
    log.append(Array.from({ length: 300 }, (_, i) => Buffer.from(`later ${i}`)))
    const tiles = new LogTiles(db)
    assert.equal(tiles.read('tile/0/001.p/44').bytes.length, 44 * 32)
    // The entries exist, but no signed checkpoint covers them yet.
    assert.throws(() => tiles.read('tile/0/001.p/45'), { code: 'LOG_TILE_NOT_FOUND' })
    assert.throws(() => tiles.read('tile/0/001'), { code: 'LOG_TILE_NOT_FOUND' })
    assert.throws(() => tiles.read('tile/entries/002.p/1'), { code: 'LOG_TILE_NOT_FOUND' })
    assert.throws(() => tiles.read('tile/1/000.p/2'), { code: 'LOG_TILE_NOT_FOUND' })
    recordCheckpoint(db, log, signer)
    assert.equal(tiles.read('tile/0/001').bytes.length, 8192)
    assert.equal(tiles.read('tile/1/000.p/2').bytes.length, 64)
  })

  it('refuses a bundle holding an entry over 65,535 bytes, naming it; its hash tile still serves', () => {
    // SqliteLog takes entries of any size (an asset with many parents, a long FL event).
    const { db, log } = logOf(3, (i) => (i === 1 ? Buffer.alloc(65536, 0x61) : Buffer.from(`entry ${i}`)))
    recordCheckpoint(db, log, signer)
    const tiles = new LogTiles(db)
    assert.throws(() => tiles.read('tile/entries/000.p/3'), (e: Error & { code?: string }) => e.code === 'LOG_TILE_ENTRY_TOO_LARGE' && /entry 1 is 65536 bytes/.test(e.message))
    assert.deepEqual(tiles.read('tile/entries/000.p/1').bytes, Buffer.from('\x00\x07entry 0'))
    assert.equal(tiles.read('tile/0/000.p/3').bytes.length, 96)
    // 65,535 bytes is the largest that fits.
    assert.equal(entryBundle([Buffer.alloc(65535)]).length, 65537)
  })

  it('reads each tile and bundle through SQLite exactly as the plain tileHashes() and entryBundle() build it (property)', () => {
    // Binary entries with NUL bytes and invalid UTF-8, empty ones, sizes across tile edges.
    const leaves = fc.array(fc.uint8Array({ maxLength: 40 }), { minLength: 0, maxLength: 700 })
    fc.assert(
      fc.property(leaves, (ls) => {
        const db = openDatabase(':memory:')
        const log = new SqliteLog(db)
        log.append(ls.map((l) => Buffer.from(l)))
        recordCheckpoint(db, log, signer)
        const tiles = new LogTiles(db, { cacheBytes: 0 })
        const n = ls.length
        for (let level = 0; 256 ** level <= n; level++) {
          const full = Math.floor(n / 256 ** (level + 1))
          const widths = [...Array.from({ length: full }, () => 256), ...(partialTileWidth(n, level) ? [partialTileWidth(n, level)] : [])]
          widths.forEach((width, index) => {
            assert.deepEqual(tiles.read(formatTilePath({ kind: 'hashes', level, index, width })).bytes, tileHashes(log, level, index, width))
            if (level > 0) return
            const path = formatTilePath({ kind: 'entries', level, index, width })
            assert.deepEqual(tiles.read(path).bytes, entryBundle([...log.entries(index * 256, index * 256 + width)].map((e) => e.leaf)), path)
          })
        }
        db.close()
      }),
      { seed: 1313, numRuns: 60 },
    )
  })
})
