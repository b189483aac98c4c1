import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { generateEd25519 } from '../crypto/index.js'
import { isProvenaError } from '../errors.js'
import { EMPTY_ROOT, noteVerifierKey } from '../log/index.js'
import {
  addCheckpoint,
  addCheckpointBody,
  addCheckpointResponse,
  deriveWitnessKey,
  parseAddCheckpoint,
  parseWitnessVerifierKey,
  verifyCosignature,
  witnessCardFields,
  witnessContextFor,
  witnessedState,
  type Consortium,
  type WitnessContext,
} from './index.js'
import { tempDb, TestLog, witnessKey } from './witnessFixtures.js'

function setup(...logs: TestLog[]): WitnessContext {
  const keys = new Map(logs.map((l) => [l.origin, l.key.publicKeyBytes]))
  return { db: tempDb(), key: witnessKey(), logKey: (o) => keys.get(o), now: () => 1_800_000_000_000 }
}

const codeOf = (f: () => unknown) => {
  try {
    f()
  } catch (e) {
    if (isProvenaError(e)) return e.code
    throw e
  }
  return 'none'
}

const bodyOf = (note: string) => note.slice(0, note.indexOf('\n\n') + 1)

describe('the witness: C2SP tlog-witness add-checkpoint (src/node/witness.ts)', () => {
  it('cosigns a first checkpoint from old 0, then one that extends it with a consistency proof; records (size, root)', () => {
    const log = new TestLog('provena.log/aaaa').append(5)
    const ctx = setup(log)
    const first = addCheckpoint(ctx, log.request(0))
    assert.equal(first.treeSize, 5)
    assert.equal(verifyCosignature(bodyOf(log.note()), first.cosignature, ctx.key), 1_800_000_000)
    log.append(8)
    const second = addCheckpoint(ctx, log.request(5))
    assert.equal(verifyCosignature(bodyOf(log.note()), second.cosignature, ctx.key), 1_800_000_000)
    assert.deepEqual(witnessedState(ctx.db, log.origin)?.treeSize, 13)
    assert.deepEqual(witnessedState(ctx.db, log.origin)?.rootHash, log.root())
    // The same checkpoint again: cosigned again (old = size, same root).
    assert.equal(addCheckpointResponse(ctx, log.request(13)).status, 200)
  })

  it('409 Conflict with the size it last cosigned (text/x.tlog.size) when old is not that size; nothing recorded', () => {
    const log = new TestLog('provena.log/aaaa').append(4)
    const ctx = setup(log)
    addCheckpoint(ctx, log.request(0))
    log.append(3)
    const r = addCheckpointResponse(ctx, log.request(0))
    assert.deepEqual(r, { status: 409, contentType: 'text/x.tlog.size', body: '4\n' })
    assert.equal(addCheckpointResponse(ctx, log.request(2)).status, 409)
    assert.equal(witnessedState(ctx.db, log.origin)?.treeSize, 4)
    assert.equal(addCheckpointResponse(ctx, log.request(4)).status, 200)
  })

  it('a split view: a second checkpoint of the same size with another root, signed by the log, is refused (422) and kept as evidence', () => {
    const log = new TestLog('provena.log/aaaa').append(6)
    const fork = new TestLog('provena.log/aaaa', log.key).append(6, 'forked')
    const ctx = setup(log)
    addCheckpoint(ctx, log.request(0))
    const e = (() => {
      try {
        addCheckpoint(ctx, fork.request(6))
      } catch (err) {
        return err
      }
    })()
    assert.ok(isProvenaError(e, 'WITNESS_SPLIT_VIEW'))
    assert.match(e.message, /size 6 root .* does not extend the last one this witness cosigned, size 6 root/)
    assert.equal(addCheckpointResponse(ctx, fork.request(6)).status, 422)
    assert.deepEqual(witnessedState(ctx.db, log.origin)?.rootHash, log.root(), 'state unchanged')
    const evidence = ctx.db.prepare('SELECT note, reason FROM witness_evidence').all() as { note: string; reason: string }[]
    assert.equal(evidence.length, 2)
    assert.equal(evidence[0]!.note, fork.note())
  })

  it('a larger checkpoint that does not extend the last (a rewritten history, its own valid proof) is refused: 422, never cosigned', () => {
    const log = new TestLog('provena.log/aaaa').append(6)
    const ctx = setup(log)
    addCheckpoint(ctx, log.request(0))
    const rewritten = new TestLog('provena.log/aaaa', log.key).append(6, 'x').append(4)
    // The rewritten log's proof is internally consistent, but not from the root the witness holds.
    assert.equal(codeOf(() => addCheckpoint(ctx, rewritten.request(6))), 'WITNESS_BAD_PROOF')
    // A truncated or flipped proof of the true log is refused too.
    log.append(4)
    const good = log.request(6)
    const lines = good.split('\n')
    lines[1] = Buffer.alloc(32, 7).toString('base64')
    assert.equal(codeOf(() => addCheckpoint(ctx, lines.join('\n'))), 'WITNESS_BAD_PROOF')
    assert.equal(codeOf(() => addCheckpoint(ctx, addCheckpointBody(6, [], log.note()))), 'WITNESS_BAD_PROOF')
    assert.equal(witnessedState(ctx.db, log.origin)?.treeSize, 6)
    assert.equal(addCheckpointResponse(ctx, good).status, 200)
  })

  it('a forged log signature (another key under the log name) is 403; an origin the consortium does not list is 404', () => {
    const log = new TestLog('provena.log/aaaa').append(3)
    const ctx = setup(log)
    const forged = addCheckpointBody(0, [], log.note(3, log.root(), generateEd25519()))
    assert.equal(codeOf(() => addCheckpoint(ctx, forged)), 'WITNESS_BAD_SIGNATURE')
    assert.equal(addCheckpointResponse(ctx, forged).status, 403)
    // The right key id with a bad signature: 403 too.
    const note = log.note()
    const sig = note.slice(note.indexOf('\n\n') + 2).trim().split(' ')
    const raw = Buffer.from(sig[2]!, 'base64')
    raw[10]! ^= 1
    assert.equal(codeOf(() => addCheckpoint(ctx, addCheckpointBody(0, [], `${bodyOf(note)}\n${sig[0]} ${sig[1]} ${raw.toString('base64')}\n`))), 'WITNESS_BAD_SIGNATURE')
    const stranger = new TestLog('provena.log/bbbb').append(3)
    assert.equal(addCheckpointResponse(ctx, stranger.request(0)).status, 404)
    assert.equal(witnessedState(ctx.db, log.origin), undefined)
  })

  it('malformed bodies are 400 naming what is wrong; size 0 needs the empty root and old 0 an empty proof (422)', () => {
    const log = new TestLog('provena.log/aaaa').append(3)
    const ctx = setup(log)
    const note = log.note()
    const cases: [string, RegExp][] = [
      ['', /no empty line/],
      [`old 01\n\n${note}`, /old size "01"/],
      [`old -1\n\n${note}`, /old size/],
      [`olde 0\n\n${note}`, /first line/],
      [`old 4\n\n${note}`, /old size 4 is larger than the checkpoint size 3/],
      [`old 0\nnot-base64!\n\n${note}`, /proof line 1/],
      [`old 1\n${`${Buffer.alloc(32).toString('base64')}\n`.repeat(64)}\n${note}`, /64 consistency proof lines/],
      [`old 0\n\n${bodyOf(note)}`, /no empty line before its signature/],
      [`old 0\n\n${note.replace('\n3\n', '\n3.0\n')}`, /checkpoint size/],
    ]
    for (const [body, why] of cases) {
      const r = addCheckpointResponse(ctx, body)
      assert.equal(r.status, 400, body.slice(0, 30))
      assert.match(r.body, why)
    }
    assert.throws(() => parseAddCheckpoint('old 0\n'), /no empty line/)
    const empty = new TestLog('provena.log/aaaa', log.key)
    assert.equal(addCheckpointResponse(ctx, addCheckpointBody(0, [], empty.note(0, Buffer.alloc(32, 1)))).status, 422)
    assert.equal(addCheckpointResponse(ctx, addCheckpointBody(0, [], empty.note(0, EMPTY_ROOT))).status, 200)
    assert.equal(addCheckpointResponse(ctx, addCheckpointBody(0, [Buffer.alloc(32)], note)).status, 422)
  })

  it("witnessContextFor: the logs of the pinned file but the node's own, keys from their vkeys; the witness key is the node's derived one", () => {
    const own = new TestLog('provena.log/0000000000000001')
    const other = new TestLog('provena.log/0000000000000002')
    const logOf = (l: TestLog) => ({ log: { origin: l.origin, vkey: noteVerifierKey(l.origin, l.key.publicKeyBytes) } })
    const consortium = { members: [logOf(own), logOf(other), { log: null }] } as unknown as Consortium
    const p = { db: tempDb(), signer: { origin: own.origin, privateKey: own.key.privateKey }, consortium }
    const ctx = witnessContextFor(p)
    assert.deepEqual(ctx.logKey(other.origin), other.key.publicKeyBytes)
    assert.equal(ctx.logKey(own.origin), undefined, 'a node does not witness its own log')
    assert.deepEqual(ctx.key.publicKey, deriveWitnessKey(own.key.privateKey).publicKey)
    const fields = witnessCardFields(p, 'http://127.0.0.1:8080')
    assert.equal(fields.endpoint, 'http://127.0.0.1:8080')
    assert.deepEqual(parseWitnessVerifierKey(fields.witness)?.publicKey, ctx.key.publicKey)
    other.append(2)
    assert.equal(addCheckpointResponse(ctx, other.request(0)).status, 200)
    own.append(2)
    assert.equal(addCheckpointResponse(ctx, own.request(0)).status, 404)
  })
})
