import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { didKeyFromEd25519, generateEd25519, type DsseEnvelope } from '../crypto/index.js'
import { openDatabase } from '../db/index.js'
import { dbNonceTable, FileTransport, memoryNonceTable, messageDigest, readMessageFile, signMessage, verifyMessage, writeMessageFile, type MessageExpectations } from './index.js'

const party = () => {
  const signing = generateEd25519()
  return { did: didKeyFromEd25519(signing.publicKeyBytes), signing }
}

describe('messages between nodes: signed, bound to recipient, purpose, time and nonce (issue 12)', () => {
  const lab = party()
  const hospital = party()
  const stranger = party()
  const T = 'provena.test/v1'
  const P = 'dpv:ScientificResearch'
  const now = Date.parse('2026-12-01T12:00:00Z')
  const send = (opts: { from?: typeof lab; to?: string; purpose?: string; ttlMs?: number; at?: number; type?: string; body?: object } = {}) =>
    signMessage(opts.from ?? lab, { _type: opts.type ?? T, to: opts.to ?? hospital.did, purpose: opts.purpose ?? P, body: opts.body ?? { dataset: 'ab'.repeat(32) } }, { ttlMs: opts.ttlMs ?? 60_000, now: opts.at ?? now }).envelope
  const want = (o: Partial<MessageExpectations> = {}): MessageExpectations => ({
    type: T,
    isOwn: (did) => did === hospital.did,
    isMember: (did) => did === lab.did || did === hospital.did,
    nonces: memoryNonceTable(),
    now,
    ...o,
  })
  const refused = (env: unknown, code: string, message: RegExp, o: Partial<MessageExpectations> = {}) => assert.throws(() => verifyMessage(env, want(o)), (e: { code?: string; message?: string }) => e.code === code && message.test(e.message ?? ''))

  it('a good message verifies and gives its header and body', () => {
    const m = verifyMessage<{ dataset: string }>(send(), want())
    assert.deepEqual([m._type, m.from, m.to, m.purpose, m.dataset, m.issuedAt, m.expiresAt], [T, lab.did, hospital.did, P, 'ab'.repeat(32), '2026-12-01T12:00:00.000Z', '2026-12-01T12:01:00.000Z'])
    assert.match(m.nonce, /^[0-9a-f]{64}$/)
  })

  it('refuses each failed check by name: bad signature, not a member, wrong recipient, expired, not yet valid, replayed, wrong purpose, wrong type', () => {
    const env = send()
    // Any changed payload byte: the signature no longer holds (also a changed "to" or "purpose").
    const payload = JSON.parse(Buffer.from(env.payload, 'base64').toString()) as Record<string, unknown>
    for (const [field, value] of [['to', stranger.did], ['purpose', 'dpv:Marketing'], ['expiresAt', '2099-01-01T00:00:00.000Z'], ['dataset', 'cd'.repeat(32)]] as const) {
      const forged: DsseEnvelope = { ...env, payload: Buffer.from(JSON.stringify({ ...payload, [field]: value })).toString('base64') }
      refused(forged, 'MESSAGE_BAD_SIGNATURE', /bad signature/)
    }
    // Signed by a stranger's key but claiming to come from the lab.
    const byStranger = send({ from: stranger })
    refused({ ...byStranger, payload: env.payload }, 'MESSAGE_BAD_SIGNATURE', /bad signature/)
    refused(send({ from: stranger }), 'MESSAGE_NOT_MEMBER', /not a member: the sender did:key:/)
    refused(send({ to: stranger.did }), 'MESSAGE_WRONG_RECIPIENT', /wrong recipient/)
    refused(send({ at: now - 120_000 }), 'MESSAGE_EXPIRED', /expired: the message was valid until 2026-12-01T11:59:00.000Z/)
    refused(send({ at: now + 6 * 60_000 }), 'MESSAGE_NOT_YET_VALID', /more than 5 minutes ahead/)
    assert.doesNotThrow(() => verifyMessage(send({ at: now + 4 * 60_000 }), want()), '4 minutes of skew are tolerated')
    refused(send({ purpose: 'dpv:Marketing' }), 'MESSAGE_WRONG_PURPOSE', /wrong purpose: the message is for dpv:Marketing, the operation for dpv:ScientificResearch/, { purpose: P })
    refused(send({ type: 'provena.other/v1' }), 'MESSAGE_WRONG_TYPE', /expected provena.test\/v1/)
    refused({ payloadType: 'text/plain', payload: '', signatures: [] }, 'MESSAGE_MALFORMED', /not a Provena message/)
    const nonces = memoryNonceTable()
    verifyMessage(env, want({ nonces }))
    refused(env, 'MESSAGE_REPLAYED', /replayed nonce/, { nonces })
  })

  it('property: of 200 random one-byte changes to the payload or signature, none verifies', () => {
    // Fixed-seed generator (mulberry32).
    let seed = 12
    const rand = () => {
      seed = (seed + 0x6d2b79f5) | 0
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296
    }
    const env = send()
    for (let i = 0; i < 200; i++) {
      const target = rand() < 0.5 ? 'payload' : 'sig'
      const bytes = Buffer.from(target === 'payload' ? env.payload : env.signatures[0]!.sig, 'base64')
      bytes[Math.floor(rand() * bytes.length)]! ^= 1 + Math.floor(rand() * 255)
      const changed: DsseEnvelope = target === 'payload' ? { ...env, payload: bytes.toString('base64') } : { ...env, signatures: [{ ...env.signatures[0]!, sig: bytes.toString('base64') }] }
      assert.throws(() => verifyMessage(changed, want()), (e: { code?: string }) => typeof e.code === 'string' && e.code.startsWith('MESSAGE_'), `change ${i} verified`)
    }
  })

  it('the database nonce table refuses a replay across processes (reopened), and forgets nonces of expired messages', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'provena-nonces-')), 'provena.db')
    const env = send()
    let db = openDatabase(path)
    verifyMessage(env, want({ nonces: dbNonceTable(db) }))
    db.close()
    db = openDatabase(path)
    refused(env, 'MESSAGE_REPLAYED', /replayed nonce/, { nonces: dbNonceTable(db) })
    // A check without recording (an export that may still fail) leaves the nonce free.
    const other = send()
    verifyMessage(other, want({ nonces: dbNonceTable(db), recordNonce: false }))
    verifyMessage(other, want({ nonces: dbNonceTable(db) }))
    assert.equal(db.prepare('SELECT count(*) FROM node_seen_nonces').pluck().get(), 2)
    dbNonceTable(db).record('x', 'y', now, now + 3_600_000)
    assert.equal(db.prepare('SELECT count(*) FROM node_seen_nonces').pluck().get(), 1, 'the expired ones pruned')
    db.close()
  })

  it('the files transport: send writes a message file, receive takes each once; a broken file is named', async () => {
    const root = mkdtempSync(join(tmpdir(), 'provena-transport-'))
    const a = new FileTransport(join(root, 'a-out'), join(root, 'a-in'))
    const b = new FileTransport(join(root, 'b-out'), join(root, 'a-out'))
    const env = send()
    const path = await a.send(env, hospital.did)
    assert.equal(path, join(root, 'a-out', `${messageDigest(env)}.json`))
    assert.deepEqual(await b.receive(), [env])
    assert.deepEqual(await b.receive(), [])
    writeMessageFile(join(root, 'm.json'), env)
    assert.deepEqual(readMessageFile(join(root, 'm.json')), env)
    assert.throws(() => writeMessageFile(join(root, 'm.json'), env), { code: 'CLI_OUT_EXISTS' })
    writeFileSync(join(root, 'bad.json'), '{"payloadType":"x","payload":"", "signatures": 3}')
    assert.throws(() => readMessageFile(join(root, 'bad.json')), { code: 'MESSAGE_MALFORMED', message: /bad.json: field "signatures"/ })
    writeFileSync(join(root, 'notjson.json'), '{')
    assert.throws(() => readMessageFile(join(root, 'notjson.json')), { code: 'MESSAGE_MALFORMED', message: /notjson.json is not JSON/ })
  })
})
