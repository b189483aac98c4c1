import type { Command } from 'commander'
import { findIdentity, unlockIdentity } from '../../access/index.js'
import { resolveDataDir } from '../../app/index.js'
import { ProvenaError } from '../../errors.js'
import { grantAccess, revokeAccess } from '../../service/index.js'
import { emit, short, type CommonOptions } from '../output.js'
import { askPassphrase } from '../passphrase.js'
import { action, common, withChain } from '../session.js'

function parseExpiry(text: string | undefined): number {
  if (text === undefined) return 0
  const t = Date.parse(text)
  if (Number.isNaN(t)) throw new ProvenaError('CLI_BAD_ARGUMENT', `--expires "${text}" is not an ISO 8601 time`, { hint: 'e.g. --expires 2027-06-30T00:00:00Z' })
  if (t <= Date.now()) throw new ProvenaError('ACCESS_EXPIRY_IN_PAST', `--expires ${text} is in the past`)
  return Math.floor(t / 1000)
}

export function registerAccess(program: Command): void {
  const access = program.command('access').description('on-chain access grants (AccessPolicy)')

  common(access.command('grant').argument('<dataset>', 'dataset id (or a unique prefix of 6+ hex digits; see provena dataset list)').description('let a member use a dataset for a purpose, decided on-chain'))
    .requiredOption('--to <who>', 'grantee: identity name or did:key')
    .requiredOption('--purpose <purpose>', 'e.g. dpv:ScientificResearch')
    .option('--expires <iso-time>', 'when the grant ends (default: never)')
    .requiredOption('--as <name>', 'the dataset\'s controller')
    .action(
      action(async (id: string, opts: CommonOptions & { to: string; purpose: string; expires?: string; as: string }) => {
        const dir = resolveDataDir(opts.dir)
        const expiresAt = parseExpiry(opts.expires)
        const grantee = findIdentity(dir, opts.to)
        const controller = unlockIdentity(dir, opts.as, await askPassphrase())
        await withChain(opts, async (p, chain) => {
          const r = await grantAccess({ p, chain }, { dataset: id, grantee, purpose: opts.purpose, expiresAt, as: controller })
          emit(opts, { dataset: r.dataset, grantee: r.grantee, purpose: r.purpose, expiresAt: r.expiresAt, transactionHash: r.transactionHash }, () =>
            `${r.already ? 'Already granted' : 'Granted'} ${grantee.name} dataset ${short(r.dataset)} for ${opts.purpose}${expiresAt ? ` until ${new Date(expiresAt * 1000).toISOString()}` : ''}${r.transactionHash ? ` (tx ${r.transactionHash})` : ''}`,
          )
        })
      }),
    )

  common(access.command('revoke').argument('<dataset>', 'dataset id (or a unique prefix of 6+ hex digits; see provena dataset list)').description("end a member's grants of a dataset"))
    .requiredOption('--to <who>', 'grantee: identity name or did:key')
    .option('--purpose <purpose>', 'only this purpose (default: every purpose granted)')
    .requiredOption('--as <name>', 'the dataset\'s controller')
    .action(
      action(async (id: string, opts: CommonOptions & { to: string; purpose?: string; as: string }) => {
        const dir = resolveDataDir(opts.dir)
        const grantee = findIdentity(dir, opts.to)
        const controller = unlockIdentity(dir, opts.as, await askPassphrase())
        await withChain(opts, async (p, chain) => {
          const r = await revokeAccess({ p, chain }, { dataset: id, grantee, purpose: opts.purpose, as: controller })
          emit(opts, { dataset: r.dataset, grantee: r.grantee, revokedPurposes: r.revokedPurposes }, () => `Revoked ${r.revokedPurposes.length} grant(s) of ${grantee.name} on dataset ${short(r.dataset)}`)
        })
      }),
    )
}
