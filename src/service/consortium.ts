// Consortium operations (issue 12, "pinned trust roots"): create, join, add a member,
// update the pin, show an identity's card, create an identity on a member node. Each owns
// its transaction, its outbox writes and its anchoring; the CLI only parses and prints.
import { existsSync, readFileSync } from 'node:fs'
import { createPublicClient, http, isAddress, type Address, type Hex, type PublicClient } from 'viem'
import { findIdentity, listIdentities, prepareIdentity, ROLES, unlockIdentities, unlockIdentity, type Identity, type UnlockedIdentity } from '../access/index.js'
import { anchorNow, configPath, connectReadOnly, createMemberIdentity, initDataDir, openChainReadOnly, openProvena, resolveDataDir, type ChainSession, type Provena } from '../app/index.js'
import { acquireEmbeddedNode, chainErrors, ConsentVerifierAbi, enqueueOutbox, findOutbox, flushOutbox, readLogInfo, simulateWrite, type Deployment, type OutboxWrite } from '../chain/index.js'
import type { ManifestTrustRoots } from '../consent/index.js'
import { canonicalJson, sha256Hex } from '../crypto/index.js'
import { ProvenaError } from '../errors.js'
import { LOG_EVENT, noteVerifierKey } from '../log/index.js'
import {
  changedTrustRoots,
  checkAdminSignature,
  consortiumPath,
  CONSORTIUM_TYPE,
  nodeErrors,
  openMemberCard,
  parseVerifierKey,
  readConsortiumFile,
  signConsortium,
  signMemberCard,
  trustedLogFor,
  writeConsortiumFile,
  type Consortium,
  type ConsortiumMember,
  type MemberEntry,
  type MemberLog,
  witnessCardFields,
} from '../node/index.js'

const operatorAddress = (p: Provena): Address => p.operatorAddress
const sameAddress = (a: string, b: string) => a.toLowerCase() === b.toLowerCase()
/** RFC 8785 SHA-256 of a consortium file: what the log records of it. */
const consortiumHash = (c: Consortium) => sha256Hex(Buffer.from(canonicalJson(c), 'utf8'))

/** Whether this node's operator is the consortium admin (it deployed the shared contracts). */
export function isConsortiumAdmin(p: Provena): boolean {
  return p.consortium !== undefined && sameAddress(p.consortium.admin.address, operatorAddress(p))
}

/**
 * This node's log as a member entry names it: origin, C2SP vkey, operator, and its own
 * CheckpointAnchor and ConsentVerifier — from `deployment`, else the newest recorded in
 * the data dir (on the pinned chain id for a member). Null before the first chain use.
 */
export function ownLog(p: Provena, deployment?: Pick<Deployment, 'CheckpointAnchor' | 'ConsentVerifier'>): MemberLog | null {
  let contracts = deployment
  if (!contracts) {
    const newest = (name: string) =>
      p.db
        .prepare(`SELECT address FROM chain_deployments WHERE name = ? ${p.consortium ? 'AND chain_id = ?' : ''} ORDER BY deployed_at DESC LIMIT 1`)
        .pluck()
        .get(name, ...(p.consortium ? [p.consortium.chainId] : [])) as Address | undefined
    const anchor = newest('CheckpointAnchor')
    const consentVerifier = newest('ConsentVerifier')
    contracts = anchor && consentVerifier ? { CheckpointAnchor: anchor, ConsentVerifier: consentVerifier } : undefined
  }
  if (!contracts) return null
  return {
    origin: p.signer.origin,
    vkey: noteVerifierKey(p.signer.origin, p.signer.publicKey),
    operator: operatorAddress(p),
    anchor: contracts.CheckpointAnchor,
    consentVerifier: contracts.ConsentVerifier,
  }
}

/** How a member advertises its node (issue 13): its `provena serve` base URL, and so its witness. */
export interface NodeAdvert {
  /** The node's base URL (http(s), no query or fragment): its witness is at `<endpoint>/witness/add-checkpoint`. */
  endpoint?: string | undefined
}

