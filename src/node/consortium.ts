// The consortium file (consortium.json): the chain, the shared contracts, the admin and,
// per member, its keys and its log. A node pins one copy in its data dir: its trust roots.
// Verifiers take contract addresses and log keys from here, never from what they check
// (ARCHITECTURE.md, principle 8).
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { KeyObject } from 'node:crypto'
import { ROLES, type Role } from '../access/index.js'
import { canonicalJson, ed25519FromDidKey, sha256, signDsse, verifyDsse, type DsseEnvelope } from '../crypto/index.js'
import { isProvenaError } from '../errors.js'
import { parseWitnessVerifierKey } from './cosignature.js'
import { nodeErrors } from './errors.js'

type Address = `0x${string}`

export const CONSORTIUM_TYPE = 'provena.consortium/v1'
export const MEMBER_CARD_TYPE = 'application/vnd.provena.member-card+json'
/** The shared contracts, deployed once by the admin; each member deploys its own CheckpointAnchor and ConsentVerifier. */
export const SHARED_CONTRACTS = ['AssetRegistry', 'AccessPolicy', 'FederatedTraining'] as const
export type SharedContract = (typeof SHARED_CONTRACTS)[number]

/** The log of the node that holds a member: its identity and its own contracts. */
export interface MemberLog {
  origin: string
  /** C2SP signed-note verifier key of the log: "<origin>+<key id>+<base64(0x01 ‖ Ed25519 key)>". */
  vkey: string
  /** The EVM account of the node's operator: it anchors the log and registers the node's datasets. */
  operator: Address
  anchor: Address
  consentVerifier: Address
}

export interface ConsortiumMember {
  name: string
  did: string
  role: Role
  address: Address
  /** X25519 (HPKE) public key, 32 bytes hex. */
  x25519: string
  log: MemberLog | null
  /** The base URL of the member's node (`provena serve`), when it serves one: e.g. its witness is at `<endpoint>/witness/add-checkpoint`. */
  endpoint?: string
  /** The C2SP vkey of the member node's witness (cosignature/v1, type 0x04), when it witnesses the other members' logs. */
  witness?: string
}

export type MemberEntry = ConsortiumMember & { card: DsseEnvelope | null }

export interface Consortium {
  _type: typeof CONSORTIUM_TYPE
  chainId: number
  /** A hint: the chain a joined node uses by default. Never a trust root. */
  rpcUrl: string | null
  contracts: Record<SharedContract, Address>
  admin: { did: string; address: Address }
  members: MemberEntry[]
  /**
   * The admin's signature (DSSE by `admin.did`) over the SHA-256 of the RFC 8785 JSON of
   * everything but `rpcUrl` and itself: a member's card binds its own entry only, so without
   * it any holder of the file could drop a member and re-add an address under its own key.
   */
  adminSignature?: DsseEnvelope
}

export const CONSORTIUM_SIGNATURE_TYPE = 'application/vnd.provena.consortium-digest'

/** What the admin signs: the file without its local chain URL hint and without the signature. */
function signedDigest(c: Consortium): string {
  return sha256(Buffer.from(canonicalJson({ _type: c._type, chainId: c.chainId, contracts: c.contracts, admin: c.admin, members: c.members }), 'utf8')).toString('hex')
}

/** The consortium signed by its admin's did:key private key (the admin node's operator log key). */
export function signConsortium(c: Consortium, adminKey: KeyObject): Consortium {
  const { adminSignature: _, ...rest } = c
  return { ...rest, adminSignature: signDsse(CONSORTIUM_SIGNATURE_TYPE, Buffer.from(signedDigest(rest), 'utf8'), c.admin.did, adminKey) }
}

/**
 * Checks that `c` is signed by the admin `adminDid` (the pinned one): CONSORTIUM_NOT_SIGNED
 * names `source` otherwise. A file changed by anyone but the admin fails here.
 */
export function checkAdminSignature(c: Consortium, adminDid: string, source: string): void {
  const env = c.adminSignature
  let ok = false
  if (env && env.payloadType === CONSORTIUM_SIGNATURE_TYPE) {
    try {
      ok = verifyDsse(env, ed25519FromDidKey(adminDid)).toString('utf8') === signedDigest(c)
    } catch {
      ok = false
    }
  }
  if (!ok) throw nodeErrors.notSignedByAdmin(source, adminDid, env ? 'its adminSignature does not verify over its content' : 'it has no adminSignature')
}

