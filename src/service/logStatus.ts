import type { Provena } from '../app/index.js'
import { readLatestAnchor, type ChainClient, type Deployment } from '../chain/index.js'
import { latestCheckpoint } from '../log/index.js'

/** The log's state: `provena log show` and GET /v1/log. */
export interface LogStatus {
  origin: string
  treeSize: number
  checkpoint: { treeSize: number; rootHash: string; note: string; createdAt: string } | null
  anchored: { treeSize: number; rootHash: string; anchor: string; chainId: number }
}

/** The log's size, its latest signed checkpoint and what CheckpointAnchor.latest() holds on the chain now. */
export async function logStatus(p: Provena, chain: { client: ChainClient; deployment: Deployment }): Promise<LogStatus> {
  const c = latestCheckpoint(p.db)
  const anchored = await readLatestAnchor(chain.client.publicClient, chain.deployment.CheckpointAnchor)
  return {
    origin: p.signer.origin,
    treeSize: p.log.size(),
    checkpoint: c ? { treeSize: c.treeSize, rootHash: c.rootHash.toString('hex'), note: c.note, createdAt: new Date(c.createdAt).toISOString() } : null,
    anchored: { treeSize: anchored.treeSize, rootHash: anchored.rootHash.toString('hex'), anchor: chain.deployment.CheckpointAnchor, chainId: chain.client.chainId },
  }
}