/**
 * An identity of this node as a consortium member; its card is signed when `passphrase` is
 * given, else null. With `node.endpoint`, the entry also carries the endpoint and the node's
 * witness vkey (witnessCardFields: derived from the operator key, which this unlocks) before
 * the card is signed.
 */
export function memberEntryOf(p: Provena, id: Identity | UnlockedIdentity, passphrase: string | undefined, log = ownLog(p), node: NodeAdvert = {}): MemberEntry {
  const m: ConsortiumMember = {
    name: id.name,
    did: id.did,
    role: id.role,
    address: id.address,
    x25519: id.x25519PublicKey,
    log,
    ...(node.endpoint !== undefined ? witnessCardFields(p, checkEndpoint(node.endpoint)) : {}),
  }
  const key = 'signing' in id ? id.signing.privateKey : passphrase === undefined ? undefined : unlockIdentity(p.dir, id.name, passphrase).signing.privateKey
  return { ...m, card: key ? signMemberCard(m, key) : null }
}

/** A node's base URL as a member entry may carry it: http(s), no credentials, query or fragment; CLI_BAD_ARGUMENT otherwise. */
export function checkEndpoint(endpoint: string): string {
  let u: URL | undefined
  try {
    u = new URL(endpoint)
  } catch {
    u = undefined
  }
  if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:') || u.search !== '' || u.hash !== '' || u.username !== '' || u.password !== '' || endpoint.includes('?') || endpoint.includes('#')) {
    throw new ProvenaError('CLI_BAD_ARGUMENT', `--endpoint ${JSON.stringify(endpoint)} is not an http(s) URL without credentials, query or fragment`, {
      hint: 'the base URL of the node as the other members reach it, e.g. https://node.st-mary.example (provena serve prints it)',
    })
  }
  return endpoint.replace(/\/+$/, '')
}

/**
 * `provena identity show NAME [--endpoint URL]`: the identity's public facts, its node's
 * log and its card (signed with the identity's key: needs the passphrase; null without
 * one). With an endpoint, the entry advertises the node and its witness (the passphrase
 * is needed then: the witness key derives from the operator key).
 */
export function showIdentity(p: Provena, name: string, passphrase: string | undefined, node: NodeAdvert = {}): MemberEntry {
  if (node.endpoint !== undefined && passphrase === undefined) {
    throw new ProvenaError('CLI_BAD_ARGUMENT', '--endpoint puts the node\'s witness key in the card: it needs PROVENA_PASSPHRASE (the card is signed, the witness key derives from the operator key)', {
      hint: 'PROVENA_PASSPHRASE=… provena identity show NAME --endpoint URL --json > card.json',
    })
  }
  return memberEntryOf(p, findIdentity(p.dir, name), passphrase, ownLog(p), node)
}

/**
 * The trust roots a verifier on this node uses: the pinned consortium, or, on a lone
 * node, the node itself as its own consortium (its deployment's contracts, its identities
 * as members on its log; cards null).
 */
export function trustRootsOf(p: Provena, deployment: Deployment): Consortium {
  if (p.consortium) return p.consortium
  const log = ownLog(p, deployment)
  return {
    _type: CONSORTIUM_TYPE,
    chainId: deployment.chainId,
    rpcUrl: null,
    contracts: { AssetRegistry: deployment.AssetRegistry, AccessPolicy: deployment.AccessPolicy, FederatedTraining: deployment.FederatedTraining },
    admin: { did: p.operatorDid, address: operatorAddress(p) },
    members: listIdentities(p.dir).map((id) => memberEntryOf(p, id, undefined, log)),
  }
}

/** Appends one event to the node's log (inside the caller's transaction). */
function logEvent(p: Provena, event: Record<string, unknown>): void {
  p.log.append([Buffer.from(canonicalJson({ actor: p.operatorDid, time: new Date().toISOString(), ...event }), 'utf8')])
}

