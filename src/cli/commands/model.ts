import type { Command } from 'commander'
import { registerModelFile } from '../../service/index.js'
import { formatLineage, lineageOf } from '../../registry/index.js'
import { addListCommand } from './dataset.js'
import { emit, progressBar, short, type CommonOptions } from '../output.js'
import { action, common, withChain, withProvena } from '../session.js'

export function registerModel_(program: Command): void {
  const model = program.command('model').description('register trained models with signed provenance')
  addListCommand(model, 'model')
  common(model.command('register').argument('<file>', 'the model file (any format, any size)').description('hash a model file and register it with its training lineage'))
    .requiredOption('--trained-on <id...>', 'dataset id(s) it was trained on (repeat or list; unique prefixes of 6+ hex digits)')
    .option('--name <name>', 'a name for people (default: the file name)')
    .action(
      action(async (file: string, opts: CommonOptions & { trainedOn: string[]; name?: string }) => {
        await withChain(opts, async (p, chain) => {
          const bar = progressBar('hashing')
          const r = await registerModelFile({ p, chain }, file, { trainedOn: opts.trainedOn, name: opts.name, onProgress: bar.update }).finally(() => bar.end())
          emit(opts, r, () =>
            [
              r.existing ? `Already registered: ${r.name}` : `Registered model ${r.name}`,
              `  id          ${r.id}`,
              `  trained on  ${r.trainedOn.map((id) => short(id)).join(', ')}`,
              `  provenance  in-toto Statement (SLSA provenance v1) in a DSSE envelope, digest ${short(r.statementDigest)}`,
              `  log         entry ${r.logIndex}, anchored in checkpoint of size ${r.checkpoint.treeSize}`,
            ].join('\n'),
          )
        })
      }),
    )

  common(program.command('lineage').argument('<id>', 'asset id (or a unique prefix of 6+ hex digits; see provena dataset list, model list)').description('show what an asset derives from and what derives from it'))
    .option('--statement', 'also print the signed provenance statement (DSSE envelope)')
    .action(
      action(async (id: string, opts: CommonOptions & { statement?: boolean }) => {
        await withProvena(opts, async (p) => {
          const l = lineageOf(p.db, id)
          const statement = p.db.prepare('SELECT statement FROM registry_assets WHERE id = ?').pluck().get(l.id) as string | null
          emit(opts, { ...l, statement: statement ? JSON.parse(statement) : null }, () =>
            formatLineage(l) + (opts.statement && statement ? `\n\n${JSON.stringify(JSON.parse(statement), null, 2)}` : ''),
          )
        })
      }),
    )
}
