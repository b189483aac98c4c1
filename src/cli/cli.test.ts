import assert from 'node:assert/strict'
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { toFunctionSelector } from 'viem'
import { ed25519FromDidKey, verifyDsse } from '../crypto/index.js'
import { hashLeaf, MemoryNodes, rootFromInclusionProof } from '../log/index.js'
import { repoRoot, runCli, startTestChain } from '../testing.js'
import { LATEST_SCHEMA_VERSION } from '../db/index.js'

const CSV = join(repoRoot, 'data', 'breast_cancer.csv')

describe('provena CLI end to end on the shipped breast-cancer CSV', () => {
  const dir = mkdtempSync(join(tmpdir(), 'provena-cli-'))
  const work = mkdtempSync(join(tmpdir(), 'provena-cli-files-'))
  const cli = (...args: string[]) => runCli([...args, '--dir', dir])
  let datasetId = ''
  let modelId = ''

  before(async () => {
    assert.equal((await cli('init')).code, 0)
    assert.equal((await cli('node', 'start')).code, 0)
  })
  after(async () => void (await cli('node', 'stop')))

  it('registers the dataset: id, root, 569 records; registering again is idempotent', async () => {
    const r = await cli('dataset', 'register', CSV, '--name', 'breast-cancer', '--json')
    assert.equal(r.code, 0, r.stderr)
    const j = r.json<{ id: string; root: string; records: number; existing: boolean }>()
    assert.match(j.id, /^[0-9a-f]{64}$/)
    assert.match(j.root, /^[0-9a-f]{64}$/)
    assert.equal(j.records, 569)
    assert.equal(j.existing, false)
    datasetId = j.id
    const again = (await cli('dataset', 'register', CSV, '--json')).json<{ id: string; existing: boolean }>()
    assert.deepEqual([again.id, again.existing], [datasetId, true])
    const entries = (await cli('log', 'entries', '--json')).json<{ entries: unknown[] }>()
    assert.equal(entries.entries.length, 1, 'the second registration wrote no log entry')
  })

  it('verify: the original passes; a changed, a deleted and an inserted record are named by line, exit 3', async () => {
    const ok = await cli('dataset', 'verify', CSV, '--id', datasetId, '--json')
    assert.equal(ok.code, 0)
    assert.deepEqual(ok.json(), { id: datasetId, ok: true, records: 569, changed: [], added: [], missing: [], erased: [], schemaChanged: false })

    const lines = readFileSync(CSV, 'utf8').split('\n')
    const changed = [...lines]
    changed[41] = changed[41]!.replace(/,([0-9.]+),/, (_, v: string) => `,${v}1,`)
    writeFileSync(join(work, 'changed.csv'), changed.join('\n'))
    const c = await cli('dataset', 'verify', join(work, 'changed.csv'), '--id', datasetId.slice(0, 10), '--json')
    assert.equal(c.code, 3)
    assert.deepEqual(c.json<{ changed: number[]; added: number[]; missing: number[]; ok: boolean }>().changed, [42])

    const text = await cli('dataset', 'verify', join(work, 'changed.csv'), '--id', datasetId)
    assert.equal(text.code, 3)
    assert.match(text.stdout, /changed\s+line 42\b/)

    const deleted = lines.filter((_, i) => i !== 99)
    writeFileSync(join(work, 'deleted.csv'), deleted.join('\n'))
    const d = (await cli('dataset', 'verify', join(work, 'deleted.csv'), '--id', datasetId, '--json')).json<{ changed: number[]; added: number[]; missing: number[] }>()
    assert.deepEqual([d.changed, d.added, d.missing], [[], [], [100]])

    const inserted = [...lines.slice(0, 10), lines[5]!.replace('BC-', 'XX-'), ...lines.slice(10)]
    writeFileSync(join(work, 'inserted.csv'), inserted.join('\n'))
    const n = (await cli('dataset', 'verify', join(work, 'inserted.csv'), '--id', datasetId, '--json')).json<{ changed: number[]; added: number[]; missing: number[] }>()
    assert.deepEqual([n.changed, n.added, n.missing], [[], [11], []])
  })

  it('registers a model trained on the dataset with a signed in-toto statement; lineage shows the edge', async () => {
    writeFileSync(join(work, 'model.bin'), Buffer.from('weights of a model'))
    const r = await cli('model', 'register', join(work, 'model.bin'), '--trained-on', datasetId, '--json')
    assert.equal(r.code, 0, r.stderr)
    modelId = r.json<{ id: string }>().id
    const l = (await cli('lineage', modelId, '--json')).json<{
      edges: { from: string; to: string }[]
      statement: { payload: string; payloadType: string; signatures: { keyid: string }[] }
    }>()
    assert.deepEqual(l.edges, [{ from: modelId, to: datasetId, relation: 'derivedFrom' }])
    const did = l.statement.signatures[0]!.keyid
    const statement = JSON.parse(verifyDsse(l.statement as never, ed25519FromDidKey(did)).toString()) as {
      _type: string
      subject: { digest: { sha256: string } }[]
      predicate: { buildDefinition: { resolvedDependencies: { digest: { sha256: string } }[] } }
    }
    assert.equal(statement._type, 'https://in-toto.io/Statement/v1')
    assert.equal(statement.subject[0]!.digest.sha256, modelId)
    assert.equal(statement.predicate.buildDefinition.resolvedDependencies[0]!.digest.sha256, datasetId)
    const text = await cli('lineage', datasetId)
    assert.match(text.stdout, /used by model/)
  })

  it('an outsider recomputes the anchored root from the exported leaves and a plain eth_call of latest()', async () => {
    assert.equal((await cli('log', 'checkpoint')).code, 0)
    const info = (await cli('chain', 'info', '--json')).json<{ rpcUrl: string; chainId: number; operator: string; contracts: { AssetRegistry: string; CheckpointAnchor: string } }>()
    assert.equal(info.chainId, 31337)
    assert.match(info.operator, /^0x[0-9a-fA-F]{40}$/)
    const res = await fetch(info.rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_call', params: [{ to: info.contracts.CheckpointAnchor, data: toFunctionSelector('latest()') }, 'latest'] }),
    })
    const word = ((await res.json()) as { result: string }).result.slice(2)
    const treeSize = Number(BigInt(`0x${word.slice(0, 64)}`))
    const rootHash = word.slice(64, 128)
    const { entries } = (await cli('log', 'entries', '--json')).json<{ entries: { index: number; leaf: string }[] }>()
    assert.equal(treeSize, entries.length)
    const tree = new MemoryNodes(entries.map((e) => hashLeaf(Buffer.from(e.leaf, 'base64'))))
    assert.equal(tree.root(treeSize).toString('hex'), rootHash)

    const p = (await cli('log', 'prove', '1', '--json')).json<{ index: number; treeSize: number; leafHash: string; rootHash: string; proof: string[] }>()
    assert.equal(p.rootHash, rootHash)
    const computed = rootFromInclusionProof(p.index, p.treeSize, Buffer.from(p.leafHash, 'hex'), p.proof.map((x) => Buffer.from(x, 'hex')))
    assert.equal(computed.toString('hex'), rootHash)
  })

  it('provena verify passes, and an edited export fails naming the checkpoint', async () => {
    const v = await cli('verify', '--json')
    assert.equal(v.code, 0, v.stdout)
    assert.equal(v.json<{ ok: boolean }>().ok, true)
    const info = (await cli('chain', 'info', '--json')).json<{ rpcUrl: string; contracts: { AssetRegistry: string; CheckpointAnchor: string } }>()
    const exported = (await cli('log', 'entries', '--json')).json<{ entries: { index: number; leaf: string }[] }>()
    const file = join(work, 'entries.json')
    writeFileSync(file, JSON.stringify(exported))
    const outside = ['verify', '--entries', file, '--rpc-url', info.rpcUrl, '--anchor', info.contracts.CheckpointAnchor, '--registry', info.contracts.AssetRegistry, '--json']
    assert.equal((await runCli(outside)).code, 0)
    const leaf = JSON.parse(Buffer.from(exported.entries[0]!.leaf, 'base64').toString()) as { asset: { name: string } }
    leaf.asset.name = 'renamed'
    exported.entries[0]!.leaf = Buffer.from(JSON.stringify(leaf)).toString('base64')
    writeFileSync(file, JSON.stringify(exported))
    const bad = await runCli(outside)
    assert.equal(bad.code, 3)
    // The export carries each entry's leaf hash: the edited entry is named first, then the checkpoint.
    const failures = bad.json<{ failures: { code: string; message: string }[] }>().failures
    assert.deepEqual(failures.slice(0, 2).map((f) => f.code), ['VERIFY_LEAF_MISMATCH', 'VERIFY_ROOT_MISMATCH'])
    assert.match(failures[0]!.message, /^log entry 0 \(provena\.asset\.registered\/v1: /)
  })

  it('bad input: one clear line, non-zero exit, nothing written', async () => {
    const size = () => cli('log', 'entries', '--json').then((r) => r.json<{ entries: unknown[] }>().entries.length)
    const before = await size()
    const expectError = async (args: string[], code: number, pattern: RegExp) => {
      const r = await cli(...args)
      assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`)
      assert.match(r.stderr, pattern)
      assert.ok(r.stderr.split('\n').filter(Boolean).length <= 2, r.stderr)
    }
    await expectError(['dataset', 'register', join(work, 'nope.csv')], 1, /cannot read .*nope\.csv: no such file/)
    writeFileSync(join(work, 'empty.csv'), '')
    await expectError(['dataset', 'register', join(work, 'empty.csv')], 1, /empty\.csv holds no records/)
    writeFileSync(join(work, 'ragged.csv'), 'a,b\n1,2\n3,4,5\n')
    await expectError(['dataset', 'register', join(work, 'ragged.csv')], 1, /ragged\.csv:3: ragged row/)
    writeFileSync(join(work, 'bad.jsonl'), '{"a":1}\n{"a":}\n')
    await expectError(['dataset', 'register', join(work, 'bad.jsonl')], 1, /bad\.jsonl:2: invalid JSON/)
    await expectError(['lineage', 'abcdef123456'], 1, /no asset abcdef123456/)
    await expectError(['model', 'register', join(work, 'model.bin'), '--trained-on', 'ffffff'], 1, /no asset ffffff/)
    await expectError(['dataset', 'register', CSV.replace('.csv', '.jsonl')], 1, /cannot read/)
    writeFileSync(join(work, 'other.csv'), 'x,y\n1,2\n')
    await expectError(['dataset', 'register', join(work, 'other.csv'), '--rpc-url', 'http://127.0.0.1:9'], 4, /cannot reach the EVM node at http:\/\/127\.0\.0\.1:9/)
    assert.equal(await size(), before)
    const json = await cli('dataset', 'register', join(work, 'ragged.csv'), '--json')
    assert.equal(json.json<{ ok: boolean; error: { code: string; details: { line: number } } }>().error.code, 'REGISTRY_PARSE')
    assert.equal(json.json<{ error: { details: { line: number } } }>().error.details.line, 3)
  })

  it('a contract call that reverts (parent unknown on another chain) leaves nothing half-registered', async () => {
    const other = await startTestChain()
    try {
      writeFileSync(join(work, 'model2.bin'), Buffer.from('another model'))
      const before = (await cli('log', 'entries', '--json')).json<{ entries: unknown[] }>().entries.length
      const r = await cli('model', 'register', join(work, 'model2.bin'), '--trained-on', datasetId, '--rpc-url', other.rpcUrl)
      assert.equal(r.code, 1)
      assert.match(r.stderr, /reverted with AssetRegistryUnknownParent/)
      assert.equal((await cli('log', 'entries', '--json')).json<{ entries: unknown[] }>().entries.length, before)
      assert.equal((await cli('lineage', datasetId, '--json')).json<{ nodes: unknown[] }>().nodes.length, 2)
    } finally {
      await other.stop()
    }
  })

  it('chain deploy --rpc-url puts the contracts on an external node; PROVENA_RPC_URL then sends every command there', async () => {
    const external = await startTestChain()
    try {
      const d = await cli('chain', 'deploy', '--rpc-url', external.rpcUrl, '--json')
      assert.equal(d.code, 0, d.stderr)
      const info = d.json<{ rpcUrl: string; embedded: boolean; contracts: { CheckpointAnchor: string } }>()
      assert.equal(info.rpcUrl, external.rpcUrl)
      assert.equal(info.embedded, false)
      const env = { PROVENA_RPC_URL: external.rpcUrl }
      writeFileSync(join(work, 'external.csv'), 'id,v\n1,2\n')
      const r = await runCli(['dataset', 'register', join(work, 'external.csv'), '--json', '--dir', dir], env)
      assert.equal(r.code, 0, r.stderr)
      const v = await runCli(['verify', '--json', '--dir', dir], env)
      assert.equal(v.code, 0, v.stdout)
      // A fresh deployment on this chain: its anchor holds the whole log, its registry only this dataset.
      assert.equal(v.json<{ assetsOnChain: number }>().assetsOnChain, 1)
      const again = await runCli(['chain', 'info', '--json', '--dir', dir], env)
      assert.equal(again.json<{ contracts: { CheckpointAnchor: string } }>().contracts.CheckpointAnchor, info.contracts.CheckpointAnchor, 'deployed once')
    } finally {
      await external.stop()
    }
  })

  it('refuses a data dir written by a newer version', async () => {
    const copy = mkdtempSync(join(tmpdir(), 'provena-newer-'))
    cpSync(dir, copy, { recursive: true, filter: (src) => !src.includes(`${join(dir, 'node')}`) })
    const db = new Database(join(copy, 'provena.db'))
    db.pragma('user_version = 999')
    db.close()
    const r = await runCli(['log', 'entries', '--dir', copy])
    assert.equal(r.code, 1)
    assert.match(r.stderr, new RegExp(`schema version 999; this Provena knows versions up to ${LATEST_SCHEMA_VERSION}`))
  })
})
