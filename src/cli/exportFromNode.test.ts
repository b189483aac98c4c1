import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { controllerSecrets, pseudonymOf, unlockIdentity } from '../access/index.js'
import { signedFetch } from '../node/index.js'
import { cidOf } from '../store/index.js'
import { hospitalAndLab, runCli, startServe, type ServedNode } from '../testing.js'

const P = 'dpv:ScientificResearch'

// A lab's node exports a hospital's dataset in one command, over HTTP (issue 13): the
// hospital's node serves (provena serve); the lab runs `dataset export --from URL`. Two data
// dirs, two passphrases, separate processes, one chain.
describe('dataset export --from URL: a key release between nodes over HTTP (issue 13)', () => {
  const work = mkdtempSync(join(tmpdir(), 'provena-xnode-'))
  const H = join(work, 'hospital')
  const L = join(work, 'lab')
  const file = (name: string) => join(work, name)
  const hospital = (...args: string[]) => runCli([...args, '--dir', H], { PROVENA_PASSPHRASE: 'pw-hospital' })
  const lab = (...args: string[]) => runCli([...args, '--dir', L], { PROVENA_PASSPHRASE: 'pw-lab' })
  const ok = (r: Awaited<ReturnType<typeof runCli>>) => assert.equal(r.code, 0, r.stdout + r.stderr)
  const subjects = Array.from({ length: 40 }, (_, i) => `P-${i}`)
  let dataset = ''
  let labDid = ''
  let served: ServedNode | undefined

  before(async () => {
    ;({ dataset, labDid } = await hospitalAndLab(work, subjects, P))
    ok(await hospital('access', 'grant', dataset, '--to', labDid, '--purpose', P, '--as', 'st-mary'))
    served = await startServe(H, { passphrase: 'pw-hospital' })
  })
  after(async () => {
    await served?.stop()
    await hospital('node', 'stop')
  })

  it('one command on the lab: request, release on the hospital, segments fetched by CID, decrypted with the lab\'s own key; consent applied', async () => {
    const out = file('lab.csv')
    const r = await lab('dataset', 'export', dataset, '--from', served!.url, '--purpose', P, '--as', 'lab', '--out', out, '--json')
    ok(r)
    assert.equal(r.json<{ records: number }>().records, 38)
    const key = controllerSecrets(unlockIdentity(H, 'st-mary', 'pw-hospital')).pseudonymKey
    const rows = readFileSync(out, 'utf8').trim().split('\n')
    assert.deepEqual(rows.slice(1), subjects.flatMap((s, i) => (s === 'P-3' || s === 'P-4' ? [] : [`${pseudonymOf(key, s)},${30 + i}`])))
    // The hospital logged the release it made over HTTP (read through its log endpoint: it is served).
    const log = await lab('log', 'entries', '--json')
    ok(log)
    const labEvents = log.json<{ entries: { leaf: string }[] }>().entries.map((e) => JSON.parse(Buffer.from(e.leaf, 'base64').toString('utf8')) as Record<string, unknown>)
    assert.ok(labEvents.some((e) => e.type === 'provena.access.export/v1' && e.outcome === 'granted' && e.records === 38))
  })

  it('segments go only to the member a release names: another CID, no signature, or a non-member are refused', async () => {
    const me = unlockIdentity(L, 'lab', 'pw-lab')
    const key = { keyId: me.did, privateKey: me.signing.privateKey }
    const unknownCid = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'
    const notReleased = await signedFetch(`${served!.url}/v1/segments/${unknownCid}`, { method: 'GET' }, key)
    assert.equal(notReleased.status, 403)
    assert.equal(((await notReleased.json()) as { code: string }).code, 'ACCESS_SEGMENT_NOT_RELEASED')
    const unsigned = await fetch(`${served!.url}/v1/segments/${unknownCid}`)
    assert.equal(unsigned.status, 401)
    // A segment released to the lab: the lab gets it (its bytes hash to the CID); another
    // member (the hospital's own controller identity, signing as itself) does not.
    const db = new Database(join(H, 'provena.db'), { readonly: true })
    const cid = (db.prepare('SELECT cid FROM access_released_segments WHERE requester = ? LIMIT 1').pluck().get(me.did) as string | undefined)!
    db.close()
    assert.ok(cid, 'the release over HTTP recorded its segments for the lab')
    const mine = await signedFetch(`${served!.url}/v1/segments/${cid}`, { method: 'GET' }, key)
    assert.equal(mine.status, 200)
    assert.equal(cidOf(Buffer.from(await mine.arrayBuffer())), cid)
    // Several at once (one signed request): all released, their bytes in order with their lengths; one not released refuses all.
    const two = await signedFetch(`${served!.url}/v1/segments/${cid},${cid}`, { method: 'GET' }, key)
    assert.equal(two.status, 200)
    const both = Buffer.from(await two.arrayBuffer())
    const [n1, n2] = two.headers.get('provena-segment-lengths')!.split(',').map(Number)
    assert.equal(n1! + n2!, both.length)
    assert.deepEqual([cidOf(both.subarray(0, n1)), cidOf(both.subarray(n1))], [cid, cid])
    const mixed = await signedFetch(`${served!.url}/v1/segments/${cid},${unknownCid}`, { method: 'GET' }, key)
    assert.equal(mixed.status, 403)
    assert.equal(((await mixed.json()) as { code: string }).code, 'ACCESS_SEGMENT_NOT_RELEASED')
    const stMary = unlockIdentity(H, 'st-mary', 'pw-hospital')
    const other = await signedFetch(`${served!.url}/v1/segments/${cid}`, { method: 'GET' }, { keyId: stMary.did, privateKey: stMary.signing.privateKey })
    assert.equal(other.status, 403)
    assert.equal(((await other.json()) as { code: string }).code, 'ACCESS_SEGMENT_NOT_RELEASED')
  })

  it('revoked on-chain: the next export --from is refused by the hospital, named, nothing written', async () => {
    // The hospital's node is served: its CLI refuses to write; the grant is revoked by stopping it first.
    assert.equal(await served!.stop(), 0)
    ok(await hospital('access', 'revoke', dataset, '--to', labDid, '--purpose', P, '--as', 'st-mary'))
    served = await startServe(H, { passphrase: 'pw-hospital' })
    const out = file('revoked.csv')
    const r = await lab('dataset', 'export', dataset, '--from', served.url, '--purpose', P, '--as', 'lab', '--out', out)
    assert.equal(r.code, 1, r.stdout + r.stderr)
    assert.match(r.stderr, /ACCESS_DENIED/)
    assert.equal(existsSync(out), false)
  })
})