/**
 * `provena consortium create`: makes this (lone) node the consortium's admin. Its
 * deployment's AssetRegistry, AccessPolicy and FederatedTraining (deployed now on first
 * use, with the operator as admin) become the shared contracts; its identities the first
 * members, each with a card signed by its key. The file is pinned in the data dir.
 */
export async function createConsortium(p: Provena, chain: ChainSession, opts: { passphrase: string; endpoint?: string | undefined }): Promise<Consortium> {
  if (p.consortium) throw nodeErrors.alreadyPinned(p.dir)
  const log = ownLog(p, chain.deployment)
  const c: Consortium = signConsortium({
    _type: CONSORTIUM_TYPE,
    chainId: chain.client.chainId,
    rpcUrl: chain.client.rpcUrl,
    contracts: { AssetRegistry: chain.deployment.AssetRegistry, AccessPolicy: chain.deployment.AccessPolicy, FederatedTraining: chain.deployment.FederatedTraining },
    admin: { did: p.operatorDid, address: chain.client.account.address },
    // One unlock of the keystore signs every identity's card.
    members: (listIdentities(p.dir).length ? unlockIdentities(p.dir, opts.passphrase) : []).map((id) => memberEntryOf(p, id, undefined, log, { endpoint: opts.endpoint })),
  }, p.signer.privateKey)
  p.db.transaction(() => logEvent(p, { type: LOG_EVENT.consortiumCreated, chainId: c.chainId, contracts: c.contracts, admin: c.admin, members: c.members.map((m) => m.did), hash: consortiumHash(c) }))()
  await anchorNow(p, chain)
  writeConsortiumFile(consortiumPath(p.dir), c)
  p.consortium = c
  return c
}

/**
 * `provena init --join FILE`: a new data dir pinned to the consortium file (validated:
 * every card against its did). `rpcUrl` replaces the file's chain URL hint in the pin.
 */
export function joinConsortium(dir: string, file: string, opts: { rpcUrl?: string | undefined; passphrase: string }): { consortium: Consortium; p: Provena } {
  const c = readConsortiumFile(file)
  if (existsSync(consortiumPath(dir))) throw nodeErrors.alreadyPinned(dir)
  if (existsSync(configPath(dir))) {
    throw new ProvenaError('CONSORTIUM_JOIN_EXISTING', `${dir} is already a data dir: a node joins a consortium when it is created`, { hint: 'join with a new data dir: provena init --join FILE --dir NEW_DIR' })
  }
  const pinned: Consortium = { ...c, rpcUrl: opts.rpcUrl ?? c.rpcUrl }
  initDataDir(dir, opts.passphrase)
  writeConsortiumFile(consortiumPath(dir), pinned)
  const p = openProvena(dir, { passphrase: opts.passphrase })
  p.db.transaction(() => logEvent(p, { type: LOG_EVENT.consortiumJoined, chainId: c.chainId, contracts: c.contracts, admin: c.admin, hash: consortiumHash(c) }))()
  return { consortium: pinned, p }
}

/** What `identity create` did: on a member node that is not the admin, the identity is not a member yet. */
export interface CreatedIdentity {
  identity: Identity
  member: boolean
  transactionHash: Hex | null
  /** For a member node: the admin's command that makes the identity a member. */
  adminCommand: string | null
}

/**
 * `provena identity create` on any node. A lone node or the consortium admin makes the
 * identity a member on-chain (the admin also adds it to its pinned file, with its card);
 * any other member node only creates the keys and logs it: only the admin can make it a
 * member (`adminCommand`).
 */
