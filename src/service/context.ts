import type { DataPlaneContext } from '../access/index.js'
import type { ChainSession, Provena } from '../app/index.js'

/** What a service operation that writes runs against: the open data dir and its chain session. */
export interface NodeContext {
  p: Provena
  chain: ChainSession
}

/**
 * What a service operation on encrypted data runs against: the open data dir, its chain
 * session and the data plane (block store). The CLI opens them today; the HTTP API will
 * hold them for its lifetime.
 */
export interface ServiceContext extends NodeContext {
  plane: DataPlaneContext
}
