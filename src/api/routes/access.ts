import type { FastifyInstance } from 'fastify'
import { listIdentities, unlockIdentity, type UnlockedIdentity, accessErrors } from '../../access/index.js'
import { faultPoint } from '../../chain/index.js'
import { ProvenaError } from '../../errors.js'
import { claimedHeader, SEGMENTS_PER_REQUEST } from '../../node/index.js'
import { releaseAccess, releasedSegment } from '../../service/index.js'
import type { RouteAuth } from '../auth.js'
import type { ApiContext } from '../context.js'

/** Members of any role may ask; the controller's node decides (AccessPolicy, consent). */
const auth: RouteAuth = { scope: 'access:release', roles: ['controller', 'processor', 'trainer', 'auditor'] }

const ENVELOPE = {
  type: 'object',
  additionalProperties: false,
  required: ['payloadType', 'payload', 'signatures'],
  description: 'a DSSE envelope: the access request message (src/node/messages.ts), signed by the requester',
  properties: {
    payloadType: { type: 'string', maxLength: 256 },
    payload: { type: 'string', maxLength: 65536, pattern: '^[A-Za-z0-9+/=]*$' },
    signatures: {
      type: 'array',
      minItems: 1,
      maxItems: 4,
      items: { type: 'object', additionalProperties: false, required: ['sig'], properties: { keyid: { type: 'string', maxLength: 256 }, sig: { type: 'string', maxLength: 256 } } },
    },
  },
} as const

/**
 * POST /v1/access/release: a member's signed access request, answered with a key release
 * (issue 12's `access release`, over HTTP); GET /v1/segments/{cid}[,{cid}…]: the ciphertext
 * segments a release names, to the member it was issued to, until it expires.
 */
export async function accessRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const plane = () => {
    if (!ctx.plane) throw new ProvenaError('INTERNAL', 'this server was started without a block store: it cannot release keys or serve segments')
    return { p: ctx.p, chain: ctx.chain, plane: ctx.plane }
  }
  // Controller identities unlocked once (scrypt is slow), by DID.
  const unlocked = new Map<string, UnlockedIdentity>()
  const identityOf = (did: string): UnlockedIdentity => {
    let who = unlocked.get(did)
    if (!who) {
      const found = listIdentities(ctx.dir).find((i) => i.did === did)
      if (!found) throw new ProvenaError('ACCESS_UNKNOWN_MEMBER', `the request is addressed to ${did}, not an identity of this node`, { hint: "address the request to the dataset's controller on this node" })
      if (!ctx.passphrase) throw accessErrors.noPassphrase()
      who = unlockIdentity(ctx.dir, found.name, ctx.passphrase)
      unlocked.set(did, who)
    }
    return who
  }

  app.post<{ Body: { request: { payloadType: string; payload: string; signatures: { keyid?: string; sig: string }[] } } }>(
    '/v1/access/release',
    {
      config: { auth },
      schema: {
        operationId: 'releaseAccess',
        summary: "Answer a member's signed access request with a key release",
        description:
          'The request is checked as `provena access release` checks a file: signed by a pinned member, addressed to the dataset\'s controller here, in its time window, a nonce never seen; AccessPolicy allows it now; the consent gate leaves out subjects without consent. The release, or the refusal, is logged and anchored. The HTTP request must be signed by the same member as the message.',
        tags: ['access'],
        body: { type: 'object', additionalProperties: false, required: ['request'], properties: { request: ENVELOPE } },
        response: {
          200: {
            type: 'object',
            required: ['release', 'records', 'segments'],
            properties: {
              release: { type: 'object', additionalProperties: true, description: 'the key release (a DSSE envelope), sealed to the requester' },
              records: { type: 'integer' },
              excluded: { type: 'object', additionalProperties: { type: 'integer' } },
              segments: { type: 'integer', description: 'ciphertext segments to fetch at /v1/segments/{cid}' },
            },
          },
        },
      },
    },
    async (request, reply) => {
      // Test hook (PROVENA_FAULT=api:after-release): killed once the release is answered.
      reply.raw.once('finish', () => faultPoint('api:after-release'))
      const claimed = claimedHeader(request.body.request)
      const caller = request.principal?.did ?? null
      if (caller === null || claimed?.from !== caller) {
        throw new ProvenaError('MESSAGE_WRONG_SENDER', `the request message is from ${claimed?.from ?? 'no one'}, the HTTP request from ${caller ?? 'no member'}: a member posts its own requests`)
      }
      if (typeof claimed.to !== 'string') throw new ProvenaError('MESSAGE_MALFORMED', 'the request names no recipient ("to")')
      const r = await releaseAccess(plane(), { request: request.body.request, as: identityOf(claimed.to), serveSegments: true })
      return { release: r.release, records: r.records, excluded: r.excluded, segments: r.body.segments.length }
    },
  )

  app.get<{ Params: { cid: string } }>(
    '/v1/segments/:cid',
    {
      config: { auth },
      schema: {
        operationId: 'getSegment',
        summary: 'Ciphertext segments named by a key release this node issued to the caller',
        description: `One CID, or up to ${SEGMENTS_PER_REQUEST} separated by commas (one request, one signature, for several): their bytes concatenated in that order, each one's length in the Provena-Segment-Lengths header. All or none: a CID not released to the caller refuses the request.`,
        tags: ['access'],
        params: {
          type: 'object',
          required: ['cid'],
          properties: { cid: { type: 'string', pattern: `^[a-z0-9]{10,128}(,[a-z0-9]{10,128}){0,${SEGMENTS_PER_REQUEST - 1}}$`, description: 'CIDv1 (raw, sha2-256), base32; several separated by commas' } },
        },
        response: {
          200: {
            description: "the segments' bytes (AES-256-GCM records; each hashes to its CID)",
            headers: { 'provena-segment-lengths': { type: 'string', description: 'the length in bytes of each segment, in order, separated by commas' } },
            content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } },
          },
        },
      },
    },
    async (request, reply) => {
      faultPoint('api:before-segment') // test hook: killed in the middle of the segment downloads
      const caller = request.principal?.did
      if (!caller) throw new ProvenaError('ACCESS_SEGMENT_NOT_RELEASED', 'segments are served to the member a release was issued to: this credential is no member')
      const parts: Buffer[] = []
      for (const cid of request.params.cid.split(',')) parts.push(await releasedSegment(plane(), caller, cid))
      return reply
        .type('application/octet-stream')
        .header('cache-control', 'private, no-store')
        .header('provena-segment-lengths', parts.map((b) => b.length).join(','))
        .send(parts.length === 1 ? parts[0] : Buffer.concat(parts))
    },
  )
}
