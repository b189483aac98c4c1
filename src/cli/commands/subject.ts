import type { Command } from 'commander'
import { announceErasure, eraseSubject, memberClient, unlockIdentity } from '../../access/index.js'
import { anchorNow, resolveDataDir } from '../../app/index.js'
import { emit, type CommonOptions } from '../output.js'
import { askPassphrase } from '../passphrase.js'
import { action, common, withDataPlane } from '../session.js'

export function registerSubject(program: Command): void {
  const subject = program.command('subject').description("a data subject's rights")
  common(subject.command('erase').argument('<subject-id>', "the controller's own id of the subject").description('erase a subject: destroy their data key and salts, log it'))
    .requiredOption('--as <name>', 'the controller identity')
    .action(
      action(async (subjectId: string, opts: CommonOptions & { as: string }) => {
        const controller = unlockIdentity(resolveDataDir(opts.dir), opts.as, await askPassphrase())
        await withDataPlane(opts, async (p, chain, plane) => {
          const r = eraseSubject(plane, subjectId, controller)
          // Tell grantees on-chain to delete what they exported (the erasure is final already).
          const tx = await announceErasure(await memberClient(chain.client, controller), chain.deployment, r.pseudonym, r.datasets)
          const a = await anchorNow(p, chain)
          emit(opts, { ...r, announcement: tx, checkpoint: { treeSize: a.anchoredSize } }, () =>
            [
              `Erased subject ${subjectId}: ${r.records} record(s) in ${r.datasets.length} dataset(s) can no longer be decrypted or linked`,
              `  pseudonym  ${r.pseudonym}`,
              `  log        entry ${r.logIndex}, anchored in checkpoint of size ${a.anchoredSize}`,
              `  chain      AccessPolicy.SubjectErased in tx ${tx}: grantees delete their copies`,
            ].join('\n'),
          )
        })
      }),
    )
}
