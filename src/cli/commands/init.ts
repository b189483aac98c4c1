import type { Command } from 'commander'
import { existsSync } from 'node:fs'
import { configPath, initDataDir, openProvena, resolveDataDir } from '../../app/index.js'
import { noteVerifierKey } from '../../log/index.js'
import { emit, type CommonOptions } from '../output.js'
import { askPassphrase } from '../passphrase.js'
import { action, common } from '../session.js'

export function registerInit(program: Command): void {
  common(program.command('init').description('create a data dir: database, log and operator keys'))
    .action(
      action(async (opts: CommonOptions) => {
        const dir = resolveDataDir(opts.dir)
        // The operator key is sealed under the passphrase; an existing data dir needs none.
        const { created } = initDataDir(dir, existsSync(configPath(dir)) ? undefined : await askPassphrase('Passphrase for the new keystore: '))
        const p = openProvena(dir)
        const info = {
          dir,
          created,
          operatorDid: p.operatorDid,
          operatorAddress: p.operatorAddress,
          origin: p.signer.origin,
          verifierKey: noteVerifierKey(p.signer.origin, p.signer.publicKey),
        }
        p.close()
        emit(opts, info, () =>
          [
            `${created ? 'Created' : 'Already initialised:'} ${dir}`,
            `  log origin   ${info.origin}`,
            `  log key      ${info.verifierKey}`,
            `  operator     ${info.operatorDid}`,
            `  EVM account  ${info.operatorAddress}`,
            '',
            'Next: provena dataset register FILE',
          ].join('\n'),
        )
      }),
    )
}
