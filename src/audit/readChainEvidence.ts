import type { Address, PublicClient } from 'viem'
import { readAnchoredCheckpoints, readLogInfo, readRegisteredAssets } from '../chain/index.js'
import type { VerifyInput } from './verifyLog.js'

/** Reads from the chain what the verifier needs: the log identity, checkpoints and registrations. */
export async function readChainEvidence(
  client: PublicClient,
  contracts: { CheckpointAnchor: Address; AssetRegistry: Address },
  fromBlock = 0n,
): Promise<Omit<VerifyInput, 'entries'>> {
  const [logInfo, checkpoints, assets] = await Promise.all([
    readLogInfo(client, contracts.CheckpointAnchor),
    readAnchoredCheckpoints(client, contracts.CheckpointAnchor, fromBlock),
    readRegisteredAssets(client, contracts.AssetRegistry, fromBlock),
  ])
  return { logInfo, checkpoints, assets }
}