export async function createIdentity(p: Provena, chain: ChainSession, name: string, role: string, passphrase: string): Promise<CreatedIdentity> {
  if (!p.consortium || isConsortiumAdmin(p)) {
    const { identity, transactionHash } = await createMemberIdentity(p, chain, name, role, passphrase)
    if (p.consortium) {
      const c = signConsortium({ ...p.consortium, members: [...p.consortium.members, memberEntryOf(p, identity, passphrase, ownLog(p, chain.deployment))] }, p.signer.privateKey)
      writeConsortiumFile(consortiumPath(p.dir), c)
      p.consortium = c
    }
    return { identity, member: true, transactionHash, adminCommand: null }
  }
  const { identity: id, save } = prepareIdentity(p.dir, name, role, passphrase)
  p.db.transaction(() => {
    logEvent(p, { type: LOG_EVENT.identityCreated, time: id.createdAt, identity: { name: id.name, role: id.role, did: id.did, x25519PublicKey: id.x25519PublicKey, address: id.address } })
    save()
  })()
  await anchorNow(p, chain)
  return {
    identity: id,
    member: false,
    transactionHash: null,
    adminCommand: `provena consortium add-member --did ${id.did} --role ${id.role} --card card.json`,
  }
}

/** Reads a card file: a DSSE envelope, or the output of `provena identity show NAME --json` (its `card`). */
export function readCardFile(path: string): unknown {
  let doc: Record<string, unknown>
  try {
    doc = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>
  } catch (e) {
    throw nodeErrors.badCard(path, 'the file', (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : `is not JSON (${(e as Error).message})`)
  }
  if (doc && typeof doc === 'object' && 'payloadType' in doc) return doc
  if (doc && typeof doc === 'object' && doc.card !== undefined) {
    if (doc.card === null) throw nodeErrors.badCard(path, 'card', 'is null: the member ran identity show without PROVENA_PASSPHRASE')
    return doc.card
  }
  throw nodeErrors.badCard(path, 'the file', 'is neither a member card (DSSE envelope) nor the output of provena identity show --json')
}

/**
 * Checks on-chain that a member's log is what its card says: the CheckpointAnchor's
 * logInfo() is the card's operator, key and origin, and its ConsentVerifier reads that anchor.
 */
async function checkMemberLog(chain: ChainSession, log: MemberLog): Promise<void> {
  const pc = chain.client.publicClient
  const code = await pc.getCode({ address: log.anchor })
  if (!code || code === '0x') throw nodeErrors.anchorMismatch(log.anchor, `has no code on chain ${chain.client.chainId}`)
  const info = await readLogInfo(pc, log.anchor).catch(() => undefined)
  if (!info) throw nodeErrors.anchorMismatch(log.anchor, 'is not a CheckpointAnchor (no logInfo())')
  const key = parseVerifierKey(log.vkey)!
  if (!sameAddress(info.operator, log.operator)) throw nodeErrors.anchorMismatch(log.anchor, `is operated by ${info.operator}, the card says ${log.operator}`)
  if (!info.logKey.equals(key.publicKey)) throw nodeErrors.anchorMismatch(log.anchor, `holds log key ${info.logKey.toString('hex')}, not the card's vkey ${log.vkey}`)
  if (info.origin !== log.origin) throw nodeErrors.anchorMismatch(log.anchor, `is for origin ${info.origin}, the card says ${log.origin}`)
  const anchorOfVerifier = (await pc.readContract({ address: log.consentVerifier, abi: ConsentVerifierAbi, functionName: 'anchor' }).catch(() => undefined)) as Address | undefined
  if (!anchorOfVerifier || !sameAddress(anchorOfVerifier, log.anchor)) throw nodeErrors.anchorMismatch(log.anchor, `is not the anchor ConsentVerifier ${log.consentVerifier} reads`)
}

/**
 * `provena consortium add-member` on the admin's node: checks the card (signed by `did`,
 * same did and role) and the member's anchor on-chain, makes its address a member with its
 * role in AccessPolicy and its node's operator a registrar of AssetRegistry (both through
 * the outbox), logs it, anchors, and adds the entry to the pinned file (replacing an
 * earlier entry of the same did).
 */
export async function addMember(p: Provena, chain: ChainSession, opts: { did: string; role: string; card: unknown; cardSource: string }): Promise<{ consortium: Consortium; member: MemberEntry; transactionHashes: (Hex | null)[] }> {
  if (!p.consortium) throw nodeErrors.notPinned(p.dir)
  if (!isConsortiumAdmin(p)) throw nodeErrors.notAdmin(p.consortium.admin.address, operatorAddress(p))
  if (!(ROLES as readonly string[]).includes(opts.role)) throw new ProvenaError('CLI_BAD_ARGUMENT', `--role ${opts.role} is not one of ${ROLES.join(', ')}`)
  const m = openMemberCard(opts.card, opts.cardSource)
  if (m.did !== opts.did) throw nodeErrors.badCard(opts.cardSource, 'did', `is ${m.did}, not --did ${opts.did}`)
  if (m.role !== opts.role) throw nodeErrors.badCard(opts.cardSource, 'role', `is ${m.role}, not --role ${opts.role}`)
  if (!m.log) throw nodeErrors.badCard(opts.cardSource, 'log', "is null: the member's node has not deployed its anchor yet (any chain command there does it; then show the identity again)")
  const clash = p.consortium.members.find((o) => o.did !== m.did && sameAddress(o.address, m.address))
  if (clash) throw nodeErrors.badCard(opts.cardSource, 'address', `${m.address} is already member ${clash.did}`)
  await checkMemberLog(chain, m.log)
  const writes: OutboxWrite[] = [
    { kind: 'member', payload: { address: m.address, role: `${m.role.toUpperCase()}_ROLE` as never } },
    { kind: 'registrar', payload: { address: m.log.operator } },
  ]
  // A write the chain would refuse (this operator not admin there) fails before anything is recorded.
  for (const w of writes) await simulateWrite(chain.outbox, w)
  const member: MemberEntry = { ...m, card: opts.card as MemberEntry['card'] }
  p.db.transaction(() => {
    logEvent(p, { type: LOG_EVENT.consortiumMemberAdded, member: { name: m.name, did: m.did, role: m.role, address: m.address, x25519: m.x25519, log: m.log } })
    for (const w of writes) enqueueOutbox(p.db, chain.client.chainKey, w)
  })()
  await flushOutbox(chain.outbox)
  await anchorNow(p, chain)
  const c: Consortium = signConsortium({ ...p.consortium, members: [...p.consortium.members.filter((o) => o.did !== m.did), member] }, p.signer.privateKey)
  writeConsortiumFile(consortiumPath(p.dir), c)
  p.consortium = c
  return { consortium: c, member, transactionHashes: writes.map((w) => findOutbox(p.db, chain.client.chainKey, w)?.txHash ?? null) }
}

/**
 * `provena consortium update FILE` on a member node: replaces the pin with a newer file of
 * the same consortium — same chainId, contracts and admin (else CONSORTIUM_ROOTS_CHANGED
 * naming what changed), every card verifying, the whole signed by the pinned admin (else
 * CONSORTIUM_NOT_SIGNED). The pin keeps its own rpcUrl (a local hint).
 */
export function updateConsortium(p: Provena, file: string): { consortium: Consortium; added: string[]; removed: string[] } {
  if (!p.consortium) throw nodeErrors.notPinned(p.dir)
  const next = readConsortiumFile(file)
  const changed = changedTrustRoots(p.consortium, next)
  if (changed.length > 0) throw nodeErrors.rootsChanged(file, changed)
  // Cards bind each member's own entry only: the admin's signature binds the member list.
  checkAdminSignature(next, p.consortium.admin.did, file)
  const before = new Set(p.consortium.members.map((m) => m.did))
  const after = new Set(next.members.map((m) => m.did))
  const added = [...after].filter((d) => !before.has(d))
  const removed = [...before].filter((d) => !after.has(d))
  const pinned: Consortium = { ...next, rpcUrl: p.consortium.rpcUrl ?? next.rpcUrl }
  p.db.transaction(() => logEvent(p, { type: LOG_EVENT.consortiumUpdated, hash: consortiumHash(next), added, removed }))()
  writeConsortiumFile(consortiumPath(p.dir), pinned)
  p.consortium = pinned
  return { consortium: pinned, added, removed }
}

/** The trust roots of a consortium, for checking a training manifest (every member's log; the controller's own). */
export function manifestTrustRoots(c: Consortium, source: string): ManifestTrustRoots {
  return {
    source,
    chainId: c.chainId,
    assetRegistry: c.contracts.AssetRegistry,
    anchors: c.members.flatMap((m) => (m.log ? [m.log.anchor] : [])),
    controllerAnchor: (did) => trustedLogFor(c, did)?.anchor,
  }
}

/** Where a verifier takes its trust roots from (first given wins): flags, a consortium file, the data dir. */
export interface TrustRootOptions {
  dir?: string | undefined
  rpcUrl?: string | undefined
  /** A consortium file (an outsider holding the consortium's published file). */
  consortium?: string | undefined
  /** Explicit addresses (an outsider given one log's anchor and the registry). */
  anchor?: string | undefined
  registry?: string | undefined
}

/**
 * The trust roots a verifier uses and a read-only connection to the chain: `--anchor` +
 * `--registry`, else `--consortium FILE`, else the data dir's pinned consortium, else a
 * lone data dir's own deployment. Never the thing under check.
 */
export async function openTrustRoots(opts: TrustRootOptions): Promise<{ roots: ManifestTrustRoots; client: PublicClient; close(): Promise<void> }> {
  const dir = resolveDataDir(opts.dir)
  if (opts.anchor !== undefined || opts.registry !== undefined) {
    if (!opts.anchor || !opts.registry || !isAddress(opts.anchor) || !isAddress(opts.registry)) {
      throw new ProvenaError('CLI_BAD_ARGUMENT', '--anchor and --registry go together, each an EVM address', { hint: 'take them from the operator\'s provena chain info --json, or use --consortium FILE' })
    }
    const roots: ManifestTrustRoots = { source: '--anchor/--registry', chainId: undefined, assetRegistry: opts.registry, anchors: [opts.anchor] }
    return { roots, ...(await publicConnection(dir, opts.rpcUrl, undefined)) }
  }
  if (opts.consortium) {
    const c = readConsortiumFile(opts.consortium)
    return { roots: manifestTrustRoots(c, `the consortium of ${opts.consortium}`), ...(await publicConnection(dir, opts.rpcUrl, c)) }
  }
  if (!existsSync(configPath(dir))) {
    throw new ProvenaError('CLI_BAD_ARGUMENT', `no trust roots: ${dir} is not a data dir, and neither --consortium FILE nor --anchor/--registry was given`, {
      hint: 'pass --consortium consortium.json (a member\'s), or --anchor ADDRESS --registry ADDRESS (from the operator\'s provena chain info --json)',
    })
  }
  const p = openProvena(dir)
  try {
    if (p.consortium) {
      const { client, close } = await connectReadOnly(p, { rpcUrl: opts.rpcUrl })
      return { roots: manifestTrustRoots(p.consortium, 'this node\'s consortium'), client: client.publicClient, close }
    }
    const chain = await openChainReadOnly(p, { rpcUrl: opts.rpcUrl })
    return { roots: manifestTrustRoots(trustRootsOf(p, chain.deployment), `this node (${dir})`), client: chain.client.publicClient, close: chain.close }
  } finally {
    p.close()
  }
}

/** A read-only client of --rpc-url, PROVENA_RPC_URL, the consortium's chain URL, or the data dir's embedded node. */
async function publicConnection(dir: string, rpcUrl: string | undefined, c: Consortium | undefined): Promise<{ client: PublicClient; close(): Promise<void> }> {
  const url = rpcUrl ?? process.env.PROVENA_RPC_URL ?? c?.rpcUrl ?? undefined
  const lease = url ? undefined : await acquireEmbeddedNode(dir)
  const at = url ?? lease!.info.rpcUrl
  const client = createPublicClient({ transport: http(at, { retryCount: 0 }) }) as PublicClient
  try {
    const chainId = await client.getChainId().catch((e) => {
      throw chainErrors.unreachable(at, e)
    })
    if (c && chainId !== c.chainId) throw nodeErrors.wrongChain(c.chainId, chainId, at)
  } catch (e) {
    await lease?.release()
    throw e
  }
  return { client, close: async () => void (await lease?.release()) }
}
