import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import fc from 'fast-check'
import type { Hex } from 'viem'
import { generatePrivateKey } from 'viem/accounts'
import { CheckpointAnchorAbi, ConsentVerifierAbi, connectChain, deployContract, ensureFunded, type ChainClient } from '../chain/index.js'
import { LeavesNode, proveKey, sortLeaves, type MapProof } from '../log/index.js'
import { startTestChain } from '../testing.js'
import { consentKey, toSolidityMapProof, verifyAbsent, verifyAbsentOnChain, verifyPresent, verifyPresentOnChain } from './index.js'

const sha = (s: string) => createHash('sha256').update(s).digest()
const hex = (b: Uint8Array) => `0x${Buffer.from(b).toString('hex')}` as Hex
const ZERO = '00'.repeat(32)

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
    const hash = await c.walletClient.writeContract({ address: anchor, abi: CheckpointAnchorAbi, functionName: 'anchor', args: [1n, hex(sha('log root')), hex(mapRoot), [], '0x', '0x'], account: c.account, chain: c.chain })
    await c.publicClient.waitForTransactionReceipt({ hash })
  })
  after(async () => chain.stop())

  /** Both verifiers on one question; they must agree, and give `expect`. */
  const check = async (q: { present: true; key: string; value: string; proof: MapProof } | { present: false; key: string; proof: MapProof }, expect: boolean, what: string) => {
    const off = q.present ? verifyPresent(mapRoot, q.key, q.value, q.proof) : verifyAbsent(mapRoot, q.key, q.proof)
    const on = q.present ? await verifyPresentOnChain(c.publicClient, verifier, q.key, q.value, q.proof) : await verifyAbsentOnChain(c.publicClient, verifier, q.key, q.proof)
    assert.equal(off, expect, `off-chain, ${what}`)
    assert.equal(on, expect, `on-chain, ${what}`)
  }

  it('present keys, absent keys (empty end or another leaf), and tampered proofs (property)', async () => {
    let otherLeaf = 0
    await fc.assert(
      fc.asyncProperty(fc.nat(entries.length - 1), fc.string(), fc.nat(), async (i, absent, bit) => {
        const present = proveKey(root, entries[i]![0])
        const key = present.key
        const value = present.value!
        const missing = proveKey(root, sha(`absent ${absent}`))
        if (missing.leaf) otherLeaf++
        const flipped = JSON.parse(JSON.stringify(present)) as MapProof
        const s = Buffer.from(flipped.siblings[bit % flipped.siblings.length]!, 'hex')
        s[bit % 32]! ^= 1 << (bit % 8)
        flipped.siblings[bit % flipped.siblings.length] = s.toString('hex')
        await check({ present: true, key, value, proof: present }, true, 'a present key')
        await check({ present: true, key, value: missing.key, proof: present }, false, 'a present key with another value')
        await check({ present: false, key, proof: present }, false, 'a present key claimed absent')
        await check({ present: false, key: missing.key, proof: missing }, true, 'an absent key')
        await check({ present: true, key: missing.key, proof: missing, value }, false, 'an absence proof passed as presence')
        await check({ present: true, key: missing.key, proof: missing, value: ZERO }, false, 'an absence proof with a zero value')
        await check({ present: false, key, proof: missing }, false, "an absence proof for another key")
        await check({ present: true, key, value, proof: flipped }, false, 'a tampered sibling')
      }),
      { numRuns: 15, seed: 12 },
    )
    assert.ok(otherLeaf > 0, 'absence proofs ending in another leaf were exercised')
  })

  it('verifyLatest is gone: an absence proof never reads as consent (issue 12)', async () => {
    const missing = proveKey(root, sha('nobody'))
    const names = ConsentVerifierAbi.filter((x) => x.type === 'function').map((x) => x.name)
    assert.ok(!names.includes('verifyLatest' as never))
    await check({ present: false, key: missing.key, proof: missing }, true, 'the absence itself')
    for (const value of [ZERO, sha('any record').toString('hex')]) await check({ present: true, key: missing.key, value, proof: missing }, false, 'consent read from an absence proof')
  })

  it('the contract computes the consent map key as the off-chain code does', async () => {
    const pseudonym = sha('a pseudonym').toString('hex')
    const key = await c.publicClient.readContract({ address: verifier, abi: ConsentVerifierAbi, functionName: 'consentKey', args: [`0x${pseudonym}`, 'dpv:ScientificResearch'] })
    assert.equal(key, hex(consentKey(pseudonym, 'dpv:ScientificResearch')))
  })

  it('rejects a malformed proof (bitmap and siblings disagree) with its custom error; reports the gas of verifyPresent', async () => {
    const present = proveKey(root, entries[0]![0])
    const p = toSolidityMapProof(present)
    await assert.rejects(
      c.publicClient.readContract({ address: verifier, abi: ConsentVerifierAbi, functionName: 'presentRoot', args: [`0x${present.key}`, `0x${present.value}`, { ...p, siblings: p.siblings.slice(1) }] }),
      /ConsentVerifierMalformedProof/,
    )
    assert.equal(await c.publicClient.readContract({ address: verifier, abi: ConsentVerifierAbi, functionName: 'presentRoot', args: [`0x${present.key}`, `0x${present.value}`, p] }), hex(mapRoot))
    const gas = await c.publicClient.estimateContractGas({ address: verifier, abi: ConsentVerifierAbi, functionName: 'verifyPresent', args: [`0x${present.key}`, `0x${present.value}`, p], account: c.account })
    console.log(`# gas of ConsentVerifier.verifyPresent, ${present.siblings.length} siblings, as a transaction: ${gas}`)
    assert.ok(gas < 120_000n, `verifyPresent costs ${gas} gas`)
  })
})
