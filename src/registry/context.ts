import type { OutboxContext } from '../chain/index.js'
import type { Db } from '../db/index.js'
import type { LogSigner, SqliteLog } from '../log/index.js'

/** What registry operations need: the database, the log, the operator and the chain. */
export interface RegistryContext {
  db: Db
  log: SqliteLog
  signer: LogSigner
  operatorDid: string
}

/** A RegistryContext with a chain connection, for writes. */
export interface RegistryWriteContext extends RegistryContext {
  outbox: OutboxContext
}

/** The log entry of a registration (RFC 8785 JSON; the leaf bytes of the log). */
export interface AssetRegisteredEvent {
  type: 'provena.asset.registered/v1'
  actor: string
  time: string
  asset: {
    id: string
    kind: string
    name: string
    root: string
    metadataDigest: string
    parents: string[]
    records?: number
  }
}

export const ASSET_REGISTERED = 'provena.asset.registered/v1'
