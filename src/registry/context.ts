import type { OutboxContext } from '../chain/index.js'
import type { DsseEnvelope } from '../crypto/index.js'
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
  /**
   * For a model or artifact: its signed provenance (a DSSE envelope of an in-toto
   * Statement), whose SHA-256 over RFC 8785 JSON is the metadata digest. In the log so that
   * an outsider checks lineage from the exported entries alone.
   */
  statement?: DsseEnvelope
}

export const ASSET_REGISTERED = 'provena.asset.registered/v1'
