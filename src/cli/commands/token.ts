import type { Command } from 'commander'
import { API_SCOPES, createToken, listTokens, parseLifetime, revokeToken, type ApiToken } from '../../api/index.js'
import { ROLES } from '../../access/index.js'
import { emit, type CommonOptions } from '../output.js'
import { action, common, withProvena } from '../session.js'

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString())
const tokenJson = (t: ApiToken, now = Date.now()) => ({
  id: t.id,
  name: t.name,
  did: t.did,
  role: t.role,
  scopes: t.scopes,
  createdAt: iso(t.createdAt),
  expiresAt: iso(t.expiresAt),
  revokedAt: iso(t.revokedAt),
  status: t.revokedAt !== null ? 'revoked' : now >= t.expiresAt ? 'expired' : 'active',
})

export function registerToken(program: Command): void {
  const token = program.command('token').description('API tokens for people and scripts calling provena serve (stored hashed, scoped, expiring, revocable)')

  common(token.command('create').description('create a token and print it once (pvn_<id>_<secret>): only its hash is kept'))
    .requiredOption('--as <name>', 'an identity of this data dir (name or DID: the token acts as it) or a name for a script')
    .requiredOption('--role <role>', `the role: ${ROLES.join(', ')} (an identity's own role)`)
    .requiredOption('--scope <scope>', `a route group, repeatable: ${API_SCOPES.join(', ')}`, (s: string, all: string[] = []) => [...all, s])
    .option('--expires <duration>', 'lifetime: 30d, 12h, 90m (at most 365d)', '30d')
    .action(
      action(async (opts: CommonOptions & { as: string; role: string; scope: string[]; expires: string }) => {
        const lifetimeMs = parseLifetime(opts.expires)
        await withProvena(opts, async (p) => {
          const { token: secret, info } = createToken(p.db, p.dir, { as: opts.as, role: opts.role, scopes: opts.scope, lifetimeMs })
          emit(opts, { token: secret, ...tokenJson(info) }, () =>
            [
              `Token ${info.id} for ${info.name} (${info.role}; ${info.scopes.join(', ')}), expires ${iso(info.expiresAt)}:`,
              '',
              `  ${secret}`,
              '',
              'It is shown once: only its SHA-256 is kept. Send it as Authorization: Bearer <token>.',
            ].join('\n'),
          )
        })
      }),
    )

  common(token.command('list').description("the data dir's tokens (never their secrets)")).action(
    action(async (opts: CommonOptions) => {
      await withProvena(opts, async (p) => {
        const now = Date.now()
        const tokens = listTokens(p.db).map((t) => tokenJson(t, now))
        emit(opts, { tokens }, () =>
          tokens.length === 0
            ? '(no tokens: provena token create --as NAME --role ROLE --scope SCOPE)'
            : tokens.map((t) => [t.id, t.status.padEnd(7), t.name.padEnd(20), t.role.padEnd(10), t.scopes.join(','), `expires ${t.expiresAt}`].join('  ')).join('\n'),
        )
      })
    }),
  )

  common(token.command('revoke').argument('<id>', 'the token id (16 hex digits, from token list)').description('revoke a token: refused from the next request on')).action(
    action(async (id: string, opts: CommonOptions) => {
      await withProvena(opts, async (p) => {
        const t = revokeToken(p.db, id)
        emit(opts, tokenJson(t), () => `Token ${t.id} (${t.name}) revoked at ${iso(t.revokedAt)}`)
      })
    }),
  )
}
