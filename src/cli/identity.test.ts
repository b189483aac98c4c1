import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { createPublicClient, http, keccak256, toHex, type Address, type PublicClient } from 'viem'
import { AccessPolicyAbi } from '../chain/index.js'
import { runCli } from '../testing.js'

describe('provena identity: keystore and on-chain membership', () => {
  const dir = mkdtempSync(join(tmpdir(), 'provena-identity-'))
  const env = { PROVENA_PASSPHRASE: 'a long passphrase' }
  const cli = (args: string[], e: Record<string, string | undefined> = env) => runCli([...args, '--dir', dir], e)
  before(async () => {
    assert.equal((await cli(['init'])).code, 0)
    assert.equal((await cli(['node', 'start'])).code, 0)
  })
  after(async () => void (await cli(['node', 'stop'])))

  it('creates identities that are members of AccessPolicy with their role, and logs them', async () => {
    const a = await cli(['identity', 'create', 'st-mary', '--role', 'controller', '--json'])
    assert.equal(a.code, 0, a.stderr)
    const b = await cli(['identity', 'create', 'lab-1', '--role', 'trainer', '--json'])
    const st = a.json<{ address: Address; did: string; accessPolicy: Address }>()
    const lab = b.json<{ address: Address }>()
    const info = (await cli(['chain', 'info', '--json'])).json<{ rpcUrl: string; contracts: { AccessPolicy: Address } }>()
    assert.equal(info.contracts.AccessPolicy, st.accessPolicy)
    const client = createPublicClient({ transport: http(info.rpcUrl) }) as PublicClient
    const hasRole = (role: string, who: Address) => client.readContract({ address: info.contracts.AccessPolicy, abi: AccessPolicyAbi, functionName: 'hasRole', args: [keccak256(toHex(role)), who] })
    assert.equal(await hasRole('CONTROLLER_ROLE', st.address), true)
    assert.equal(await hasRole('TRAINER_ROLE', lab.address), true)
    assert.equal(await hasRole('CONTROLLER_ROLE', lab.address), false)
    const list = (await cli(['identity', 'list', '--json'], {})).json<{ identities: { name: string; role: string }[] }>()
    assert.deepEqual(list.identities.map((i) => `${i.name}:${i.role}`), ['st-mary:controller', 'lab-1:trainer'])
    const entries = (await cli(['log', 'entries', '--json'])).json<{ entries: { leaf: string }[] }>().entries.map((e) => JSON.parse(Buffer.from(e.leaf, 'base64').toString()))
    assert.deepEqual(entries.map((e) => e.identity.did), [st.did, b.json<{ did: string }>().did])
    assert.equal((await cli(['verify', '--json'])).code, 0)
  })

  it('refuses without a passphrase, with a wrong one, a duplicate name or an unknown role; the keystore holds no key in clear', async () => {
    const none = await cli(['identity', 'create', 'x'], { PROVENA_PASSPHRASE: undefined })
    assert.equal(none.code, 1)
    assert.match(none.stderr, /needs a passphrase/)
    const wrong = await cli(['identity', 'create', 'x'], { PROVENA_PASSPHRASE: 'not it' })
    assert.match(wrong.stderr, /wrong passphrase/)
    assert.match((await cli(['identity', 'create', 'st-mary'])).stderr, /exists already/)
    assert.match((await cli(['identity', 'create', 'y', '--role', 'king'])).stderr, /unknown role "king"/)
    const text = readFileSync(join(dir, 'keys', 'keystore.json'), 'utf8')
    assert.ok(!/"(ed25519Seed|x25519|evm)"/.test(text), 'secret field names never appear in clear')
  })
})
