// The on-chain spot check: a consent-map proof in the form ConsentVerifier takes, and the
// off-chain twins of its verifyPresent and verifyAbsent (they agree on every proof).
import type { Address, Hex, PublicClient } from 'viem'
import { ConsentVerifierAbi } from '../chain/index.js'
import { verifyMapProof, type MapProof } from '../log/index.js'

/** ConsentVerifier.MapProof (the path part of a proof), from an off-chain single-key proof. */
export interface SolidityMapProof {
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
    depth: BigInt(p.bitmap.length),
    bitmap,
    siblings: p.siblings.map(h),
    hasOtherLeaf: p.leaf !== undefined,
    otherKey: p.leaf ? h(p.leaf.key) : ZERO,
    otherValue: p.leaf ? h(p.leaf.value) : ZERO,
  }
}

const sameHex = (a: string, b: string) => a.replace(/^0x/, '').toLowerCase() === b.replace(/^0x/, '').toLowerCase()

/** Off-chain ConsentVerifier.verifyPresent: `proof` shows `key` mapped to `value` (hex) under `mapRoot`. */
export function verifyPresent(mapRoot: Uint8Array, key: string, value: string, proof: MapProof): boolean {
  if (/^(0x)?0{64}$/.test(value)) return false
  return sameHex(proof.key, key) && proof.value !== null && sameHex(proof.value, value) && verifyMapProof(mapRoot, proof)
}

/** Off-chain ConsentVerifier.verifyAbsent: `proof` shows `key` (hex) absent under `mapRoot`. */
export function verifyAbsent(mapRoot: Uint8Array, key: string, proof: MapProof): boolean {
  return sameHex(proof.key, key) && proof.value === null && verifyMapProof(mapRoot, proof)
}

/** ConsentVerifier.verifyPresent: does the latest anchored map root map `key` to `value`? */
export async function verifyPresentOnChain(client: PublicClient, verifier: Address, key: string, value: string, proof: MapProof): Promise<boolean> {
  return (await client.readContract({ address: verifier, abi: ConsentVerifierAbi, functionName: 'verifyPresent', args: [h(key.replace(/^0x/, '')), h(value.replace(/^0x/, '')), toSolidityMapProof(proof)] })) as boolean
}

/** ConsentVerifier.verifyAbsent: does the latest anchored map root hold no value for `key`? */
export async function verifyAbsentOnChain(client: PublicClient, verifier: Address, key: string, proof: MapProof): Promise<boolean> {
  return (await client.readContract({ address: verifier, abi: ConsentVerifierAbi, functionName: 'verifyAbsent', args: [h(key.replace(/^0x/, '')), toSolidityMapProof(proof)] })) as boolean
}

/**
 * What the proof claims, checked on-chain under the latest anchored map root: its key
 * mapped to its value (verifyPresent), or absent when its value is null (verifyAbsent).
 */
export async function verifyOnChain(client: PublicClient, verifier: Address, p: MapProof): Promise<boolean> {
  return p.value === null ? verifyAbsentOnChain(client, verifier, p.key, p) : verifyPresentOnChain(client, verifier, p.key, p.value, p)
}