/** Where a data dir pins its consortium file. */
export const consortiumPath = (dir: string) => join(dir, 'consortium.json')

const isAddress = (v: unknown): v is Address => typeof v === 'string' && /^0x[0-9a-fA-F]{40}$/.test(v)
const sameAddress = (a: string, b: string) => a.toLowerCase() === b.toLowerCase()

/** The Ed25519 key and origin inside a C2SP verifier key; undefined when it is not one. */
export function parseVerifierKey(vkey: string): { origin: string; publicKey: Buffer } | undefined {
  // The name holds no '+'; the base64 key may.
  const m = /^([^+]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/=]+)$/.exec(vkey)
  if (!m) return undefined
  const parts = [m[1]!, m[2]!, m[3]!]
  const raw = Buffer.from(parts[2]!, 'base64')
  if (raw.length !== 33 || raw[0] !== 0x01 || raw.toString('base64') !== parts[2]) return undefined
  const publicKey = raw.subarray(1)
  // Key id: SHA-256(name ‖ "\n" ‖ 0x01 ‖ key)[:4] (C2SP signed-note).
  const id = sha256(Buffer.from(`${parts[0]}\n`, 'utf8'), Buffer.of(0x01), publicKey).subarray(0, 4).toString('hex')
  return id === parts[1] ? { origin: parts[0]!, publicKey } : undefined
}

/** The member entry a card signs: the entry without its card, in a fixed shape. */
function cardBody(m: ConsortiumMember): ConsortiumMember {
  return {
    name: m.name,
    did: m.did,
    role: m.role,
    address: m.address,
    x25519: m.x25519,
    log: m.log && { origin: m.log.origin, vkey: m.log.vkey, operator: m.log.operator, anchor: m.log.anchor, consentVerifier: m.log.consentVerifier },
    // Optional (issue 13): absent from older cards, whose signed bytes stay what they were.
    ...(m.endpoint !== undefined ? { endpoint: m.endpoint } : {}),
    ...(m.witness !== undefined ? { witness: m.witness } : {}),
  }
}

/** Signs a member's card with its did:key's Ed25519 private key: DSSE over the RFC 8785 JSON of the entry without card. */
export function signMemberCard(m: ConsortiumMember, privateKey: KeyObject): DsseEnvelope {
  return signDsse(MEMBER_CARD_TYPE, Buffer.from(canonicalJson(cardBody(m)), 'utf8'), m.did, privateKey)
}

/**
 * The member entry a card carries, after checking its signature under the did:key the
 * payload names. Throws CONSORTIUM_CARD_INVALID naming `source` and the field.
 */
export function openMemberCard(card: unknown, source: string): ConsortiumMember {
  const env = card as DsseEnvelope
  if (typeof env !== 'object' || env === null || env.payloadType !== MEMBER_CARD_TYPE) throw nodeErrors.badCard(source, 'card', `is not a ${MEMBER_CARD_TYPE} DSSE envelope`)
  let body: unknown
  try {
    body = JSON.parse(Buffer.from(String(env.payload), 'base64').toString('utf8'))
  } catch {
    throw nodeErrors.badCard(source, 'card.payload', 'is not base64 JSON')
  }
  const m = parseMember(body, source, 'card.payload')
  try {
    verifyDsse(env, ed25519FromDidKey(m.did))
  } catch (e) {
    throw nodeErrors.badCard(source, 'card', `is not signed by ${m.did} (${isProvenaError(e) ? e.message : String(e)})`)
  }
  if (Buffer.from(env.payload, 'base64').toString('utf8') !== canonicalJson(cardBody(m))) throw nodeErrors.badCard(source, 'card.payload', 'is not the RFC 8785 JSON of a member entry')
  return m
}

function parseLog(v: unknown, source: string, at: string): MemberLog | null {
  if (v === null) return null
  const bad = (field: string, why: string) => nodeErrors.badConsortium(source, `${at}.${field}`, why)
  if (typeof v !== 'object' || Array.isArray(v)) throw nodeErrors.badConsortium(source, at, 'is not an object or null')
  const l = v as Record<string, unknown>
  if (typeof l.origin !== 'string' || l.origin === '') throw bad('origin', 'is not a log origin')
  const key = typeof l.vkey === 'string' ? parseVerifierKey(l.vkey) : undefined
  if (!key) throw bad('vkey', 'is not a C2SP Ed25519 verifier key (origin+keyid+base64)')
  if (key.origin !== l.origin) throw bad('vkey', `names origin ${key.origin}, not ${l.origin}`)
  for (const f of ['operator', 'anchor', 'consentVerifier'] as const) if (!isAddress(l[f])) throw bad(f, 'is not an EVM address')
  return { origin: l.origin, vkey: l.vkey as string, operator: l.operator as Address, anchor: l.anchor as Address, consentVerifier: l.consentVerifier as Address }
}

