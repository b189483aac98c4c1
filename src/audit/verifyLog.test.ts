import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import type { AnchoredCheckpoint, RegisteredAsset } from '../chain/index.js'
import { canonicalJson, canonicalJsonBytes, generateEd25519, IN_TOTO_PAYLOAD_TYPE, sha256, sha256Hex, signDsse } from '../crypto/index.js'
import { CONSENT_RECORD_TYPE, CONSENT_RECORD_TYPE_V1, consentKey } from '../consent/index.js'
import { hashLeaf, LOG_EVENT, mapRootOf, MemoryNodes, signCheckpoint } from '../log/index.js'
import { ASSET_REGISTERED } from '../registry/index.js'
import { verifyLog, type VerifyInput } from './index.js'

const key = generateEd25519()
const origin = 'test.log/1'
const hex = (c: string) => c.repeat(64)

function scenario() {
  const dataset = { id: hex('a'), kind: 'dataset', name: 'd', root: hex('b'), metadataDigest: hex('c'), parents: [] as string[] }
  const statement = signDsse(
    IN_TOTO_PAYLOAD_TYPE,
    canonicalJsonBytes({ _type: 'https://in-toto.io/Statement/v1', subject: [{ name: 'm', digest: { sha256: hex('d') } }], predicate: { buildDefinition: { resolvedDependencies: [{ digest: { sha256: dataset.id } }] } } }),
    'did:key:test',
    key.privateKey,
  )
  const model = { id: hex('d'), kind: 'model', name: 'm', root: hex('d'), metadataDigest: sha256Hex(canonicalJsonBytes(statement)), parents: [dataset.id] }
  const events = [
    { type: 'provena.asset.registered/v1', actor: 'did:key:test', time: 't', asset: dataset },
    { type: 'other/v1', n: 1 },
    { type: 'provena.asset.registered/v1', actor: 'did:key:test', time: 't', asset: model, statement },
  ]
  const leaves = events.map((e) => Buffer.from(canonicalJson(e)))
  return { dataset, model, leaves, statement }
}

function evidence(leaves: Buffer[], sizes: number[], assets: RegisteredAsset[]): VerifyInput {
  const nodes = new MemoryNodes(leaves.map((l) => hashLeaf(l)))
  const checkpoints: AnchoredCheckpoint[] = sizes.map((treeSize, index) => {
    const rootHash = nodes.root(treeSize)
    const { signature } = signCheckpoint({ origin, treeSize, rootHash }, origin, key.privateKey, key.publicKeyBytes)
    return { index, treeSize, rootHash, mapRoot: Buffer.alloc(32), timestamp: 0, noteSignature: signature, cosignatures: [], blockNumber: 1n, transactionHash: undefined }
  })
  return { entries: leaves.map((leaf, index) => ({ index, leaf })), logInfo: { logKey: key.publicKeyBytes, origin }, checkpoints, assets }
}

const onChain = (a: { id: string; kind: string; root: string; metadataDigest: string; parents: string[] }): RegisteredAsset => ({
  id: `0x${a.id}`,
  owner: '0x0000000000000000000000000000000000000001',
  kind: a.kind as RegisteredAsset['kind'],
  root: `0x${a.root}`,
  metadataDigest: `0x${a.metadataDigest}`,
  parents: a.parents.map((p) => `0x${p}` as const),
  blockNumber: 1n,
  transactionHash: '0x00',
})

