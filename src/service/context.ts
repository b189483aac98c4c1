import type { DataPlaneContext } from '../access/index.js'
import type { ChainSession, Provena } from '../app/index.js'

/**
 * What a service operation runs against: the open data dir, its chain session and the data
 * plane (block store). The CLI opens them today; the HTTP API will hold them for its lifetime.
 */
export interface ServiceContext {
  p: Provena
  chain: ChainSession
  plane: DataPlaneContext
}