function parseMember(v: unknown, source: string, at: string): ConsortiumMember {
  const bad = (field: string, why: string) => nodeErrors.badConsortium(source, `${at}.${field}`, why)
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw nodeErrors.badConsortium(source, at, 'is not an object')
  const m = v as Record<string, unknown>
  if (typeof m.name !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(m.name)) throw bad('name', 'is not a name (letters, digits, . _ -)')
  if (typeof m.did !== 'string') throw bad('did', 'is not a did:key')
  try {
    ed25519FromDidKey(m.did)
  } catch {
    throw bad('did', `${m.did} is not an Ed25519 did:key`)
  }
  if (!(ROLES as readonly unknown[]).includes(m.role)) throw bad('role', `is not one of ${ROLES.join(', ')}`)
  if (!isAddress(m.address)) throw bad('address', 'is not an EVM address')
  if (typeof m.x25519 !== 'string' || !/^[0-9a-f]{64}$/.test(m.x25519)) throw bad('x25519', 'is not 32 bytes of lower-case hex')
  if (m.endpoint !== undefined && (typeof m.endpoint !== 'string' || !isHttpUrl(m.endpoint))) throw bad('endpoint', 'is not an http(s) URL without query or fragment')
  if (m.witness !== undefined && (typeof m.witness !== 'string' || !parseWitnessVerifierKey(m.witness))) throw bad('witness', 'is not a C2SP cosignature/v1 verifier key (name+keyid+base64(0x04 ‖ Ed25519 key))')
  return {
    name: m.name,
    did: m.did,
    role: m.role as Role,
    address: m.address,
    x25519: m.x25519,
    log: parseLog(m.log, source, `${at}.log`),
    ...(m.endpoint !== undefined ? { endpoint: m.endpoint as string } : {}),
    ...(m.witness !== undefined ? { witness: m.witness as string } : {}),
  }
}

function isHttpUrl(v: string): boolean {
  try {
    const u = new URL(v)
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.search === '' && u.hash === '' && u.username === '' && u.password === ''
  } catch {
    return false
  }
}

/**
 * Validates a consortium document: its type, chain id, contract and admin addresses, and
 * every member, whose card must be signed by its did:key over exactly its entry. Throws
 * CONSORTIUM_INVALID / CONSORTIUM_CARD_INVALID naming `source` and the field.
 */
