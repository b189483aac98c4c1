import type { OutboxContext } from '../chain/index.js'
import type { Db } from '../db/index.js'
import { LOG_EVENT, type LogSigner, type SqliteLog } from '../log/index.js'

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

/** The log entry of a registration: one event of the log's typed union (log/events.ts). */
export type { AssetRegisteredEvent } from '../log/index.js'
export const ASSET_REGISTERED = LOG_EVENT.assetRegistered
