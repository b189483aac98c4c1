import type { Command } from 'commander'
import { listIdentities, ROLES } from '../../access/index.js'
import { createMemberIdentity, resolveDataDir } from '../../app/index.js'
import { emit, type CommonOptions } from '../output.js'
import { askPassphrase } from '../passphrase.js'
import { action, common, withChain } from '../session.js'

export function registerIdentity(program: Command): void {
  const identity = program.command('identity').description('consortium identities: signing (did:key), HPKE and EVM keys in a passphrase-sealed keystore')

  common(identity.command('create').argument('<name>', 'a name: letters, digits, . _ -').description('create an identity and make it a member in AccessPolicy (PROVENA_PASSPHRASE unlocks the keystore)'))
    .option('--role <role>', `one of ${ROLES.join(', ')}`, 'controller')
    .action(
      action(async (name: string, opts: CommonOptions & { role: string }) => {
        const passphrase = await askPassphrase()
        await withChain(opts, async (p, chain) => {
          const { identity: id, transactionHash: tx } = await createMemberIdentity(p, chain, name, opts.role, passphrase)
          emit(opts, { ...id, member: true, accessPolicy: chain.deployment.AccessPolicy, transactionHash: tx }, () =>
            [
              `Created identity ${id.name} (${id.role})`,
              `  did      ${id.did}`,
              `  HPKE     X25519 ${id.x25519PublicKey}`,
              `  account  ${id.address}, member of AccessPolicy ${chain.deployment.AccessPolicy}`,
            ].join('\n'),
          )
        })
      }),
    )

  common(identity.command('list').description('the identities of this data dir (public facts; no passphrase needed)')).action(
    action(async (opts: CommonOptions) => {
      const ids = listIdentities(resolveDataDir(opts.dir))
      emit(opts, { identities: ids }, () => ids.map((i) => `${i.name.padEnd(16)} ${i.role.padEnd(10)} ${i.address}  ${i.did}`).join('\n') || '(no identities: provena identity create NAME)')
    }),
  )
}
