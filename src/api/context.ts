import type { DataPlaneContext } from '../access/index.js'
import type { ChainSession, Provena } from '../app/index.js'
import type { Authenticator } from './auth.js'

/** What the HTTP API runs against: the open data dir, its chain session, and how it checks credentials. */
export interface ApiContext {
  /** The open data dir (database, log, operator identity). */
  p: Provena
  /** Its chain session, open for the server's lifetime. */
  chain: ChainSession
  /** The data plane (block store), for key releases and segments; routes that need it refuse without. */
  plane?: DataPlaneContext | undefined
  /** The data dir's path. */
  dir: string
  /**
   * The passphrase that unlocks the data dir's identities (PROVENA_PASSPHRASE for
   * `provena serve`): a route acting as a token's identity (a controller recording
   * consent) unlocks it with this, once.
   */
  passphrase?: string | undefined
  /** Credential kinds, tried in order (default: API tokens only). Signed node-to-node requests are another. */
  authenticators?: readonly Authenticator[] | undefined
  /**
   * The node's public base URL (`http://127.0.0.1:8080`; its origin is what counts): a
   * signed member request must be signed for it (RFC 9421 @target-uri), so one signed for
   * another node is refused here. `provena serve` sets it to the URL it listens at.
   * Without it, member requests are refused (API_MEMBER_NO_ORIGIN).
   */
  origin?: string | undefined
  /** Largest request body in bytes (default 1 MiB). */
  bodyLimit?: number | undefined
  /** The clock (tests). */
  now?: (() => number) | undefined
}

export type { Authenticator }
