import type { Command } from 'commander'
import { listIdentities, ROLES } from '../../access/index.js'
import { resolveDataDir } from '../../app/index.js'
import { createIdentity, showIdentity } from '../../service/index.js'
import { emit, type CommonOptions } from '../output.js'
import { askPassphrase } from '../passphrase.js'
import { action, common, withChain, withProvena } from '../session.js'

export function registerIdentity(program: Command): void {
  const identity = program.command('identity').description('consortium identities: signing (did:key), HPKE and EVM keys in a passphrase-sealed keystore')

  common(identity.command('create').argument('<name>', 'a name: letters, digits, . _ -').description("create an identity; a lone node or the consortium's admin makes it a member in AccessPolicy (PROVENA_PASSPHRASE unlocks the keystore)"))
    .option('--role <role>', `one of ${ROLES.join(', ')}`, 'controller')
    .action(
      action(async (name: string, opts: CommonOptions & { role: string }) => {
        const passphrase = await askPassphrase()
        await withChain(opts, async (p, chain) => {
          const { identity: id, member, transactionHash: tx, adminCommand } = await createIdentity(p, chain, name, opts.role, passphrase)
          emit(opts, { ...id, member, accessPolicy: chain.deployment.AccessPolicy, transactionHash: tx, adminCommand }, () =>
            [
              `Created identity ${id.name} (${id.role})`,
              `  did      ${id.did}`,
              `  HPKE     X25519 ${id.x25519PublicKey}`,
              member
                ? `  account  ${id.address}, member of AccessPolicy ${chain.deployment.AccessPolicy}`
                : `  account  ${id.address}, NOT a member yet: only the consortium's admin adds members`,
              ...(adminCommand
                ? ['', `Send its card to the admin:  provena identity show ${id.name} --json > card.json`, `The admin then runs:         ${adminCommand}`]
                : []),
            ].join('\n'),
          )
        })
      }),
    )

  common(identity.command('show').argument('<name>', 'an identity of this data dir').description('an identity\'s public facts, its node\'s log and its card signed with its key (the card needs PROVENA_PASSPHRASE; without it, card is null)'))
    .option('--endpoint <url>', "advertise this node: its provena serve base URL and its witness key go in the card (needs PROVENA_PASSPHRASE)")
    .action(
    action(async (name: string, opts: CommonOptions & { endpoint?: string }) => {
      // The card is signed only when the passphrase is at hand: no prompt, so that
      // `identity show NAME --json` stays usable in scripts for the public part.
      const passphrase = process.env.PROVENA_PASSPHRASE || undefined
      await withProvena(opts, async (p) => {
        const m = showIdentity(p, name, passphrase, { endpoint: opts.endpoint })
        const node = { ...(m.endpoint !== undefined ? { endpoint: m.endpoint } : {}), ...(m.witness !== undefined ? { witness: m.witness } : {}) }
        const out = { did: m.did, address: m.address, x25519: m.x25519, name: m.name, role: m.role, log: m.log, ...node, card: m.card }
        emit(opts, out, () =>
          [
            `${m.name} (${m.role})`,
            `  did      ${m.did}`,
            `  account  ${m.address}`,
            `  HPKE     X25519 ${m.x25519}`,
            m.log ? `  log      ${m.log.origin}, anchor ${m.log.anchor}, consent verifier ${m.log.consentVerifier}, operator ${m.log.operator}` : '  log      none yet (the node deploys its anchor at its first chain command)',
            m.log ? `  vkey     ${m.log.vkey}` : '',
            m.endpoint ? `  node     ${m.endpoint}` : '',
            m.witness ? `  witness  ${m.witness}` : '',
            m.card ? `  card     signed by ${m.did} (--json prints it)` : '  card     not signed: set PROVENA_PASSPHRASE to sign it with the identity\'s key',
          ]
            .filter(Boolean)
            .join('\n'),
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
