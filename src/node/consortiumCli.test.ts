import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { createPublicClient, http, type Address, type PublicClient } from 'viem'
import { AccessPolicyAbi, AssetRegistryAbi } from '../chain/index.js'
import { assertOneLine, runCli } from '../testing.js'
import { unlockIdentity } from '../access/index.js'
import { signMemberCard, type Consortium } from './index.js'

// Three organisations, three data dirs, three passphrases, one chain (the admin node's
// embedded anvil, started with `provena node start`; the others use its --rpc-url):
// A, the hospital that creates the consortium; B, a lab that joins it; S, a stranger.
describe('a consortium of separate nodes (issue 12: pinned trust roots)', () => {
  const work = mkdtempSync(join(tmpdir(), 'provena-consortium-'))
  const A = join(work, 'A')
  const B = join(work, 'B')
  const S = join(work, 'S')
  const as = (dir: string, passphrase: string) => (...args: string[]) => runCli([...args, '--dir', dir], { PROVENA_PASSPHRASE: passphrase })
  const a = as(A, 'pw-hospital')
  const b = as(B, 'pw-lab')
  let s: (...args: string[]) => ReturnType<typeof runCli>
  let url = ''
  let consortium: Consortium
  const file = (name: string) => join(work, name)
  const readJson = <T = Record<string, any>>(path: string) => JSON.parse(readFileSync(path, 'utf8')) as T
  const csv = file('patients.csv')
  let labDid = ''
  let dataset = ''

  before(async () => {
    assert.equal((await a('init')).code, 0)
    assert.equal((await a('node', 'start')).code, 0)
    url = (await a('chain', 'info', '--json')).json<{ rpcUrl: string }>().rpcUrl
    s = (...args: string[]) => runCli([...args, '--dir', S, '--rpc-url', url], { PROVENA_PASSPHRASE: 'pw-stranger' })
    const id = await a('identity', 'create', 'st-mary', '--role', 'controller')
    assert.equal(id.code, 0, id.stderr)
    writeFileSync(csv, 'id,age\n' + Array.from({ length: 20 }, (_, i) => `P-${i},${30 + i}`).join('\n') + '\n')
  })
  after(async () => void (await a('node', 'stop')))

  it('create → join → identity create → show → add-member: the member registers into the SHARED AssetRegistry and verifies against its own anchor', async () => {
    // --out is not overwritten without --force.
    writeFileSync(file('taken.json'), '{}')
    assertOneLine(await a('consortium', 'create', '--out', file('taken.json')), 1, /taken\.json exists/)
    const created = await a('consortium', 'create', '--out', file('consortium.json'), '--json')
    assert.equal(created.code, 0, created.stderr)
    consortium = readJson<Consortium>(file('consortium.json'))
    assert.deepEqual(readJson(join(A, 'consortium.json')), consortium, 'pinned in the admin data dir')
    assert.deepEqual(consortium.members.map((m) => [m.name, m.role, m.card !== null]), [['st-mary', 'controller', true]])

    // The lab's node joins: its own data dir, passphrase and keys.
    const joined = await b('init', '--join', file('consortium.json'), '--rpc-url', url, '--json')
    assert.equal(joined.code, 0, joined.stderr)
    const lab = await b('identity', 'create', 'lab', '--role', 'controller', '--json')
    assert.equal(lab.code, 0, lab.stderr)
    const labId = lab.json<{ did: string; member: boolean; adminCommand: string }>()
    labDid = labId.did
    assert.equal(labId.member, false, 'only the admin makes members')
    assert.equal(labId.adminCommand, `provena consortium add-member --did ${labDid} --role controller --card card.json`)

    const client = createPublicClient({ transport: http(url) }) as PublicClient
    const isMember = async (address: string) => (await client.readContract({ address: consortium.contracts.AccessPolicy, abi: AccessPolicyAbi, functionName: 'isMember', args: [address as Address] })) as boolean
    const labAddress = lab.json<{ address: string }>().address
    assert.equal(await isMember(labAddress), false)

    // Its first chain use deployed only its own CheckpointAnchor and ConsentVerifier.
    const info = (await b('chain', 'info', '--json')).json<{ contracts: Record<string, Address> }>()
    for (const n of ['AssetRegistry', 'AccessPolicy', 'FederatedTraining'] as const) assert.equal(info.contracts[n]!.toLowerCase(), consortium.contracts[n].toLowerCase(), n)
    assert.notEqual(info.contracts.CheckpointAnchor!.toLowerCase(), consortium.members[0]!.log!.anchor.toLowerCase())

    // identity show: the public part without a passphrase, the signed card with it.
    const bare = await runCli(['identity', 'show', 'lab', '--json', '--dir', B], { PROVENA_PASSPHRASE: undefined })
    assert.equal(bare.code, 0, bare.stderr)
    const pub = bare.json<Record<string, any>>()
    assert.deepEqual(Object.keys(pub).sort(), ['address', 'card', 'did', 'log', 'name', 'role', 'x25519'])
    assert.equal(pub.card, null)
    assert.equal(pub.log.anchor.toLowerCase(), info.contracts.CheckpointAnchor!.toLowerCase())
    const shown = await b('identity', 'show', 'lab', '--json')
    writeFileSync(file('card.json'), shown.stdout)
    assert.equal(shown.json<{ card: unknown }>().card !== null, true)

    // The admin checks the card (did, role) and the member's anchor on-chain.
    assertOneLine(await a('consortium', 'add-member', '--did', labDid, '--role', 'trainer', '--card', file('card.json')), 1, /role is controller, not --role trainer/)
    const added = await a('consortium', 'add-member', '--did', labDid, '--role', 'controller', '--card', file('card.json'), '--out', file('consortium2.json'), '--json')
    assert.equal(added.code, 0, added.stderr)
    // A member node cannot add members.
    assertOneLine(await b('consortium', 'add-member', '--did', labDid, '--role', 'controller', '--card', file('card.json')), 1, /only the consortium admin/)
    assert.equal(await isMember(labAddress), true)
    const updated = await b('consortium', 'update', file('consortium2.json'), '--json')
    assert.equal(updated.code, 0, updated.stderr)
    assert.deepEqual(updated.json<{ added: string[] }>().added, [labDid])

    // The lab's node registers its dataset into the shared AssetRegistry and claims it for its controller.
    const imported = await b('dataset', 'import', csv, '--subject-column', 'id', '--as', 'lab', '--json')
    assert.equal(imported.code, 0, imported.stderr)
    dataset = imported.json<{ id: string }>().id
    const [registrant] = (await client.readContract({ address: consortium.contracts.AssetRegistry, abi: AssetRegistryAbi, functionName: 'registrantOf', args: [`0x${dataset}`] })) as [Address, number]
    assert.equal(registrant.toLowerCase(), (pub.log.operator as string).toLowerCase())
    const verified = await b('verify', '--json')
    assert.equal(verified.code, 0, verified.stdout + verified.stderr)
    assert.equal(verified.json<{ assetsOnChain: number }>().assetsOnChain, 1)
    // The admin's log does not hold the lab's registration, and its verify is not fooled into reporting it missing.
    const adminVerify = await a('verify', '--json')
    assert.equal(adminVerify.code, 0, adminVerify.stdout)
    assert.equal(adminVerify.json<{ assetsOnChain: number }>().assetsOnChain, 0)
  })

  it("verify --entries takes a member's anchor, log key and the registry from the consortium file", async () => {
    const entries = file('lab-entries.json')
    writeFileSync(entries, (await b('log', 'entries', '--json')).stdout)
    const outsider = (member: string) => runCli(['verify', '--entries', entries, '--consortium', file('consortium2.json'), '--member', member, '--json', '--dir', join(work, 'none')])
    const [ok, wrong] = await Promise.all([outsider(labDid), outsider(consortium.members[0]!.did)])
    assert.equal(ok.code, 0, ok.stdout + ok.stderr)
    assert.equal(ok.json<{ assetsOnChain: number }>().assetsOnChain, 1)
    assert.equal(wrong.code, 3, "the lab's entries are not the hospital's log")
  })

  it("an identity the admin's node creates is a member at once, on-chain and in its pinned file, with its card", async () => {
    const r = await a('identity', 'create', 'dpo', '--role', 'auditor', '--json')
    assert.equal(r.code, 0, r.stderr)
    const id = r.json<{ did: string; member: boolean; adminCommand: string | null }>()
    assert.deepEqual([id.member, id.adminCommand], [true, null])
    const shown = await a('consortium', 'show', '--json')
    assert.equal(shown.code, 0, shown.stderr) // the pinned file still validates: every card verifies
    const dpo = shown.json<Consortium>().members.find((m) => m.did === id.did)
    assert.deepEqual([dpo?.role, dpo?.card !== null, dpo?.log?.anchor], ['auditor', true, consortium.members[0]!.log!.anchor])
  })

  it('update refuses a file with another contract; the pin is unchanged', async () => {
    const pinned = readFileSync(join(B, 'consortium.json'), 'utf8')
    const other = readJson<Consortium>(file('consortium2.json'))
    other.contracts.AccessPolicy = '0x00000000000000000000000000000000deadbeef'
    writeFileSync(file('other.json'), JSON.stringify(other))
    assertOneLine(await b('consortium', 'update', file('other.json')), 1, /changes the consortium's trust roots \(AccessPolicy 0x[0-9a-fA-F]+ → 0x00000000000000000000000000000000deadbeef\)/)
    assert.equal(readFileSync(join(B, 'consortium.json'), 'utf8'), pinned)
  })

  it("update refuses a file a member rewrote (another member dropped, its address re-signed under the member's own key): only the admin's file is pinned", async () => {
    // Attack: each card binds only its own entry, so a member could drop st-mary and claim
    // her address under its own did:key; a node pinning that file checked grants of that
    // address against the member's requests and sealed keys to the member's X25519 key.
    const pinned = readFileSync(join(B, 'consortium.json'), 'utf8')
    const forged = readJson<Consortium>(file('consortium2.json'))
    const stMary = forged.members.find((m) => m.name === 'st-mary')!
    const lab = forged.members.find((m) => m.did === labDid)!
    const entry = { name: 'st-mary', did: lab.did, role: stMary.role, address: stMary.address, x25519: lab.x25519, log: lab.log }
    const card = signMemberCard(entry, unlockIdentity(B, 'lab', 'pw-lab').signing.privateKey)
    forged.members = forged.members.filter((m) => m !== stMary && m !== lab).concat([{ ...entry, card }])
    writeFileSync(file('forged.json'), JSON.stringify(forged))
    assertOneLine(await b('consortium', 'update', file('forged.json')), 1, /forged\.json is not signed by the consortium admin did:key:z\w+: its adminSignature does not verify/)
    delete (forged as { adminSignature?: unknown }).adminSignature
    writeFileSync(file('forged.json'), JSON.stringify(forged))
    assertOneLine(await b('consortium', 'update', file('forged.json')), 1, /not signed by the consortium admin .*: it has no adminSignature/)
    assert.equal(readFileSync(join(B, 'consortium.json'), 'utf8'), pinned)
  })

  it('a joined node checks the chain id and that each shared contract has code, naming what is wrong', async () => {
    const c = readJson<Consortium>(file('consortium2.json'))
    writeFileSync(file('wrong-chain.json'), JSON.stringify({ ...c, chainId: 1 }))
    writeFileSync(file('no-code.json'), JSON.stringify({ ...c, contracts: { ...c.contracts, FederatedTraining: '0x000000000000000000000000000000000000f00d' } }))
    const [d1, d2] = [join(work, 'D1'), join(work, 'D2')]
    assert.equal((await runCli(['init', '--join', file('wrong-chain.json'), '--rpc-url', url, '--dir', d1])).code, 0)
    assert.equal((await runCli(['init', '--join', file('no-code.json'), '--rpc-url', url, '--dir', d2])).code, 0)
    const [r1, r2] = await Promise.all([runCli(['chain', 'deploy', '--dir', d1]), runCli(['chain', 'deploy', '--dir', d2])])
    assertOneLine(r1, 1, /the consortium's chain is 1; http:\/\/127\.0\.0\.1:\d+ is chain 31337/)
    assertOneLine(r2, 1, /the consortium's FederatedTraining 0x0+f00d has no code on chain 31337/)
  })

  it("verify on a member node fails when the consortium pins another anchor for its log", async () => {
    const pinPath = join(B, 'consortium.json')
    const pinned = readFileSync(pinPath, 'utf8')
    // A pin whose lab entry (validly signed by lab's key) names another anchor.
    const c = JSON.parse(pinned) as Consortium
    const i = c.members.findIndex((m) => m.did === labDid)
    const { card: _, ...entry } = c.members[i]!
    const moved = { ...entry, log: { ...entry.log!, anchor: '0x000000000000000000000000000000000000a11c' as Address } }
    c.members[i] = { ...moved, card: signMemberCard(moved, unlockIdentity(B, 'lab', 'pw-lab').signing.privateKey) }
    writeFileSync(pinPath, JSON.stringify(c))
    try {
      const r = await b('verify')
      assert.equal(r.code, 3, r.stdout + r.stderr)
      assert.match(r.stdout, /FAILED: this node's CheckpointAnchor 0x[0-9a-fA-F]{40} is not the one the consortium pins for its log \(0x0+a11c\)/)
    } finally {
      writeFileSync(pinPath, pinned)
    }
  })

  it('join refuses a tampered card, and leaves no data dir', async () => {
    const tampered = readJson<Consortium>(file('consortium2.json'))
    const i = tampered.members.findIndex((m) => m.did === labDid)
    tampered.members[i]!.role = 'auditor'
    writeFileSync(file('tampered.json'), JSON.stringify(tampered))
    const dir = join(work, 'C')
    assertOneLine(await runCli(['init', '--join', file('tampered.json'), '--dir', dir]), 1, new RegExp(`members\\[${i}\\]\\.role differs from what the member's card signs`))
    assert.equal(existsSync(join(dir, 'provena.json')), false)
  })

  it("a stranger's manifest from its own anchor and registry is refused by the consortium's trust roots, naming its anchor (attack 2)", async () => {
    // The stranger: a lone node with its own contracts on the same chain; every record "consented".
    assert.equal((await s('init')).code, 0)
    assert.equal((await s('identity', 'create', 'mallory', '--role', 'controller')).code, 0)
    const forged = await s('dataset', 'import', csv, '--subject-column', 'id', '--as', 'mallory', '--json')
    assert.equal(forged.code, 0, forged.stderr)
    const consents = file('all.csv')
    writeFileSync(consents, 'subject,purpose,action\n' + Array.from({ length: 20 }, (_, i) => `P-${i},dpv:ScientificResearch,grant`).join('\n') + '\n')
    assert.equal((await s('consent', 'import', consents, '--as', 'mallory')).code, 0)
    const manifest = file('forged-manifest.json')
    const checked = await s('consent', 'check', '--dataset', forged.json<{ id: string }>().id, '--purpose', 'dpv:ScientificResearch', '--out', manifest)
    assert.equal(checked.code, 0, checked.stderr)
    const m = readJson(manifest)
    assert.equal(m.included.length, 20)
    const strangerAnchor = m.chain.checkpointAnchor as string
    // The stranger's own node calls it VERIFIED: its roots are its own.
    assert.equal((await s('consent', 'verify-manifest', manifest)).code, 0)
    // The consortium's verifiers refuse it: the admin's data dir, a member's, an outsider with the file.
    const refusals = await Promise.all([
      a('consent', 'verify-manifest', manifest),
      b('consent', 'verify-manifest', manifest),
      runCli(['consent', 'verify-manifest', manifest, '--consortium', file('consortium2.json'), '--dir', join(work, 'none')]),
    ])
    for (const r of refusals) assertOneLine(r, 3, new RegExp(`manifest names CheckpointAnchor ${strangerAnchor}, not a log of`))

    // The genuine manifest of the lab's dataset verifies with the same roots.
    const consents2 = file('lab-consents.csv')
    writeFileSync(consents2, 'subject,purpose,action\nP-1,dpv:ScientificResearch,grant\n')
    assert.equal((await b('consent', 'import', consents2, '--as', 'lab')).code, 0)
    const genuine = file('genuine-manifest.json')
    assert.equal((await b('consent', 'check', '--dataset', dataset, '--purpose', 'dpv:ScientificResearch', '--out', genuine)).code, 0)
    const ok = await runCli(['consent', 'verify-manifest', genuine, '--consortium', file('consortium2.json'), '--dir', join(work, 'none'), '--json'])
    assert.equal(ok.code, 0, ok.stdout + ok.stderr)
    assert.deepEqual([ok.json<{ ok: boolean; included: number }>().ok, ok.json<{ included: number }>().included], [true, 1])
  })
})
