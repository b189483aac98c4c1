import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { privateKeyToAccount, generatePrivateKey } from 'viem/accounts'
import { didKeyFromEd25519, generateEd25519, generateX25519 } from '../crypto/index.js'
import { noteVerifierKey } from '../log/index.js'
import { changedTrustRoots, CONSORTIUM_TYPE, findMember, isTrustedAnchor, parseConsortium, parseVerifierKey, readPinnedConsortium, signMemberCard, trustedLogFor, type Consortium, type ConsortiumMember } from './index.js'

const addr = () => privateKeyToAccount(generatePrivateKey()).address

/** A member with a fresh did:key, signed card and a log whose vkey holds a '+' in its base64 (the split must not break on it). */
function member(name: string, role: ConsortiumMember['role'] = 'controller'): Consortium['members'][number] {
  const signing = generateEd25519()
  let logKey = generateEd25519()
  while (!noteVerifierKey('provena.log/0011223344556677', logKey.publicKeyBytes).split('+').slice(2).join('+').includes('+')) logKey = generateEd25519()
  const m: ConsortiumMember = {
    name,
    did: didKeyFromEd25519(signing.publicKeyBytes),
    role,
    address: addr(),
    x25519: generateX25519().publicKey.toString('hex'),
    log: { origin: 'provena.log/0011223344556677', vkey: noteVerifierKey('provena.log/0011223344556677', logKey.publicKeyBytes), operator: addr(), anchor: addr(), consentVerifier: addr() },
  }
  return { ...m, card: signMemberCard(m, signing.privateKey) }
}

function consortium(): Consortium {
  return {
    _type: CONSORTIUM_TYPE,
    chainId: 31337,
    rpcUrl: 'http://127.0.0.1:8545',
    contracts: { AssetRegistry: addr(), AccessPolicy: addr(), FederatedTraining: addr() },
    admin: { did: didKeyFromEd25519(generateEd25519().publicKeyBytes), address: addr() },
    members: [member('st-mary'), member('lab', 'trainer')],
  }
}

const roundTrip = (c: unknown) => JSON.parse(JSON.stringify(c)) as Consortium

describe('the consortium file (src/node/consortium.ts)', () => {
  it('a valid file parses; findMember and trustedLogFor find a member by did or address; its anchor is trusted', () => {
    const c = consortium()
    const parsed = parseConsortium(roundTrip(c), 'c.json')
    assert.deepEqual(parsed, c)
    const lab = c.members[1]!
    assert.equal(findMember(parsed, { did: lab.did })?.name, 'lab')
    assert.equal(findMember(parsed, { address: lab.address.toLowerCase() })?.name, 'lab')
    assert.equal(findMember(parsed, { did: 'did:key:z6Mkother' }), undefined)
    assert.equal(trustedLogFor(parsed, lab.did)?.anchor, lab.log!.anchor)
    assert.equal(trustedLogFor(parsed, lab.address)?.anchor, lab.log!.anchor)
    assert.equal(isTrustedAnchor(parsed, lab.log!.anchor.toUpperCase().replace('0X', '0x')), true)
    assert.equal(isTrustedAnchor(parsed, addr()), false)
    assert.ok(parseVerifierKey(lab.log!.vkey))
  })

  it('an entry changed after signing is refused, naming the member and the field', () => {
    for (const [field, change] of [
      ['role', (m: Record<string, unknown>) => (m.role = 'auditor')],
      ['x25519', (m: Record<string, unknown>) => (m.x25519 = 'ab'.repeat(32))],
      ['log', (m: Record<string, unknown>) => ((m.log as Record<string, unknown>).anchor = addr())],
    ] as const) {
      const c = roundTrip(consortium())
      change(c.members[1] as unknown as Record<string, unknown>)
      assert.throws(() => parseConsortium(c, 'c.json'), (e: Error & { code?: string }) => e.code === 'CONSORTIUM_CARD_INVALID' && e.message.includes(`members[1].${field}`), field)
    }
  })

  it("a card signed by another key than the member's did:key is refused", () => {
    const c = roundTrip(consortium())
    const { card: _, ...entry } = c.members[0]!
    // The same entry, signed by a key that is not the one of its did:key.
    c.members[0]!.card = signMemberCard(entry, generateEd25519().privateKey)
    assert.throws(() => parseConsortium(c, 'c.json'), { code: 'CONSORTIUM_CARD_INVALID' })
  })

  it('bad fields are named: _type, chainId, a contract address, a vkey, a missing card', () => {
    const cases: [string, (c: Record<string, any>) => void][] = [
      ['_type', (c) => (c._type = 'provena.consortium/v0')],
      ['chainId', (c) => (c.chainId = '31337')],
      ['contracts.AccessPolicy', (c) => (c.contracts.AccessPolicy = '0x1234')],
      ['members[0].log.vkey', (c) => (c.members[0].log.vkey = 'provena.log/x+00000000+AAAA')],
      ['members[1].card', (c) => (c.members[1].card = null)],
    ]
    for (const [field, change] of cases) {
      const c = roundTrip(consortium()) as unknown as Record<string, any>
      change(c)
      assert.throws(() => parseConsortium(c, 'c.json'), (e: Error) => e.message.startsWith(`c.json: ${field} `), field)
    }
  })

  it('changedTrustRoots names a changed contract, chain or admin; members do not count', () => {
    const c = consortium()
    assert.deepEqual(changedTrustRoots(c, { ...c, members: [c.members[0]!] }), [])
    const other = addr()
    const changed = changedTrustRoots(c, { ...c, chainId: 1, contracts: { ...c.contracts, AccessPolicy: other } })
    assert.deepEqual(changed, ['chainId 31337 → 1', `AccessPolicy ${c.contracts.AccessPolicy} → ${other}`])
  })

  it('readPinnedConsortium: undefined on a lone data dir, the validated file otherwise', () => {
    const dir = mkdtempSync(join(tmpdir(), 'provena-pin-'))
    assert.equal(readPinnedConsortium(dir), undefined)
    const c = consortium()
    writeFileSync(join(dir, 'consortium.json'), JSON.stringify(c, null, 2))
    assert.deepEqual(readPinnedConsortium(dir), c)
    const bad = roundTrip(c)
    bad.members[0]!.role = 'auditor'
    writeFileSync(join(dir, 'consortium.json'), JSON.stringify(bad))
    assert.throws(() => readPinnedConsortium(dir), /consortium\.json/)
  })
})
