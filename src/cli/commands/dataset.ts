import type { Command } from 'commander'
import { anchorNow } from '../../app/index.js'
import { registerDataset, verifyDataset } from '../../registry/index.js'
import { emit, progressBar, short, VerificationFailed, type CommonOptions } from '../output.js'
import { action, common, registryContext, withChain, withProvena } from '../session.js'

const lineList = (lines: number[]) => (lines.length > 20 ? `${lines.slice(0, 20).join(', ')}, … (${lines.length} in all)` : lines.join(', '))

export function registerDataset_(program: Command): void {
  const dataset = program.command('dataset').description('register datasets and check files against them')

  common(dataset.command('register').argument('<file>', 'CSV file with a header, JSON Lines file, or directory').description('commit every record and register the dataset on-chain'))
    .option('--name <name>', 'a name for people (default: the file name)')
    .action(
      action(async (file: string, opts: CommonOptions & { name?: string }) => {
        await withChain(opts, async (p, chain) => {
          const bar = progressBar('hashing')
          const r = await registerDataset(registryContext(p, chain), file, { name: opts.name, onProgress: bar.update })
          bar.end()
          const anchor = await anchorNow(p, chain)
          emit(opts, { ...r, checkpoint: { treeSize: anchor.anchoredSize, rootHash: anchor.anchoredRoot.toString('hex') } }, () =>
            [
              r.existing ? `Already registered: ${r.name}` : `Registered dataset ${r.name}`,
              `  id       ${r.id}`,
              `  root     ${r.root}`,
              `  records  ${r.records} (${r.format})`,
              `  log      entry ${r.logIndex}, anchored in checkpoint of size ${anchor.anchoredSize}`,
              r.transactionHash ? `  chain    tx ${r.transactionHash}` : '',
            ]
              .filter(Boolean)
              .join('\n'),
          )
        })
      }),
    )

  common(dataset.command('verify').argument('<file>', 'the dataset file to check').description('re-read a file and report which records changed, appeared or disappeared'))
    .requiredOption('--id <id>', 'the registered dataset id (or a unique prefix)')
    .action(
      action(async (file: string, opts: CommonOptions & { id: string }) => {
        await withProvena(opts, async (p) => {
          const bar = progressBar('verifying')
          const v = await verifyDataset({ db: p.db, log: p.log, signer: p.signer, operatorDid: p.operatorDid }, file, opts.id, bar.update)
          bar.end()
          emit(opts, v, () => {
            if (v.ok) return `OK: all ${v.records} records of ${short(v.id)} match ${file}`
            const out = [`TAMPERED: ${file} differs from dataset ${short(v.id)}`]
            if (v.schemaChanged) out.push('  the header (columns) changed')
            if (v.changed.length) out.push(`  changed  line ${lineList(v.changed)}`)
            if (v.added.length) out.push(`  added    line ${lineList(v.added)}`)
            if (v.missing.length) out.push(`  missing  line ${lineList(v.missing)} (as registered)`)
            return out.join('\n')
          })
          if (!v.ok) throw new VerificationFailed()
        })
      }),
    )
}
