import type { Command } from 'commander'
import { privateKeyToAccount } from 'viem/accounts'
import { initDataDir, openProvena, resolveDataDir, type Provena } from '../../app/index.js'
import { noteVerifierKey } from '../../log/index.js'
import { joinConsortium } from '../../service/index.js'
import { emit, type CommonOptions } from '../output.js'
import { action, common } from '../session.js'

export function registerInit(program: Command): void {
  common(program.command('init').description('create a data dir: database, log and operator keys'))
    .option('--join <file>', "join a consortium: pin its consortium file (the trust roots); --rpc-url sets the node's chain URL")
    .action(
      action(async (opts: CommonOptions & { join?: string }) => {
        const dir = resolveDataDir(opts.dir)
        let created = true
        let p: Provena
        if (opts.join) p = joinConsortium(dir, opts.join, { rpcUrl: opts.rpcUrl }).p
        else {
          created = initDataDir(dir).created
          p = openProvena(dir)
        }
        const c = p.consortium
        const info = {
          dir,
          created,
          operatorDid: p.operatorDid,
          operatorAddress: privateKeyToAccount(p.evmPrivateKey).address,
          origin: p.signer.origin,
          verifierKey: noteVerifierKey(p.signer.origin, p.signer.publicKey),
          consortium: c ? { chainId: c.chainId, rpcUrl: c.rpcUrl, contracts: c.contracts, admin: c.admin, members: c.members.length } : null,
        }
        p.close()
        emit(opts, info, () =>
          [
            `${created ? 'Created' : 'Already initialised:'} ${dir}`,
            `  log origin   ${info.origin}`,
            `  log key      ${info.verifierKey}`,
            `  operator     ${info.operatorDid}`,
            `  EVM account  ${info.operatorAddress}`,
            ...(c ? [`  consortium   chain ${c.chainId}${c.rpcUrl ? ` at ${c.rpcUrl}` : ''}, AccessPolicy ${c.contracts.AccessPolicy}, ${c.members.length} member(s) (pinned)`] : []),
            '',
            c ? "Next: provena identity create NAME --role ROLE, then hand the card (provena identity show NAME --json) to the consortium's admin" : 'Next: provena dataset register FILE',
          ].join('\n'),
        )
      }),
    )
}
