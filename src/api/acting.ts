// Which identity of the data dir a request acts as (a controller recording consent or
// erasing a subject, an identity exporting): the credential's own, or, for the node
// operator's token (provena serve's, for the CLI on its data dir), the one the request
// names with `as` (default: the only controller), as `--as NAME` does on the CLI.
import { controllerName, findIdentity, unlockIdentity, accessErrors, type UnlockedIdentity } from '../access/index.js'
import { ProvenaError } from '../errors.js'
import type { Principal } from './auth.js'
import type { ApiContext } from './context.js'

/** Identities unlocked once per server (scrypt is slow), by DID. */
const UNLOCKED = new WeakMap<ApiContext, Map<string, UnlockedIdentity>>()

/**
 * The unlocked identity `principal` acts as. A credential of an identity acts as it (an
 * `as` naming another is refused, API_ROLE_DENIED); the operator's acts as `as`, else as
 * the data dir's only controller; a credential of no identity is refused.
 */
export function actingIdentity(ctx: ApiContext, principal: Principal | null, as?: string | undefined): UnlockedIdentity {
  const did = principal?.did ?? null
  if (did === null) {
    throw new ProvenaError('API_ROLE_DENIED', 'the credential acts as no identity of this node: this route acts as one', {
      hint: 'create the token --as an identity of this node',
    })
  }
  const identity = did === ctx.p.operatorDid ? findIdentity(ctx.dir, controllerName(ctx.dir, as)) : findIdentity(ctx.dir, did)
  if (as !== undefined && as !== identity.name && as !== identity.did) {
    throw new ProvenaError('API_ROLE_DENIED', `the credential acts as ${identity.name}, not as ${as}`, { details: { as, identity: identity.did } })
  }
  let cache = UNLOCKED.get(ctx)
  if (!cache) UNLOCKED.set(ctx, (cache = new Map()))
  let who = cache.get(identity.did)
  if (!who) {
    if (!ctx.passphrase) throw accessErrors.noPassphrase()
    who = unlockIdentity(ctx.dir, identity.name, ctx.passphrase)
    cache.set(identity.did, who)
  }
  return who
}