describe('verifyLog (the independent verifier, pure)', () => {
  it('accepts a consistent log, its checkpoints and registrations', () => {
    const s = scenario()
    const r = verifyLog(evidence(s.leaves, [1, 3], [onChain(s.dataset), onChain(s.model)]))
    assert.deepEqual(r.failures, [])
    assert.equal(r.ok, true)
    assert.deepEqual([r.entries, r.checkpoints, r.anchoredSize, r.assetsOnChain], [3, 2, 3, 2])
  })

  it('names the first failure: edited entry, missing entry, foreign signature, unlogged or altered asset, forged statement', () => {
    const s = scenario()
    const good = evidence(s.leaves, [1, 3], [onChain(s.dataset), onChain(s.model)])
    const entries = s.leaves.map((leaf, index) => ({ index, leaf }))
    const codes = (input: VerifyInput) => verifyLog(input).failures.map((f) => f.code)

    const edited = [...s.leaves]
    edited[1] = Buffer.from('{"type":"other/v1","n":2}')
    assert.deepEqual(codes({ ...good, entries: edited.map((leaf, index) => ({ index, leaf })) }), ['VERIFY_ROOT_MISMATCH'])
    assert.deepEqual(codes({ ...good, entries: entries.slice(0, 2) }), ['VERIFY_ENTRIES_MISSING', 'VERIFY_ASSET_NOT_LOGGED'])
    assert.ok(codes({ ...good, entries: entries.filter((e) => e.index !== 1) }).includes('VERIFY_LOG_GAP'))
    // Another log key: the model's statement and every checkpoint note fail to verify.
    assert.deepEqual(codes({ ...good, logInfo: { ...good.logInfo, logKey: generateEd25519().publicKeyBytes } }), ['VERIFY_BAD_STATEMENT', 'VERIFY_BAD_SIGNATURE', 'VERIFY_BAD_SIGNATURE'])
    assert.deepEqual(codes({ ...good, assets: [...good.assets, onChain({ ...s.dataset, id: hex('e') })] }), ['VERIFY_ASSET_NOT_LOGGED'])
    assert.deepEqual(codes({ ...good, assets: [onChain({ ...s.dataset, root: hex('f') }), onChain(s.model)] }), ['VERIFY_ASSET_MISMATCH'])

    const forged = { ...s.statement, payload: Buffer.from('{"_type":"forged"}').toString('base64') }
    const events = s.leaves.map((l) => JSON.parse(l.toString()))
    events[2].statement = forged
    events[2].asset.metadataDigest = sha256Hex(canonicalJsonBytes(forged))
    const leaves = events.map((e) => Buffer.from(canonicalJson(e)))
    const model = { ...s.model, metadataDigest: events[2].asset.metadataDigest }
    assert.deepEqual(codes(evidence(leaves, [3], [onChain(s.dataset), onChain(model)])), ['VERIFY_BAD_STATEMENT'])
  })
})

describe('verifyLog replays the consent map', () => {
  it('accepts anchored map roots of the logged consent records (v1 records logged before v2 too), and names a root that differs', () => {
    const record = (subject: string, state: string, type: string = CONSENT_RECORD_TYPE) =>
      Buffer.from(canonicalJson({ type, subject, purpose: { id: 'dpv:ScientificResearch', dpv: 'dpv:ScientificResearch' }, state }))
    const leaves = [record('aa'.repeat(32), 'given', CONSENT_RECORD_TYPE_V1), record('bb'.repeat(32), 'given'), record('aa'.repeat(32), 'withdrawn')]
    const rootAfter = (n: number) => {
      const m = new Map<string, Buffer>()
      for (const l of leaves.slice(0, n)) {
        const r = JSON.parse(l.toString()) as { subject: string }
        m.set(consentKey(r.subject, 'dpv:ScientificResearch').toString('hex'), sha256(l))
      }
      return mapRootOf([...m].map(([k, v]) => [Buffer.from(k, 'hex'), v]))
    }
    const input = evidence(leaves, [2, 3], [])
    const nodes = new MemoryNodes(leaves.map((l) => hashLeaf(l)))
    input.checkpoints = input.checkpoints.map((c) => {
      const mapRoot = rootAfter(c.treeSize)
      const { signature } = signCheckpoint({ origin, treeSize: c.treeSize, rootHash: nodes.root(c.treeSize), mapRoot }, origin, key.privateKey, key.publicKeyBytes)
      return { ...c, mapRoot, noteSignature: signature }
    })
    const ok = verifyLog(input)
    assert.deepEqual(ok.failures, [])
    assert.equal(ok.consentChanges, 3)
    // The second checkpoint anchors the map as it was before the withdrawal.
    const stale = { ...input, checkpoints: [input.checkpoints[0]!, { ...input.checkpoints[1]!, mapRoot: rootAfter(2) }] }
    assert.deepEqual(
      verifyLog(stale).failures.map((f) => f.code),
      ['VERIFY_MAP_MISMATCH', 'VERIFY_BAD_SIGNATURE'],
    )
  })
})

