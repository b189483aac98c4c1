// The on-chain spot check: a consent-map proof in the form ConsentVerifier takes.
import type { Address, Hex, PublicClient } from 'viem'
import { ConsentVerifierAbi } from '../chain/index.js'
import type { MapProof } from '../log/index.js'

/** ConsentVerifier.MapProof, from an off-chain single-key proof. */
export interface SolidityMapProof {
  key: Hex
  value: Hex
  depth: bigint
  bitmap: bigint
  siblings: Hex[]
  hasOtherLeaf: boolean
  otherKey: Hex
  otherValue: Hex
}

const ZERO = `0x${'00'.repeat(32)}` as Hex
const h = (x: string) => `0x${x}` as Hex

export function toSolidityMapProof(p: MapProof): SolidityMapProof {
  let bitmap = 0n
  for (let d = 0; d < p.bitmap.length; d++) if (p.bitmap[d] === '1') bitmap |= 1n << BigInt(d)
  return {
    key: h(p.key),
    value: p.value === null ? ZERO : h(p.value),
    depth: BigInt(p.bitmap.length),
    bitmap,
    siblings: p.siblings.map(h),
    hasOtherLeaf: p.leaf !== undefined,
    otherKey: p.leaf ? h(p.leaf.key) : ZERO,
    otherValue: p.leaf ? h(p.leaf.value) : ZERO,
  }
}

/** ConsentVerifier.verifyLatest: does the proof hold under the latest anchored map root? */
export async function verifyOnChain(client: PublicClient, verifier: Address, p: MapProof): Promise<boolean> {
  return (await client.readContract({ address: verifier, abi: ConsentVerifierAbi, functionName: 'verifyLatest', args: [toSolidityMapProof(p)] })) as boolean
}
