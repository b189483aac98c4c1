// Signed node-to-node requests (RFC 9421, src/node/httpSignatures.ts) as a credential of
// `provena serve`. The signer must be a member of the node's PINNED consortium file (its
// key is the pinned member's did:key, never one the request brings); its role is the one
// the file gives it, and it must still hold it ON THE CHAIN (AccessPolicy.hasRole) at the
// moment of the request: a member the admin removed on-chain is refused though the file
// still lists it. Without a body, the whole signature is checked in the authenticator;
// with one, the signature over the headers there (before the role: a forged request is
// refused as forged), and the raw bytes against their covered Content-Digest in
// Principal.checkBody, before the body is validated or used. The nonce is recorded, once,
// in the node's database (node_seen_nonces) when everything else passed.
import type { FastifyRequest } from 'fastify'
import { keccak256, toHex, type Hex } from 'viem'
import { AccessPolicyAbi } from '../chain/index.js'
import { ed25519FromDidKey } from '../crypto/index.js'
import { isProvenaError, ProvenaError } from '../errors.js'
import { dbNonceTable, parseSignatureInput, seenNonceIn, SIGNATURE_ERRORS, SIGNATURE_TAG, verifyRequest, type MemberEntry, type VerifyRequestOptions } from '../node/index.js'
import type { Authenticator, Principal } from './auth.js'
import type { ApiContext } from './context.js'
import { apiErrors } from './errors.js'

/**
 * How /openapi.json describes the credential (OpenAPI has no HTTP Message Signatures
 * scheme: an apiKey in the Signature header, the rest said in words).
 */
export const MEMBER_SIGNATURE_SCHEME = {
  type: 'apiKey',
  in: 'header',
  name: 'Signature',
  description:
    'A request from another consortium member\'s node, signed with RFC 9421 HTTP Message Signatures (Signature-Input + Signature, tag "provena", alg "ed25519", keyid = the member\'s did:key; covering @method, @target-uri = this node\'s URL, and with a body content-digest (RFC 9530 sha-256) and content-type; created, expires and a nonce used once). The keyid must be a member of the consortium file this node pins, holding on-chain (AccessPolicy) the role the file gives it; the route\'s roles apply, not token scopes.',
} as const

/** AccessPolicy's name of a consortium role: controller → CONTROLLER_ROLE. */
export const roleId = (role: string) => `${role.toUpperCase()}_ROLE`

/** What a claimed keyid must look like to be written in the log with a refusal: a did:key, bounded (anything else is logged as null). */
const DID_KEY = /^did:key:z[1-9A-HJ-NP-Za-km-z]{1,128}$/

/**
 * The keyid a request's Provena-tagged signature claims (not yet checked), or undefined
 * when none parses or it is no did:key. WARNING: it goes into the node's append-only log
 * with a refusal, so it is never free text an attacker chose.
 */
function claimedKeyId(header: string): string | undefined {
  try {
    for (const input of parseSignatureInput(header).values()) {
      const tag = input.params.get('tag')
      const keyid = input.params.get('keyid')
      if (tag?.type === 'string' && tag.value === SIGNATURE_TAG && keyid?.type === 'string') return DID_KEY.test(keyid.value) ? keyid.value : undefined
    }
  } catch {
    // verifyRequest names what does not parse.
  }
  return undefined
}

/** A refusal with the DID the request claimed in its details, for the refusal's log entry (logRefusal). */
function claimed(e: unknown, did: string | undefined): never {
  if (did !== undefined && isProvenaError(e) && e.details?.did === undefined) {
    throw new ProvenaError(e.code, e.message, { hint: e.hint, details: { ...e.details, did }, cause: e.cause })
  }
  throw e
}

/** Whether a request carries a body (Content-Length above 0, or chunked). */
const hasBody = (request: FastifyRequest) => {
  const length = request.headers['content-length']
  return (length !== undefined && length !== '0') || request.headers['transfer-encoding'] !== undefined
}

/** The verification state of one node (its database's nonce table), per ApiContext. */
const nonceChecks = new WeakMap<ApiContext, VerifyRequestOptions['seenNonce']>()

