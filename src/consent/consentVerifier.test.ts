import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import fc from 'fast-check'
import type { Hex } from 'viem'
import { generatePrivateKey } from 'viem/accounts'
import { CheckpointAnchorAbi, ConsentVerifierAbi, connectChain, deployContract, ensureFunded, type ChainClient } from '../chain/index.js'
import { LeavesNode, proveKey, sortLeaves, verifyMapProof, type MapProof } from '../log/index.js'
import { startTestChain } from '../testing.js'
import { toSolidityMapProof, verifyOnChain } from './index.js'

const sha = (s: string) => createHash('sha256').update(s).digest()
const hex = (b: Uint8Array) => `0x${Buffer.from(b).toString('hex')}` as Hex

describe('ConsentVerifier agrees with the off-chain verifier on the same proofs', () => {
  let chain: Awaited<ReturnType<typeof startTestChain>>
  let c: ChainClient
  let verifier: Hex
  const entries = Array.from({ length: 2000 }, (_, i) => [sha(`key ${i}`), sha(`value ${i}`)] as [Buffer, Buffer])
  const leaves = sortLeaves(entries)
  const root = new LeavesNode(leaves, 0, leaves.keys.length, 0)
  const mapRoot = root.hash()
  before(async () => {
    chain = await startTestChain()
    c = await connectChain(chain.rpcUrl, generatePrivateKey())
    await ensureFunded(c)
    const anchor = (await deployContract(c, 'CheckpointAnchor', [c.account.address, hex(Buffer.alloc(32, 1)), 'test/log'])).address
    verifier = (await deployContract(c, 'ConsentVerifier', [anchor])).address
    const hash = await c.walletClient.writeContract({ address: anchor, abi: CheckpointAnchorAbi, functionName: 'anchor', args: [1n, hex(sha('log root')), hex(mapRoot), [], '0x'], account: c.account, chain: c.chain })
    await c.publicClient.waitForTransactionReceipt({ hash })
  })
  after(async () => chain.stop())

  it('present keys, absent keys (empty end or another leaf), and tampered proofs (property)', async () => {
    const cases: { proof: MapProof; expect: boolean }[] = []
    await fc.assert(
      fc.asyncProperty(fc.nat(entries.length - 1), fc.string(), fc.nat(), async (i, absent, bit) => {
        const present = proveKey(root, entries[i]![0])
        const missing = proveKey(root, sha(`absent ${absent}`))
        const flipped = JSON.parse(JSON.stringify(present)) as MapProof
        const s = Buffer.from(flipped.siblings[bit % flipped.siblings.length]!, 'hex')
        s[bit % 32]! ^= 1 << (bit % 8)
        flipped.siblings[bit % flipped.siblings.length] = s.toString('hex')
        for (const [proof, expect] of [
          [present, true],
          [missing, true],
          [flipped, false],
          [{ ...missing, value: present.value }, false],
        ] as const) {
          assert.equal(verifyMapProof(mapRoot, proof), expect)
          assert.equal(await verifyOnChain(c.publicClient, verifier, proof), expect)
          cases.push({ proof, expect })
        }
      }),
      { numRuns: 15 },
    )
    assert.ok(cases.some((x) => x.proof.leaf !== undefined) || cases.some((x) => x.proof.value === null), 'absent keys were exercised')
  })

  it('rejects a malformed proof (bitmap and siblings disagree) with its custom error', async () => {
    const p = toSolidityMapProof(proveKey(root, entries[0]![0]))
    await assert.rejects(
      c.publicClient.readContract({ address: verifier, abi: ConsentVerifierAbi, functionName: 'rootOf', args: [{ ...p, siblings: p.siblings.slice(1) }] }),
      /ConsentVerifierMalformedProof/,
    )
  })
})
