import type { Command } from 'commander'
import { controllerName, controllerSecrets, pseudonymOf, unlockIdentity } from '../../access/index.js'
import { subjectReport, type LoggedEvent } from '../../audit/index.js'
import { readLatestAnchor } from '../../chain/index.js'
import { ProvenaError } from '../../errors.js'
import { consentContext } from '../../service/index.js'
import { anchorNow, resolveDataDir } from '../../app/index.js'
import { eraseSubject, type EraseReport } from '../../service/index.js'
import { remoteCall, remoteNode, type RemoteOptions } from '../remote.js'
import { emit, type CommonOptions } from '../output.js'
import { askPassphrase } from '../passphrase.js'
import { action, common, withChain, withDataPlane } from '../session.js'

/** What `subject erase` prints. */
function eraseText(subjectId: string, r: EraseReport): string {
  return [
    `Erased subject ${subjectId}: ${r.records} record(s) in ${r.datasets.length} dataset(s) can no longer be decrypted or linked`,
    `  pseudonym  ${r.pseudonym}`,
    `  log        entry ${r.logIndex}, anchored in checkpoint of size ${r.checkpoint.treeSize}`,
    `  chain      AccessPolicy.SubjectErased in tx ${r.announcement}: grantees delete their copies`,
  ].join('\n')
}

export function registerSubject(program: Command): void {
  const subject = program.command('subject').description("a data subject's rights")
  common(subject.command('erase').argument('<subject-id>', "the controller's own id of the subject").description('erase a subject: destroy their data key and salts, log it'))
    .option('--as <name>', 'the controller identity (default: the only one)')
    .action(
      action(async (subjectId: string, opts: RemoteOptions & { as?: string }) => {
        const node = remoteNode(opts)
        if (node) {
          const r = await remoteCall<EraseReport>(node, 'POST', `/v1/subjects/${encodeURIComponent(subjectId)}/erase`, { json: opts.as ? { as: opts.as } : {} })
          emit(opts, r, () => eraseText(subjectId, r))
          return
        }
        const controller = unlockIdentity(resolveDataDir(opts.dir), controllerName(resolveDataDir(opts.dir), opts.as), await askPassphrase())
        await withDataPlane(opts, async (p, chain, plane) => {
          const r = await eraseSubject({ p, chain, plane }, subjectId, controller)
          emit(opts, r, () => eraseText(subjectId, r))
        })
      }),
    )

  common(subject.command('report').argument('<subject-id>', "the controller's own id of the subject").description('everything recorded about a subject\'s data: consents, imports, manifests, exports, erasure, with proofs'))
    .option('--as <name>', 'the controller identity (default: the only one)')
    .action(
      action(async (subjectId: string, opts: CommonOptions & { as?: string }) => {
        const controller = unlockIdentity(resolveDataDir(opts.dir), controllerName(resolveDataDir(opts.dir), opts.as), await askPassphrase())
        const pseudonym = pseudonymOf(controllerSecrets(controller).pseudonymKey, subjectId)
        await withChain(opts, async (p, chain) => {
          await anchorNow(p, chain)
          const anchored = await readLatestAnchor(chain.client.publicClient, chain.deployment.CheckpointAnchor)
          const r = subjectReport({ ...consentContext(p), log: p.log }, pseudonym, anchored)
          if (!r.consents.length && !r.datasets.length && !r.erasure) {
            throw new ProvenaError('SUBJECT_UNKNOWN', `nothing is recorded about subject "${subjectId}" under controller ${controller.name}`)
          }
          const line = (e: LoggedEvent) => `    log ${String(e.logIndex).padStart(6)}  ${e.time}  ${e.summary}${e.proof?.verified ? '  [proof ok]' : e.proof ? '  [PROOF FAILED]' : '  [not anchored yet]'}`
          emit(opts, { subject: subjectId, anchored: { treeSize: anchored.treeSize, rootHash: anchored.rootHash.toString('hex') }, ...r }, () =>
            [
              `Subject ${subjectId} (pseudonym ${r.pseudonym.slice(0, 16)}…)${r.erased ? ': ERASED' : ''}`,
              `  consents`,
              ...(r.consents.length ? r.consents.flatMap((c) => [`   ${c.purpose}: ${c.state}${c.validUntil ? ` until ${c.validUntil}` : ''}`, ...c.history.map(line)]) : ['    none recorded']),
              `  datasets holding their records`,
              ...(r.datasets.length ? r.datasets.flatMap((d) => [`   ${d.name} ${d.dataset.slice(0, 12)}: record(s) ${d.records.join(', ')}`, line(d.registered)]) : ['    none']),
              `  training manifests that included them`,
              ...(r.manifests.length ? r.manifests.map(line) : ['    none']),
              `  models trained on them (federated rounds that used those manifests)`,
              ...(r.models.length ? r.models.map((m) => `    task ${m.task} round ${m.round}${m.model ? ` → model ${m.model.slice(0, 16)}…` : ' (task not finished)'}`) : ['    none']),
              `  exports of those datasets`,
              ...(r.exports.length ? r.exports.map(line) : ['    none']),
              `  erasure`,
              r.erasure ? line(r.erasure) : '    not erased',
              `  proofs: RFC 9162 inclusion in the log anchored at size ${anchored.treeSize} (root ${anchored.rootHash.toString('hex').slice(0, 16)}…)`,
            ].join('\n'),
          )
        })
      }),
    )
}