export function parseConsortium(v: unknown, source: string): Consortium {
  const bad = (field: string, why: string) => nodeErrors.badConsortium(source, field, why)
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad('the document', 'is not a JSON object')
  const c = v as Record<string, unknown>
  if (c._type !== CONSORTIUM_TYPE) throw bad('_type', `is ${JSON.stringify(c._type)}, not "${CONSORTIUM_TYPE}"`)
  if (typeof c.chainId !== 'number' || !Number.isSafeInteger(c.chainId) || c.chainId <= 0) throw bad('chainId', 'is not a positive integer')
  if (c.rpcUrl !== null && c.rpcUrl !== undefined && (typeof c.rpcUrl !== 'string' || !/^(https?|wss?):\/\//.test(c.rpcUrl))) throw bad('rpcUrl', 'is not an http(s) or ws(s) URL or null')
  const contracts = c.contracts as Record<string, unknown> | undefined
  if (typeof contracts !== 'object' || contracts === null) throw bad('contracts', 'is not an object')
  for (const name of SHARED_CONTRACTS) if (!isAddress(contracts[name])) throw bad(`contracts.${name}`, 'is not an EVM address')
  const admin = c.admin as Record<string, unknown> | undefined
  if (typeof admin !== 'object' || admin === null) throw bad('admin', 'is not an object')
  if (typeof admin.did !== 'string' || !admin.did.startsWith('did:key:z')) throw bad('admin.did', 'is not a did:key')
  if (!isAddress(admin.address)) throw bad('admin.address', 'is not an EVM address')
  if (!Array.isArray(c.members)) throw bad('members', 'is not an array')
  const members: MemberEntry[] = c.members.map((raw, i) => {
    const at = `members[${i}]`
    const m = parseMember(raw, source, at)
    const card = (raw as Record<string, unknown>).card
    if (card === null || card === undefined) throw nodeErrors.badCard(source, `${at}.card`, 'is missing: every member entry carries its signed card')
    const signed = openMemberCard(card, `${source} ${at}`)
    if (canonicalJson(signed) !== canonicalJson(m)) {
      const field = (Object.keys(m) as (keyof ConsortiumMember)[]).find((k) => canonicalJson(m[k] ?? null) !== canonicalJson(signed[k] ?? null)) ?? 'entry'
      throw nodeErrors.badCard(source, `${at}.${field}`, `differs from what the member's card signs`)
    }
    return { ...m, card: card as DsseEnvelope }
  })
  members.forEach((m, i) => {
    // Names are each organisation's own and may repeat across nodes; keys may not.
    const dup = members.findIndex((o) => o.did === m.did || sameAddress(o.address, m.address))
    if (dup !== i) throw bad(`members[${i}]`, `repeats members[${dup}] (same did or address)`)
  })
  return {
    _type: CONSORTIUM_TYPE,
    chainId: c.chainId,
    rpcUrl: (c.rpcUrl as string | null | undefined) ?? null,
    contracts: Object.fromEntries(SHARED_CONTRACTS.map((n) => [n, contracts[n]])) as Record<SharedContract, Address>,
    admin: { did: admin.did, address: admin.address },
    members,
    ...(c.adminSignature !== undefined && c.adminSignature !== null ? { adminSignature: c.adminSignature as DsseEnvelope } : {}),
  }
}

/** Reads and validates a consortium file. */
export function readConsortiumFile(path: string): Consortium {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (e) {
    throw nodeErrors.badConsortium(path, 'the file', (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : (e as Error).message)
  }
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch (e) {
    throw nodeErrors.badConsortium(path, 'the file', `is not JSON (${(e as Error).message})`)
  }
  return parseConsortium(doc, path)
}

/** The data dir's pinned consortium (DIR/consortium.json), validated; undefined on a lone node. */
export function readPinnedConsortium(dir: string): Consortium | undefined {
  const path = consortiumPath(dir)
  return existsSync(path) ? readConsortiumFile(path) : undefined
}

/** Writes a consortium file atomically, pretty-printed (its hash is over the RFC 8785 form). */
export function writeConsortiumFile(path: string, c: Consortium): void {
  const tmp = `${path}.tmp-${process.pid}`
  writeFileSync(tmp, JSON.stringify(c, null, 2) + '\n')
  renameSync(tmp, path)
}

/** A member by did or EVM address. */
export function findMember(c: Consortium | undefined, key: { did: string } | { address: string }): ConsortiumMember | undefined {
  if (!c) return undefined
  return 'did' in key ? c.members.find((m) => m.did === key.did) : c.members.find((m) => sameAddress(m.address, key.address))
}

/**
 * The log a member's claims must come from: the pinned CheckpointAnchor and log key of
 * the node that holds it. `c` is the pinned consortium, or a lone node's own (see
 * service/consortium.ts `trustRootsOf`). Undefined for a non-member or a member without log.
 *
 * @example
 * trustedLogFor(consortium, 'did:key:z6Mk…') // { origin: 'provena.log/…', vkey: '…', anchor: '0x…', … }
 */
export function trustedLogFor(c: Consortium, member: string | { did: string } | { address: string }): MemberLog | undefined {
  const key = typeof member === 'string' ? (member.startsWith('did:') ? { did: member } : { address: member }) : member
  return findMember(c, key)?.log ?? undefined
}

/** Whether `anchor` is the CheckpointAnchor of a member's log. */
export function isTrustedAnchor(c: Consortium, anchor: string): boolean {
  return c.members.some((m) => m.log && sameAddress(m.log.anchor, anchor))
}

/** The trust roots two consortium files disagree on: chainId, contracts.<name>, admin. */
export function changedTrustRoots(pinned: Consortium, next: Consortium): string[] {
  const changed: string[] = []
  if (pinned.chainId !== next.chainId) changed.push(`chainId ${pinned.chainId} → ${next.chainId}`)
  for (const n of SHARED_CONTRACTS) if (!sameAddress(pinned.contracts[n], next.contracts[n])) changed.push(`${n} ${pinned.contracts[n]} → ${next.contracts[n]}`)
  if (pinned.admin.did !== next.admin.did || !sameAddress(pinned.admin.address, next.admin.address)) changed.push(`admin ${pinned.admin.address} → ${next.admin.address}`)
  return changed
}
