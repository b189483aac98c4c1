import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fromRlp, getAddress } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { runCli } from '../testing.js'

const addr = () => privateKeyToAccount(generatePrivateKey()).address

/** The genesis' extraData decoded with viem's RLP alone (not the code under test). */
function decodeExtraData(extraData: `0x${string}`) {
  const [vanity, validators, vote, round, seals, ...rest] = fromRlp(extraData, 'hex') as unknown as [string, string[], unknown[], string, unknown[]]
  assert.equal(rest.length, 0, 'five fields')
  return { vanity, validators, vote, round, seals }
}

// `provena consortium besu` and `consortium create --besu DIR` (issue 13, production notes):
// a Besu QBFT network's files. Besu itself is not installed here: the files are checked for
// what Besu reads (the QBFT fields, the validators in extraData), not run.
describe('a Besu QBFT network for the consortium (consortium besu, consortium create --besu)', () => {
  const work = mkdtempSync(join(tmpdir(), 'provena-besu-'))
  const A = join(work, 'A')
  before(async () => {
    assert.equal((await runCli(['init', '--dir', A])).code, 0)
  })
  after(async () => {
    await runCli(['node', 'stop', '--dir', A])
  })

  it('writes genesis.json whose extraData decodes to the validators, the QBFT settings, a config.toml per member and a README', async () => {
    const v = [addr(), addr(), addr(), addr()]
    const out = join(work, 'net')
    const r = await runCli(['consortium', 'besu', '--out', out, '--chain-id', '2026', '--validator', `hospital-a=${v[0]}`, '--validator', `lab-b=${v[1]!.toLowerCase()}`, '--validator', `clinic-c=${v[2]}`, '--validator', `coordinator=${v[3]}`, '--block-period', '3', '--dir', A, '--json'])
    assert.equal(r.code, 0, r.stderr)
    const genesis = JSON.parse(readFileSync(join(out, 'genesis.json'), 'utf8'))
    assert.equal(genesis.config.chainId, 2026)
    assert.deepEqual(genesis.config.qbft, { blockperiodseconds: 3, epochlength: 30000, requesttimeoutseconds: 10 })
    assert.equal(genesis.mixHash, '0x63746963616c2062797a616e74696e65206661756c7420746f6c6572616e6365')
    assert.equal(genesis.difficulty, '0x1')
    const x = decodeExtraData(genesis.extraData)
    assert.equal(x.vanity, `0x${'00'.repeat(32)}`)
    assert.deepEqual(x.validators.map((a) => getAddress(a)), v)
    assert.deepEqual(x.vote, [])
    assert.equal(x.round, '0x')
    assert.deepEqual(x.seals, [])
    // The encoding Besu's own docs show for QBFT: 0xf87a a0<vanity> f854 (4 × 94<address>) c0 80 c0.
    assert.match(genesis.extraData, new RegExp(`^0xf87aa0${'00'.repeat(32)}f854${v.map((a) => `94${a.slice(2).toLowerCase()}`).join('')}c080c0$`))
    for (const [i, name] of ['hospital-a', 'lab-b', 'clinic-c', 'coordinator'].entries()) {
      const toml = readFileSync(join(out, name, 'config.toml'), 'utf8')
      assert.match(toml, new RegExp(`^p2p-port=${30303 + i}$`, 'm'))
      assert.match(toml, new RegExp(`^rpc-http-port=${8545 + i}$`, 'm'))
      assert.match(toml, /^min-gas-price=0$/m)
      assert.match(toml, /^genesis-file="genesis.json"$/m)
      assert.match(toml, /permissions-nodes-config-file-enabled/)
    }
    const readme = readFileSync(join(out, 'README.txt'), 'utf8')
    assert.match(readme, /besu --config-file=config\.toml/)
    assert.match(readme, /with 4, the network keeps going with 1 down/)
    // Written once: a second run refuses to overwrite.
    const again = await runCli(['consortium', 'besu', '--out', out, '--chain-id', '2026', '--validator', `hospital-a=${v[0]}`, '--dir', A])
    assert.equal(again.code, 1, again.stderr)
    assert.match(again.stderr, /genesis\.json exists/)
  })

  it('refuses a bad validator naming it, nothing written', async () => {
    const out = join(work, 'bad')
    for (const [args, why] of [
      [['--validator', 'lab-b=0x1234'], /"0x1234" is not an EVM address/],
      [[], /needs its validators/],
      [['--validator', `a=${addr()}`, '--validator', `a=${addr()}`], /named twice/],
      [['--validator', 'lab-b'], /no member "lab-b"/],
    ] as const) {
      const r = await runCli(['consortium', 'besu', '--out', out, '--chain-id', '7', ...args, '--dir', A])
      assert.equal(r.code, 2, r.stderr)
      assert.match(r.stderr, why)
    }
    assert.throws(() => readFileSync(join(out, 'genesis.json')))
  })

  it('consortium create --besu DIR: the network of the consortium\'s chain id, a member named alone takes its address from the file', async () => {
    assert.equal((await runCli(['identity', 'create', 'hospital-a', '--role', 'controller', '--dir', A])).code, 0)
    const lab = addr()
    const out = join(work, 'created')
    const r = await runCli(['consortium', 'create', '--out', join(work, 'consortium.json'), '--besu', out, '--validator', 'hospital-a', '--validator', `lab-b=${lab}`, '--dir', A, '--json'])
    assert.equal(r.code, 0, r.stderr)
    const c = r.json<{ chainId: number; members: { name: string; address: string }[]; besu: { files: string[] } }>()
    assert.equal(c.besu.files.length, 4)
    const genesis = JSON.parse(readFileSync(join(out, 'genesis.json'), 'utf8'))
    assert.equal(genesis.config.chainId, c.chainId)
    const me = c.members.find((m) => m.name === 'hospital-a')!
    assert.deepEqual(decodeExtraData(genesis.extraData).validators.map((a) => getAddress(a)), [getAddress(me.address), lab])
  })
})