describe('verifyLog names the entry that differs, and checks the checkpoints kept locally', () => {
  const withHashes = (leaves: Buffer[]) => leaves.map((leaf, index) => ({ index, leaf, leafHash: hashLeaf(leaf) }))
  const signedLocal = (leaves: Buffer[], treeSize: number) => {
    const rootHash = new MemoryNodes(leaves.map((l) => hashLeaf(l))).root(treeSize)
    const mapRoot = Buffer.alloc(32)
    return { treeSize, rootHash, mapRoot, signature: signCheckpoint({ origin, treeSize, rootHash, mapRoot }, origin, key.privateKey, key.publicKeyBytes).signature }
  }

  it('an entry whose bytes do not hash to its recorded leaf hash is named first, with what it holds', () => {
    const s = scenario()
    const good = evidence(s.leaves, [1, 3], [onChain(s.dataset), onChain(s.model)])
    const entries = withHashes(s.leaves)
    entries[1] = { ...entries[1]!, leaf: Buffer.from('{"type":"other/v1","n":2}') }
    const r = verifyLog({ ...good, entries })
    assert.equal(r.ok, false)
    assert.deepEqual(r.failures.map((f) => f.code), ['VERIFY_LEAF_MISMATCH', 'VERIFY_ROOT_MISMATCH'])
    assert.match(r.failures[0]!.message, /^log entry 1 \(other\/v1: \{"type":"other\/v1","n":2\}\) does not hash/)
    assert.match(r.failures[1]!.message, /log entry 1 \(other\/v1: .*\) differs from what was logged$/)
    assert.deepEqual(r.firstDifference, { index: 1, entry: 'other/v1: {"type":"other/v1","n":2}' })
  })

  it('without recorded hashes, names the range between the last matching checkpoint and the first that differs', () => {
    const leaves = Array.from({ length: 8 }, (_, i) => Buffer.from(`{"type":"t/v1","i":${i}}`))
    const good = evidence(leaves, [2, 6, 8], [])
    const edited = [...leaves]
    edited[4] = Buffer.from('{"type":"t/v1","i":44}')
    const r = verifyLog({ ...good, entries: edited.map((leaf, index) => ({ index, leaf })) })
    assert.deepEqual(r.failures.map((f) => f.code), ['VERIFY_ROOT_MISMATCH'])
    assert.match(r.failures[0]!.message, /size 6\).*the first entry that differs is among entries 2 to 5$/)
  })

  it('checks every signed checkpoint kept locally, anchored or not: an altered entry after the last anchor is caught', () => {
    const leaves = Array.from({ length: 8 }, (_, i) => Buffer.from(`{"type":"t/v1","i":${i}}`))
    const input = { ...evidence(leaves, [4], []), localCheckpoints: [signedLocal(leaves, 4), signedLocal(leaves, 7)] }
    const ok = verifyLog(input)
    assert.deepEqual(ok.failures, [])
    assert.deepEqual([ok.localCheckpoints, ok.anchoredSize, ok.unanchoredEntries], [2, 4, 4])
    const edited = [...leaves]
    edited[5] = Buffer.from('{"type":"t/v1","i":55}')
    const bad = verifyLog({ ...input, entries: edited.map((leaf, index) => ({ index, leaf })) })
    assert.deepEqual(bad.failures.map((f) => f.code), ['VERIFY_ROOT_MISMATCH'])
    assert.match(bad.failures[0]!.message, /^the signed checkpoint of size 7 kept in the data dir: .*among entries 4 to 6$/)
    const forged = { ...signedLocal(leaves, 7), signature: Buffer.alloc(64) }
    assert.deepEqual(verifyLog({ ...input, localCheckpoints: [forged] }).failures.map((f) => f.code), ['VERIFY_BAD_SIGNATURE'])
  })
})