/**
 * `Signature-Input` + `Signature` (RFC 9421) from a member of the pinned consortium whose
 * role is held on-chain now: Principal { kind: 'signature', id: did, did, name, role,
 * scopes: 'all' } (the route's roles decide). Undefined when the request carries no
 * Signature-Input. Refusals: 401 with the signature's code (API_SIGNATURE_*: unknown key,
 * forged, expired, replayed, wrong target, body altered), 401 API_MEMBER_NO_CONSORTIUM on a
 * lone node, 403 API_MEMBER_ROLE_REVOKED for a member whose role was removed on-chain.
 *
 * @example
 * await buildServer({ p, chain, dir, origin: 'http://127.0.0.1:8080', authenticators: [tokenAuthenticator, memberAuthenticator] })
 * await signedFetch('http://127.0.0.1:8080/v1/datasets', {}, { keyId: lab.did, privateKey: lab.signing.privateKey }) // 200
 */
export const memberAuthenticator: Authenticator = async (request, ctx) => {
  const input = request.headers['signature-input']
  if (input === undefined) return undefined
  const did = claimedKeyId(Array.isArray(input) ? input.join(', ') : input)
  const consortium = ctx.p.consortium
  if (!consortium) throw apiErrors.memberNoConsortium(ctx.dir, did)
  if (ctx.origin === undefined) throw apiErrors.memberNoOrigin(did)
  const origin = new URL(ctx.origin).origin

  // Keys of the pinned members only: a did:key the request names is never decoded as such.
  const members = new Map<string, MemberEntry>(consortium.members.map((m) => [m.did, m]))
  const resolveKey = (keyId: string) => {
    const m = members.get(keyId)
    return m === undefined ? undefined : ed25519FromDidKey(m.did)
  }
  let seenNonce = nonceChecks.get(ctx)
  if (!seenNonce) nonceChecks.set(ctx, (seenNonce = seenNonceIn(dbNonceTable(ctx.p.db), () => ctx.now?.() ?? Date.now())))
  // The target URI as the client sent it (Host and the raw path): a request signed for
  // another node's origin is refused by name (API_SIGNATURE_WRONG_TARGET).
  const host = request.headers.host
  const url = `${new URL(origin).protocol}//${host ?? new URL(origin).host}${request.url}`
  const options = { resolveKey, origins: [origin], now: ctx.now?.() ?? Date.now() }
  const verify = (body: Buffer | undefined) => {
    try {
      return verifyRequest({ method: request.method, url, headers: request.headers, body }, { ...options, seenNonce: seenNonce! })
    } catch (e) {
      claimed(e, did)
    }
  }

  const memberOf = (keyId: string | undefined) => {
    const m = keyId === undefined ? undefined : members.get(keyId)
    if (!m) throw new ProvenaError('INTERNAL', `a signature by ${keyId} held, and it is no member's`) // unreachable: resolveKey knows members only
    return m
  }

  if (!hasBody(request)) {
    // No body: the whole signature now, its nonce recorded.
    const member = memberOf(verify(undefined).keyId)
    await checkRoleOnChain(ctx, member)
    return principalOf(member)
  }
  // A body: the signature over the headers now (it covers Content-Digest, not the bytes),
  // so that a forged request is refused as such and never logged as the member's; the
  // bytes against their digest, and the nonce, in checkBody. verifyRequest checks the body
  // after the signature (httpSignatures.ts), so a digest mismatch here means the headers held.
  let keyId = did
  try {
    keyId = verifyRequest({ method: request.method, url, headers: request.headers, body: undefined }, { ...options, seenNonce: () => false }).keyId
  } catch (e) {
    if (!isProvenaError(e, SIGNATURE_ERRORS.digestMismatch)) claimed(e, did)
  }
  const member = memberOf(keyId)
  await checkRoleOnChain(ctx, member)
  return { ...principalOf(member), checkBody: (raw) => void verify(raw) }
}

const principalOf = (m: MemberEntry): Principal => ({ kind: 'signature', id: m.did, name: m.name, did: m.did, role: m.role, scopes: 'all' })

/** Throws API_MEMBER_ROLE_REVOKED (403) when `member` no longer holds its role in the pinned AccessPolicy. */
async function checkRoleOnChain(ctx: ApiContext, member: MemberEntry): Promise<void> {
  const held = (await ctx.chain.client.publicClient.readContract({
    address: ctx.p.consortium!.contracts.AccessPolicy,
    abi: AccessPolicyAbi,
    functionName: 'hasRole',
    args: [keccak256(toHex(roleId(member.role))), member.address as Hex],
  })) as boolean
  if (!held) throw apiErrors.memberRoleRevoked(member.did, member.name, member.role, member.address)
}
