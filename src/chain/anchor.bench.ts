// Anchoring on the embedded chain: gas per entry of one checkpoint transaction that covers
// 10,000 (and 1,000,000) entries with an on-chain RFC 9162 consistency proof, against the
// naive design of one transaction per entry (PerEntryLog), measured on the same node.
import { type Address, type Hex } from 'viem'
import { generatePrivateKey } from 'viem/accounts'
import { progress, report, time } from '../bench/harness.js'
import { consistencyProof, hashLeaf, MemoryNodes } from '../log/index.js'
import { startTestChain } from '../testing.js'
import { CheckpointAnchorAbi, connectChain, deployContract, ensureFunded, PerEntryLogAbi, type ChainClient } from './index.js'

const h = (b: Buffer): Hex => `0x${b.toString('hex')}`
const chain = await startTestChain()
try {
  const client = await connectChain(chain.rpcUrl, generatePrivateKey())
  await ensureFunded(client)
  const anchorAddress = (await deployContract(client, 'CheckpointAnchor', [client.account.address, h(Buffer.alloc(32, 1)), 'bench/log'])).address
  const nodes = new MemoryNodes()
  const grow = (to: number) => {
    for (let i = nodes.size; i < to; i++) nodes.append(hashLeaf(Buffer.from(`{"type":"provena.bench/v1","index":${i}}`)))
  }
  const anchor = async (c: ChainClient, address: Address, from: number, to: number) => {
    const hash = await c.walletClient.writeContract({
      address,
      abi: CheckpointAnchorAbi,
      functionName: 'anchor',
      args: [BigInt(to), h(nodes.root(to)), h(Buffer.alloc(32)), from ? consistencyProof(nodes, from, to).map(h) : [], h(Buffer.alloc(64, 7)), '0x'],
      account: c.account,
      chain: c.chain,
    })
    return c.publicClient.waitForTransactionReceipt({ hash })
  }

  progress('checkpoint anchoring: 10,000 entries a checkpoint')
  grow(10_000)
  await anchor(client, anchorAddress, 0, 10_000)
  grow(20_000)
  let gas10k = 0n
  const tAnchor = await time(async () => {
    gas10k = (await anchor(client, anchorAddress, 10_000, 20_000)).gasUsed
  })
  const proofLen10k = consistencyProof(nodes, 10_000, 20_000).length
  progress('checkpoint anchoring: 1,000,000 entries in one checkpoint')
  grow(1_020_000)
  const gas1m = (await anchor(client, anchorAddress, 20_000, 1_020_000)).gasUsed
  const proofLen1m = consistencyProof(nodes, 20_000, 1_020_000).length

  progress('naive design: one transaction per entry (PerEntryLog.append), 300 entries')
  const naive = (await deployContract(client, 'PerEntryLog', [])).address
  const K = 300
  let gasNaive = 0n
  const tNaive = await time(async () => {
    let nonce = await client.publicClient.getTransactionCount({ address: client.account.address, blockTag: 'pending' })
    const hashes: Hex[] = []
    for (let i = 0; i < K; i++) {
      hashes.push(
        await client.walletClient.writeContract({ address: naive, abi: PerEntryLogAbi, functionName: 'append', args: [h(nodes.node(0, i))], account: client.account, chain: client.chain, nonce: nonce++, gas: 120_000n }),
      )
    }
    for (const hash of hashes) gasNaive += (await client.publicClient.waitForTransactionReceipt({ hash })).gasUsed
  })
  const perEntryNaive = Number(gasNaive) / K
  report({
    name: 'gas per entry: one checkpoint covering 10,000 entries',
    value: Number(gas10k) / 10_000,
    unit: 'gas/entry',
    baseline: { name: 'one transaction per entry (PerEntryLog)', value: perEntryNaive, unit: 'gas/entry' },
    ratio: perEntryNaive / (Number(gas10k) / 10_000),
    target: 'one checkpoint transaction covers >= 10,000 entries',
    note: `checkpoint tx ${gas10k} gas with a ${proofLen10k}-hash consistency proof verified on-chain; a 1,000,000-entry checkpoint: ${gas1m} gas (${proofLen1m}-hash proof), ${(Number(gas1m) / 1e6).toFixed(3)} gas/entry; ratio = per-entry gas ÷ checkpoint gas per entry`,
  })
  report({
    name: 'anchoring throughput on the embedded chain (10,000 entries a checkpoint)',
    value: 10_000 / tAnchor,
    unit: 'entries/s',
    baseline: { name: 'one transaction per entry, pipelined', value: K / tNaive, unit: 'entries/s' },
    ratio: tNaive / K / (tAnchor / 10_000),
    note: `one checkpoint transaction took ${(tAnchor * 1000).toFixed(0)} ms from send to receipt`,
  })
} finally {
  await chain.stop()
}