describe('verifyLog finds entries by their parsed type, not by substring (issue 12, point 9)', () => {
  it('a dataset named provena.consent.record/notes.csv is a registration, logged; a consent record that names a registration is a consent record', () => {
    const s = scenario()
    const dataset = { ...s.dataset, name: 'provena.consent.record/notes.csv' }
    const subject = 'ab'.repeat(32)
    const purpose = 'dpv:ScientificResearch'
    const consent = Buffer.from(canonicalJson({ type: CONSENT_RECORD_TYPE, subject, purpose: { id: purpose }, state: 'given', notice: 'provena.asset.registered/v1' }))
    const leaves = [Buffer.from(canonicalJson({ type: 'provena.asset.registered/v1', actor: 'did:key:test', time: 't', asset: dataset })), consent]
    const input = evidence(leaves, [2], [onChain(dataset)])
    const mapRoot = mapRootOf([[consentKey(subject, purpose), sha256(consent)]])
    const rootHash = input.checkpoints[0]!.rootHash
    input.checkpoints[0] = { ...input.checkpoints[0]!, mapRoot, noteSignature: signCheckpoint({ origin, treeSize: 2, rootHash, mapRoot }, origin, key.privateKey, key.publicKeyBytes).signature }
    const r = verifyLog(input)
    assert.deepEqual(r.failures, [])
    assert.deepEqual([r.assetsOnChain, r.assetsPendingOnChain, r.consentChanges], [1, 0, 1])
  })

  it('the consent layer writes the type the union names', () => {
    assert.equal(CONSENT_RECORD_TYPE, LOG_EVENT.consentRecord)
    assert.equal(ASSET_REGISTERED, LOG_EVENT.assetRegistered)
  })
})

describe('verifyLog replays the consent map incrementally', () => {
  it('gives the same map root at every checkpoint as rebuilding the map from the records before it (property)', () => {
    const subjects = ['aa', 'bb', 'cc', 'dd', 'ee'].map((s) => s.repeat(32))
    const purposes = ['dpv:ScientificResearch', 'dpv:ResearchAndDevelopment']
    const recordArb = fc.oneof(
      fc.record({ s: fc.nat({ max: 4 }), p: fc.nat({ max: 1 }), state: fc.constantFrom('given', 'withdrawn') }),
      fc.constant(null), // an entry of another type
    )
    fc.assert(
      fc.property(fc.array(recordArb, { minLength: 1, maxLength: 40 }), fc.array(fc.nat(), { minLength: 1, maxLength: 6 }), (records, cuts) => {
        const leaves = records.map((r, i) =>
          r ? Buffer.from(canonicalJson({ type: CONSENT_RECORD_TYPE, subject: subjects[r.s], purpose: { id: purposes[r.p] }, state: r.state, n: i })) : Buffer.from(`{"type":"other/v1","n":${i}}`),
        )
        const sizes = [...new Set(cuts.map((c) => 1 + (c % leaves.length)))].sort((a, b) => a - b)
        // The reference: the map rebuilt from scratch from the records before each size.
        const rebuilt = (n: number) => {
          const m = new Map<string, Buffer>()
          records.slice(0, n).forEach((r, i) => r && m.set(consentKey(subjects[r.s]!, purposes[r.p]!).toString('hex'), sha256(leaves[i]!)))
          return mapRootOf([...m].map(([k, v]) => [Buffer.from(k, 'hex'), v]))
        }
        const input = evidence(leaves, sizes, [])
        const nodes = new MemoryNodes(leaves.map((l) => hashLeaf(l)))
        input.checkpoints = input.checkpoints.map((c) => {
          const mapRoot = rebuilt(c.treeSize)
          return { ...c, mapRoot, noteSignature: signCheckpoint({ origin, treeSize: c.treeSize, rootHash: nodes.root(c.treeSize), mapRoot }, origin, key.privateKey, key.publicKeyBytes).signature }
        })
        assert.deepEqual(verifyLog(input).failures, [])
      }),
      { seed: 11, numRuns: 100 },
    )
  })
})
