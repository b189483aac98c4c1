import type { Command } from 'commander'
import { claimDataset, findIdentity, grantAccess, memberClient, revokeAccess, unlockIdentity } from '../../access/index.js'
import { anchorNow, resolveDataDir } from '../../app/index.js'
import { canonicalJson } from '../../crypto/index.js'
import { ProvenaError } from '../../errors.js'
import { getAsset } from '../../registry/index.js'
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
          const dataset = getAsset(p.db, id).id
          const client = await memberClient(chain.client, controller)
          await claimDataset(chain.client, chain.deployment, dataset, controller.address)
          const tx = await grantAccess(client, chain.deployment, dataset, grantee.address, opts.purpose, expiresAt)
          const event = { type: 'provena.access.granted/v1', actor: controller.did, time: new Date().toISOString(), dataset, grantee: grantee.did, purpose: opts.purpose, expiresAt: expiresAt || null, transaction: tx }
          p.log.append([Buffer.from(canonicalJson(event), 'utf8')])
          await anchorNow(p, chain)
          emit(opts, { dataset, grantee: grantee.did, purpose: opts.purpose, expiresAt: expiresAt || null, transactionHash: tx }, () =>
            `Granted ${grantee.name} dataset ${short(dataset)} for ${opts.purpose}${expiresAt ? ` until ${new Date(expiresAt * 1000).toISOString()}` : ''} (tx ${tx})`,
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
          const dataset = getAsset(p.db, id).id
          const revoked = await revokeAccess(await memberClient(chain.client, controller), chain.deployment, dataset, grantee.address, opts.purpose)
          if (revoked.length === 0) throw new ProvenaError('ACCESS_NO_GRANT', `${grantee.name} holds no active grant of dataset ${short(dataset)}${opts.purpose ? ` for ${opts.purpose}` : ''}`)
          const event = { type: 'provena.access.revoked/v1', actor: controller.did, time: new Date().toISOString(), dataset, grantee: grantee.did, purposes: revoked }
          p.log.append([Buffer.from(canonicalJson(event), 'utf8')])
          await anchorNow(p, chain)
          emit(opts, { dataset, grantee: grantee.did, revokedPurposes: revoked }, () => `Revoked ${revoked.length} grant(s) of ${grantee.name} on dataset ${short(dataset)}`)
        })
      }),
    )
}
