import type { KeyObject } from 'node:crypto'
import type { Hex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import {
  acquireEmbeddedNode,
  chainErrors,
  connectChain,
  cosignaturesEffect,
  countLostWrites,
  decideWrites,
  enqueueOutbox,
  ensureDeployment,
  ensureFunded,
  findDeployment,
  findOutbox,
  findOutboxByKey,
  flushOutbox,
  listOutboxByKeyPrefix,
  packedKeyIds,
  readLatestAnchor,
  recoverOutbox,
  type ChainClient,
  type Deployment,
  type EmbeddedNodeLease,
  type OutboxContext,
  type OutboxWrite,
} from '../chain/index.js'
import { prepareIdentity, type Identity } from '../access/index.js'
import { cosignaturesAt, gatherCosignatures, memberWitnesses, nodeErrors, packCosignatures, parseCosignatureLine, readPinnedConsortium, type Consortium, type GatherOptions } from '../node/index.js'
import type { FlContext } from '../fl/index.js'
// Loaded for its side effect too: the fl domain registers its chain effects with the
// outbox (access and registry are loaded above), so every session can send every kind.
import '../fl/index.js'
import type { BlobStore } from '../store/index.js'
import { canonicalJson, didKeyFromEd25519, ed25519FromSeed, sha256 } from '../crypto/index.js'
import { openDatabase, type Db } from '../db/index.js'
import { latestCheckpoint, recordCheckpoint, SqliteLog, StoredMap, type LogSigner, type StoredCheckpoint } from '../log/index.js'
import { checkLogAgainstCheckpoints, describeLogDifference } from './checkLog.js'
import { dbPath, operatorKeyOverride, readConfig, readOperatorPublic, restrictDataDir, unlockOperatorKeys, type DataDirConfig } from './dataDir.js'
import { appErrors } from './errors.js'

/**
 * An open data dir: database, log and the operator's identity. The operator key stays
 * sealed until a command first needs it (`signer.privateKey`, `evmPrivateKey`,
 * `unlock()`, `openChain`): reading commands never ask for the passphrase.
 */
export interface Provena {
  dir: string
  config: DataDirConfig
  db: Db
  log: SqliteLog
  /** The log's state map (the consent map): its root goes into every checkpoint. */
  map: StoredMap
  /** The log key: `origin` and `publicKey` are public; reading `privateKey` unlocks the operator key. */
  signer: LogSigner
  /** did:key of the operator's Ed25519 key: the actor of the operator's log entries. */
  operatorDid: string
  /** The operator's EVM account (public: no unlock). */
  operatorAddress: Hex
  /** The operator's EVM key: reading it unlocks the operator key (PROVENA_OPERATOR_KEY when set). */
  readonly evmPrivateKey: Hex
  /** Unlocks the operator key now, asking for the passphrase if the source can; idempotent. */
  unlock(): Promise<void>
  /** The pinned consortium file (DIR/consortium.json), validated; undefined on a lone node. */
  consortium: Consortium | undefined
  close(): void
}

/** Where the passphrase of the operator key comes from. */
export interface OpenOptions {
  /**
   * The passphrase, or a function that gets it (the CLI's: PROVENA_PASSPHRASE, else a
   * terminal prompt). Default: PROVENA_PASSPHRASE. A synchronous first use (a signature
   * before any `unlock()`) takes a string or PROVENA_PASSPHRASE only.
   */
  passphrase?: string | (() => Promise<string>)
}

/** The log's origin line: stable per operator key. */
export function logOrigin(publicKey: Uint8Array): string {
  return `provena.log/${sha256(publicKey).subarray(0, 8).toString('hex')}`
}

/** Opens an initialised data dir (DATADIR_MISSING otherwise), its operator key still sealed. */
export function openProvena(dir: string, opts: OpenOptions = {}): Provena {
  const config = readConfig(dir)
  restrictDataDir(dir)
  const pub = readOperatorPublic(dir)
  const override = operatorKeyOverride()
  const consortium = readPinnedConsortium(dir)
  const db = openDatabase(dbPath(dir))
  let unlocked: { privateKey: KeyObject; evmPrivateKey: Hex } | undefined
  const unlockWith = (passphrase: string) => {
    if (unlocked) return unlocked
    const keys = unlockOperatorKeys(dir, passphrase)
    const pair = ed25519FromSeed(Buffer.from(keys.ed25519Seed, 'hex'))
    if (!pair.publicKeyBytes.equals(pub.logKey)) throw appErrors.badDataDir(dir, 'the operator key changed while the data dir was open')
    unlocked = { privateKey: pair.privateKey, evmPrivateKey: keys.evmPrivateKey }
    return unlocked
  }
  const unlockNow = () => {
    if (unlocked) return unlocked
    const passphrase = typeof opts.passphrase === 'string' ? opts.passphrase : process.env.PROVENA_PASSPHRASE
    if (!passphrase) throw appErrors.operatorLocked()
    return unlockWith(passphrase)
  }
  const origin = logOrigin(pub.logKey)
  return {
    dir,
    config,
    db,
    log: new SqliteLog(db),
    map: new StoredMap(db),
    signer: {
      origin,
      publicKey: pub.logKey,
      get privateKey() {
        return unlockNow().privateKey
      },
    },
    operatorDid: didKeyFromEd25519(pub.logKey),
    operatorAddress: override ? privateKeyToAccount(override).address : pub.address,
    get evmPrivateKey() {
      return override ?? unlockNow().evmPrivateKey
    },
    async unlock() {
      if (unlocked) return
      if (typeof opts.passphrase === 'function') unlockWith(await opts.passphrase())
      else unlockNow()
    },
    consortium,
    close: () => db.close(),
  }
}

/** A live connection to the chain for one data dir. */
export interface ChainSession {
  client: ChainClient
  deployment: Deployment
  outbox: OutboxContext
  /** Whether the embedded node is used (and started by this process if not running). */
  embedded: boolean
  /** Whether contracts were deployed by this session (first use, or a chain that lost its state). */
  deployedNow: boolean
  /** Writes the chain had lost, sent again by this session (after checking the log). */
  replayed: number
  close(): Promise<void>
}

/** The log identity a data dir's CheckpointAnchor is deployed for. */
function logIdentity(p: Provena) {
  return { logKey: `0x${p.signer.publicKey.toString('hex')}` as const, origin: p.signer.origin }
}

/** Whether the pinned consortium lives on this data dir's embedded chain (the admin created it there). */
function consortiumOnEmbeddedChain(p: Provena, c: Consortium): boolean {
  const address = p.db.prepare("SELECT address FROM chain_deployments WHERE chain = 'embedded' AND name = 'AccessPolicy'").pluck().get() as string | undefined
  return address?.toLowerCase() === c.contracts.AccessPolicy.toLowerCase()
}

/**
 * Connects to `rpcUrl`, else PROVENA_RPC_URL, else the data dir's embedded node (started
 * if none runs), signing as `key` (an address alone signs nothing). A consortium member's
 * default chain is its pinned file's rpcUrl (the admin's: its embedded node, when it
 * created the consortium there); whatever the URL, the chain id must be the pinned one.
 */
async function connect(p: Provena, rpcUrl: string | undefined, key: Hex | { address: Hex }): Promise<{ client: ChainClient; lease: EmbeddedNodeLease | undefined }> {
  const pin = p.consortium
  let url = rpcUrl ?? process.env.PROVENA_RPC_URL
  if (!url && pin && !consortiumOnEmbeddedChain(p, pin)) {
    if (!pin.rpcUrl) throw nodeErrors.noChainUrl()
    url = pin.rpcUrl
  }
  const lease = url ? undefined : await acquireEmbeddedNode(p.dir)
  try {
    const client = await connectChain(url ?? lease!.info.rpcUrl, key, { embedded: lease !== undefined })
    if (pin && client.chainId !== pin.chainId) throw nodeErrors.wrongChain(pin.chainId, client.chainId, client.rpcUrl)
    return { client, lease }
  } catch (error) {
    await lease?.release()
    throw error
  }
}

/**
 * Connects to the chain (see connect), funds the operator on a dev node, deploys the
 * contracts on first use, re-checks what the outbox believes mined, and sends what is
 * pending.
 */
export async function openChain(p: Provena, opts: { rpcUrl?: string | undefined } = {}): Promise<ChainSession> {
  await p.unlock() // the operator key signs what the session sends; asked for before the node starts
  const { client, lease } = await connect(p, opts.rpcUrl, p.evmPrivateKey)
  try {
    await ensureFunded(client)
    const { deployment, deployedNow } = await ensureDeployment(p.db, client, logIdentity(p), p.consortium?.contracts)
    const outbox: OutboxContext = {
      db: p.db,
      client,
      deployment,
      consistencyProof: (a, b) => p.log.consistencyProof(a, b),
      appendLog: (leaves) => p.log.append(leaves),
    }
    await recoverOutbox(outbox)
    // A chain that lost what the outbox wrote gets the log's history again: only if the
    // log still is what its signed checkpoints say, or the replay would vouch for it.
    const replayed = countLostWrites(p.db, client.chainKey)
    if (replayed > 0) {
      const { difference } = checkLogAgainstCheckpoints(p)
      if (difference) throw appErrors.replayRefused(client.chainKey, describeLogDifference(difference))
    }
    await flushOutbox(outbox)
    return { client, deployment, outbox, embedded: lease !== undefined, deployedNow, replayed, close: async () => lease?.release() }
  } catch (error) {
    await lease?.release()
    throw error
  }
}

/** The chain this data dir uses (see connect), to read only, whatever is deployed on it: the operator key stays sealed. */
export async function connectReadOnly(p: Provena, opts: { rpcUrl?: string | undefined } = {}): Promise<{ client: ChainClient; close(): Promise<void> }> {
  const { client, lease } = await connect(p, opts.rpcUrl, { address: p.operatorAddress })
  return { client, close: async () => lease?.release() }
}

/**
 * The chain and this data dir's deployment on it, to read only: nothing deployed or sent,
 * and the operator key stays sealed (the client's account is the operator's address
 * alone: it can sign nothing).
 */
export async function openChainReadOnly(
  p: Provena,
  opts: { rpcUrl?: string | undefined } = {},
): Promise<{ client: ChainClient; deployment: Deployment; embedded: boolean; close(): Promise<void> }> {
  const { client, lease } = await connect(p, opts.rpcUrl, { address: p.operatorAddress })
  try {
    const deployment = await findDeployment(p.db, client, logIdentity(p), p.consortium?.contracts)
    if (!deployment) {
      // Contracts recorded for this chain but gone from it: the chain lost its state.
      const recorded = p.db.prepare('SELECT count(*) FROM chain_deployments WHERE chain = ?').pluck().get(client.chainKey) as number
      const anchored = p.db.prepare("SELECT count(*) FROM chain_outbox WHERE chain = ? AND kind = 'checkpoint' AND status IN ('mined', 'decided', 'sent')").pluck().get(client.chainKey) as number
      if (recorded > 0) throw appErrors.chainStateLost(lease !== undefined, client.chainId, anchored)
      if (lease) throw appErrors.notDeployedEmbedded()
      throw chainErrors.notDeployed('CheckpointAnchor', client.chainId)
    }
    return { client, deployment, embedded: lease !== undefined, close: async () => lease?.release() }
  } catch (error) {
    await lease?.release()
    throw error
  }
}

/** The result of anchoring: the signed checkpoint and where it stands on-chain. */
export interface AnchorResult {
  checkpoint: StoredCheckpoint
  /** The chain's latest() after anchoring. */
  anchoredSize: number
  anchoredRoot: Buffer
  transactionHash: Hex | null
  blockNumber: number | null
  /** False when there was nothing new to anchor. */
  anchoredNow: boolean
}

/** How long anchoring waits for the witnesses' cosignatures, all asked in parallel (`cosign: true`). */
export const ANCHOR_COSIGN_WAIT_MS = 5000

/** How anchorNow gathers cosignatures before anchoring. */
export interface AnchorOptions {
  /**
   * Ask the witnesses of the pinned consortium file (other members' nodes) to cosign the
   * new checkpoint first, in parallel, waiting at most ANCHOR_COSIGN_WAIT_MS (or
   * `timeoutMs`), and anchor it with the cosignatures it has: `provena serve`'s schedule and
   * `provena log checkpoint`. A witness answering later is added by addCosignatures
   * (anchorLateCosignatures). Off by default: operations anchoring what a request wrote do
   * not wait for witnesses.
   */
  cosign?: boolean | GatherOptions
}

/** The outbox key of the checkpoint of `treeSize`. */
const checkpointKey = (treeSize: number) => `checkpoint:${treeSize}`

/**
 * Signs a checkpoint of the log's current size, gathers the witnesses' cosignatures when
 * asked (opts.cosign), queues the checkpoint with them in the outbox and sends it,
 * waiting for the receipt. With nothing new since the last anchored checkpoint, sends
 * nothing. Crash-safe: the checkpoint is signed and stored first; a signed checkpoint
 * above the anchored size that no outbox row carries (a crash while gathering) is queued
 * by the next anchoring (anchorIfDue finds it due), with the cosignatures stored by then.
 */
export async function anchorNow(p: Provena, chain: ChainSession, opts: AnchorOptions = {}): Promise<AnchorResult> {
  const before = await readLatestAnchor(chain.client.publicClient, chain.deployment.CheckpointAnchor)
  const size = p.log.size()
  let checkpoint = latestCheckpoint(p.db)
  if (size > before.treeSize || !checkpoint) checkpoint = recordCheckpoint(p.db, p.log, p.signer, p.map.root())
  const anchoredNow = checkpoint.treeSize > before.treeSize
  const queued = () => {
    const row = findOutboxByKey(p.db, chain.client.chainKey, checkpointKey(checkpoint.treeSize))
    return row !== undefined && row.status !== 'failed'
  }
  if (anchoredNow && !queued()) {
    if (opts.cosign) await gatherBeforeAnchoring(p, checkpoint, opts.cosign === true ? {} : opts.cosign)
    const c = checkpoint
    decideWrites(p.db, () => {
      if (queued()) return // another anchoring queued it meanwhile
      const packed = packCosignatures(cosignaturesAt(p.db, c.treeSize))
      enqueueOutbox(p.db, chain.client.chainKey, {
        kind: 'checkpoint',
        payload: {
          treeSize: c.treeSize,
          rootHash: `0x${c.rootHash.toString('hex')}`,
          mapRoot: `0x${c.mapRoot.toString('hex')}`,
          signature: `0x${c.signature.toString('hex')}`,
          ...(packed.length > 0 ? { cosignatures: `0x${packed.toString('hex')}` as Hex } : {}),
        },
      })
    })
  }
  const rows = await flushOutbox(chain.outbox)
  const mine = rows.find((r) => r.kind === 'checkpoint' && r.key === checkpointKey(checkpoint.treeSize))
  const after = await readLatestAnchor(chain.client.publicClient, chain.deployment.CheckpointAnchor)
  return {
    checkpoint,
    anchoredSize: after.treeSize,
    anchoredRoot: after.rootHash,
    transactionHash: mine?.txHash ?? null,
    blockNumber: mine?.blockNumber ?? null,
    anchoredNow,
  }
}

/** Asks the pinned consortium's witnesses to cosign `checkpoint`, bounded; stores what they return, never throws. */
async function gatherBeforeAnchoring(p: Provena, checkpoint: StoredCheckpoint, opts: GatherOptions): Promise<void> {
  const witnesses = memberWitnesses(p.consortium, p.signer.origin)
  if (witnesses.length === 0) return
  await gatherCosignatures(p, checkpoint, witnesses, { ...opts, timeoutMs: Math.min(opts.timeoutMs ?? ANCHOR_COSIGN_WAIT_MS, ANCHOR_COSIGN_WAIT_MS) }).catch(() => undefined)
}

/**
 * Sends on-chain (CheckpointAnchor.addCosignatures, one event) the cosignatures stored
 * for the latest anchored checkpoint that no outbox row carries yet: witnesses that
 * answered after it was anchored. Through the outbox (crash-safe; the same set is added
 * once). Returns how many cosignatures it queued (0: nothing new, or the checkpoint is not
 * the latest anchored one any more).
 */
export async function anchorLateCosignatures(p: Provena, chain: ChainSession): Promise<number> {
  const anchored = await readLatestAnchor(chain.client.publicClient, chain.deployment.CheckpointAnchor)
  if (anchored.treeSize === 0) return 0
  const carried = new Set<string>()
  const main = findOutboxByKey(p.db, chain.client.chainKey, checkpointKey(anchored.treeSize))
  for (const row of [...(main ? [main] : []), ...listOutboxByKeyPrefix(p.db, chain.client.chainKey, 'cosignatures', `cosignatures:${anchored.treeSize}:`)]) {
    if (row.status === 'failed') continue
    const packed = (row.payload as { cosignatures?: Hex }).cosignatures
    for (const id of packed ? packedKeyIds(packed) : []) carried.add(id)
  }
  const fresh = cosignaturesAt(p.db, anchored.treeSize).filter((l) => {
    const c = parseCosignatureLine(l)
    return c !== undefined && !carried.has(c.keyId.toString('hex'))
  })
  if (fresh.length === 0) return 0
  const packed = packCosignatures(fresh)
  decideWrites(p.db, () => enqueueOutbox(p.db, chain.client.chainKey, cosignaturesEffect.write({ treeSize: anchored.treeSize, cosignatures: `0x${packed.toString('hex')}` })))
  await flushOutbox(chain.outbox)
  return fresh.length
}

/**
 * Anchors when the policy of provena.json says so: at least `everyEntries` new entries, or
 * any new entry and `everyMs` since the last checkpoint. Returns undefined when not due.
 */
export async function anchorIfDue(p: Provena, chain: ChainSession, now = Date.now(), opts: AnchorOptions = {}): Promise<AnchorResult | undefined> {
  const last = latestCheckpoint(p.db)
  const pending = p.log.size() - (last?.treeSize ?? 0)
  // A checkpoint signed but queued by no outbox row: anchoring stopped while gathering its cosignatures.
  if (pending <= 0) return last && last.treeSize > 0 && !findOutboxByKey(p.db, chain.client.chainKey, checkpointKey(last.treeSize)) ? anchorNow(p, chain, opts) : undefined
  const due = pending >= p.config.checkpoint.everyEntries || now - (last?.createdAt ?? 0) >= p.config.checkpoint.everyMs
  return due ? anchorNow(p, chain, opts) : undefined
}

/** Anchors on the configured schedule while a long task runs; `stop()` ends the timer. */
export function startAnchorLoop(p: Provena, chain: ChainSession, onError: (e: unknown) => void = () => {}): { stop(): void } {
  let busy = false
  const timer = setInterval(() => {
    if (busy) return
    busy = true
    anchorIfDue(p, chain)
      .catch(onError)
      .finally(() => (busy = false))
  }, Math.max(250, Math.min(p.config.checkpoint.everyMs, 5000)))
  timer.unref()
  return { stop: () => clearInterval(timer) }
}

/**
 * Creates an identity and makes it a member with its role in AccessPolicy: the log entry,
 * the on-chain membership (through the outbox) and the keystore entry land together.
 */
export async function createMemberIdentity(p: Provena, chain: ChainSession, name: string, role: string, passphrase: string): Promise<{ identity: Identity; transactionHash: Hex | null }> {
  const { identity: id, save } = prepareIdentity(p.dir, name, role, passphrase)
  const write: OutboxWrite = { kind: 'member', payload: { address: id.address, role: `${id.role.toUpperCase()}_ROLE` as never } }
  const event = { type: 'provena.identity.created/v1', actor: p.operatorDid, time: id.createdAt, identity: { name: id.name, role: id.role, did: id.did, x25519PublicKey: id.x25519PublicKey, address: id.address } }
  p.db.transaction(() => {
    p.log.append([Buffer.from(canonicalJson(event), 'utf8')])
    enqueueOutbox(p.db, chain.client.chainKey, write)
    save()
  })()
  await flushOutbox(chain.outbox)
  await anchorNow(p, chain)
  return { identity: id, transactionHash: findOutbox(p.db, chain.client.chainKey, write)?.txHash ?? null }
}


/** What the federated coordinator needs of an open data dir, its chain and its block store. */
export function flContext(p: Provena, chain: ChainSession, store: BlobStore): FlContext {
  return {
    db: p.db,
    log: p.log,
    signer: p.signer,
    operatorDid: p.operatorDid,
    outbox: chain.outbox,
    store,
    map: p.map,
    ownPurposes: p.config.purposes,
    chain: { client: chain.client, deployment: chain.deployment },
    anchor: async () => void (await anchorNow(p, chain)),
    dir: p.dir,
  }
}
