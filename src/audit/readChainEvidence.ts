import type { Address, PublicClient } from 'viem'
import { readAnchoredCheckpoints, readLogInfo, readRegisteredAssets } from '../chain/index.js'
import type { VerifyInput } from './verifyLog.js'

/**
 * Reads from the chain what the verifier needs: the log identity, checkpoints and
 * registrations. The AssetRegistry may be a consortium's, shared by every member's node:
 * only the assets the log's operator registered belong to this log.
 */
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
  const operator = logInfo.operator.toLowerCase()
  return { logInfo, checkpoints, assets: assets.filter((a) => a.owner.toLowerCase() === operator) }
}
