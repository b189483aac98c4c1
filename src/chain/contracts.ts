import type { Abi, Address, Hex } from 'viem'
import {
  AccessPolicyAbi,
  AccessPolicyBytecode,
  AssetRegistryAbi,
  AssetRegistryBytecode,
  CheckpointAnchorAbi,
  CheckpointAnchorBytecode,
  ConsentVerifierAbi,
  ConsentVerifierBytecode,
  FederatedTrainingAbi,
  FederatedTrainingBytecode,
  PerEntryLogAbi,
  PerEntryLogBytecode,
} from './artifacts.generated.js'

export { AccessPolicyAbi, AssetRegistryAbi, CheckpointAnchorAbi, ConsentVerifierAbi, FederatedTrainingAbi, PerEntryLogAbi }

/** The contracts Provena deploys, by name. */
export const CONTRACTS = {
  AccessPolicy: { abi: AccessPolicyAbi as Abi, bytecode: AccessPolicyBytecode as Hex },
  AssetRegistry: { abi: AssetRegistryAbi as Abi, bytecode: AssetRegistryBytecode as Hex },
  CheckpointAnchor: { abi: CheckpointAnchorAbi as Abi, bytecode: CheckpointAnchorBytecode as Hex },
  ConsentVerifier: { abi: ConsentVerifierAbi as Abi, bytecode: ConsentVerifierBytecode as Hex },
  FederatedTraining: { abi: FederatedTrainingAbi as Abi, bytecode: FederatedTrainingBytecode as Hex },
  PerEntryLog: { abi: PerEntryLogAbi as Abi, bytecode: PerEntryLogBytecode as Hex },
} as const

export type ContractName = keyof typeof CONTRACTS

/** Addresses of a deployment of the core contracts. */
export interface Deployment {
  chainId: number
  AssetRegistry: Address
  CheckpointAnchor: Address
  AccessPolicy: Address
  ConsentVerifier: Address
  FederatedTraining: Address
  /** Block where the first contract was deployed: where event scans start. */
  fromBlock: bigint
}

/** AssetRegistry.Kind, in contract order. */
export const ASSET_KINDS = ['dataset', 'model', 'artifact'] as const
export type AssetKind = (typeof ASSET_KINDS)[number]
