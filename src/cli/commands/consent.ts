import { readFileSync } from 'node:fs'
import type { Command } from 'commander'
import type { Address } from 'viem'
import { controllerName, controllerSecrets, pseudonymOf, unlockIdentity, type UnlockedIdentity } from '../../access/index.js'
import { anchorNow, resolveDataDir, updateConfig } from '../../app/index.js'
import { readAssetRoot, readCheckpointAt, readLatestCheckpoint } from '../../chain/index.js'
import { sha256Hex } from '../../crypto/index.js'
import {
  checkOwnPurpose,
  consentErrors,
  DPV_PURPOSES,
  subjectPurposes,
  consentKey,
  currentRecord,
  recordHistory,
  resolvePurpose,
  stateAt,
  verifyManifest,
  checkManifestTrust,
  type AppliedChange,
  type ManifestReport,
  type TrainingManifest,
} from '../../consent/index.js'
import { ProvenaError } from '../../errors.js'
import { verifyMapProof } from '../../log/index.js'
import { emit, short, VerificationFailed, type CommonOptions } from '../output.js'
import { askPassphrase } from '../passphrase.js'
import { action, common, withChain } from '../session.js'
import { remoteCall, remoteNode, type RemoteOptions } from '../remote.js'
import { importConsent, openTrustRoots, recordConsent, requireController, runTrainingGate, type TrustRootOptions } from '../../service/index.js'

/**
 * Unlocks the identity that records consent: a controller, never a trainer, processor or
 * auditor (their pseudonyms are their own, so their records would only clutter the log).
 */
async function unlockController(opts: CommonOptions & { as?: string }): Promise<UnlockedIdentity> {
  const dir = resolveDataDir(opts.dir)
  const who = unlockIdentity(dir, controllerName(dir, opts.as), await askPassphrase())
  requireController(who)
  return who
}

function changeText(a: AppliedChange, subject: string): string {
  const r = a.record
  return `${r.state === 'given' ? 'Consent given' : r.state === 'withdrawn' ? 'Consent withdrawn' : 'Consent refused'}: subject ${subject} for ${r.purpose.id}${r.validUntil ? ` until ${r.validUntil}` : ''} (record ${short(a.hash)}, log entry ${a.logIndex})`
}

interface ChangeOptions extends RemoteOptions {
  subject: string
  purpose: string
  as?: string
  expires?: string
  dataset?: string
  signer?: string
  issued?: string
  signature?: string
}

export function registerConsent(program: Command): void {
  const consent = program.command('consent').description('consent records, the consent map and the training gate')

  const change = (name: 'grant' | 'withdraw' | 'refuse', state: 'given' | 'withdrawn' | 'refused', description: string) => {
    const cmd = common(consent.command(name).description(description))
      .requiredOption('--subject <id>', "the controller's own subject id (pseudonymised before use)")
      .requiredOption('--purpose <purpose>', 'a W3C DPV purpose (dpv:ScientificResearch) or one of your own')
      .option('--as <name>', 'the controller identity (default: the only one)')
      .option('--dataset <id>', 'limit the consent to one dataset')
      .option('--signer <did>', "the subject's did:key, when the subject signed the statement")
      .option('--issued <iso-time>', 'when the subject signed it')
      .option('--signature <base64>', "the subject's Ed25519 signature of the consent statement")
    if (state === 'given') cmd.option('--expires <iso-time>', 'when the consent ends (default: until withdrawn)')
    cmd.action(
      action(async (opts: ChangeOptions) => {
        if ((opts.signer || opts.signature || opts.issued) && !(opts.signer && opts.signature && opts.issued)) {
          throw new ProvenaError('CLI_BAD_ARGUMENT', 'a subject signature needs --signer, --issued and --signature together')
        }
        const node = remoteNode(opts)
        if (node) {
          // POST /v1/consent, a batch of one, recorded by the node's controller (--as, or the token's identity).
          const change = { subject: opts.subject, purpose: opts.purpose, action: name, expires: opts.expires, dataset: opts.dataset, signer: opts.signer, issued: opts.issued, signature: opts.signature }
          const r = await remoteCall<{ changes: number; unchanged: number; byState: Record<string, number>; firstLogIndex: number; treeSize: number }>(node, 'POST', '/v1/consent', {
            json: { changes: [JSON.parse(JSON.stringify(change))], ...(opts.as ? { as: opts.as } : {}) },
          })
          emit(opts, { subject: opts.subject, purpose: opts.purpose, state, unchanged: r.unchanged > 0, logIndex: r.changes ? r.firstLogIndex : null, treeSize: r.treeSize, node: node.url }, () =>
            r.changes
              ? `${state === 'given' ? 'Consent given' : state === 'withdrawn' ? 'Consent withdrawn' : 'Consent refused'}: subject ${opts.subject} for ${opts.purpose}${opts.expires ? ` until ${opts.expires}` : ''} (log entry ${r.firstLogIndex} of the node at ${node.url}; anchored on its schedule)`
              : `Subject ${opts.subject}'s consent for ${opts.purpose} is ${state} already, as stated: nothing recorded`,
          )
          return
        }
        const controller = await unlockController(opts)
        await withChain(opts, async (p, chain) => {
          const r = await recordConsent({ p, chain }, controller, {
            subjectId: opts.subject,
            purpose: opts.purpose,
            state,
            expires: opts.expires ?? null,
            dataset: opts.dataset ?? null,
            signature: opts.signer ? { signer: opts.signer, issued: opts.issued!, signature: opts.signature! } : undefined,
          })
          const a = r.applied
          if (!a) {
            emit(opts, { unchanged: true, subject: opts.subject, purpose: opts.purpose, state, checkpoint: r.checkpoint }, () =>
              `Subject ${opts.subject}'s consent for ${opts.purpose} is ${state} already, as stated: nothing recorded`,
            )
            return
          }
          emit(opts, { ...a, checkpoint: r.checkpoint }, () => `${changeText(a, opts.subject)}\n  map root ${r.checkpoint.mapRoot}, anchored at size ${r.checkpoint.treeSize}`)
        })
      }),
    )
  }
  change('grant', 'given', "record a subject's consent to a purpose")
  change('withdraw', 'withdrawn', "record a subject's withdrawal: every later manifest leaves their records out")
  change('refuse', 'refused', "record a subject's refusal of a purpose")

  common(consent.command('import').argument('<file>', 'CSV (subject,purpose,action[,expires,dataset,signer,issued,signature]) or JSON Lines').description('apply many consent changes at once: all or none'))
    .option('--as <name>', 'the controller identity (default: the only one)')
    .action(
      action(async (file: string, opts: CommonOptions & { as?: string }) => {
        const controller = await unlockController(opts)
        await withChain(opts, async (p, chain) => {
          const b = await importConsent({ p, chain }, controller, file)
          emit(opts, { file, changes: b.count, unchanged: b.unchanged, byState: b.byState, firstLogIndex: b.firstLogIndex, checkpoint: b.checkpoint }, () =>
            `Applied ${b.count} consent change(s) from ${file} (${Object.entries(b.byState).map(([k, v]) => `${v} ${k}`).join(', ') || 'none'})` +
            (b.unchanged ? `; ${b.unchanged} line(s) state what is recorded already: not logged again` : '') +
            `\n  map root ${b.checkpoint.mapRoot}, anchored at size ${b.checkpoint.treeSize}`,
          )
        })
      }),
    )

  common(consent.command('show').description("a subject's consents: current state, history, proofs against the anchored map"))
    .requiredOption('--subject <id>', "the controller's own subject id")
    .option('--as <name>', 'the controller identity (default: the only one)')
    .option('--purpose <purpose>', 'only this purpose')
    .action(
      action(async (opts: CommonOptions & { subject: string; as: string; purpose?: string }) => {
        const controller = unlockIdentity(resolveDataDir(opts.dir), controllerName(resolveDataDir(opts.dir), opts.as), await askPassphrase())
        const pseudonym = pseudonymOf(controllerSecrets(controller).pseudonymKey, opts.subject)
        await withChain(opts, async (p, chain) => {
          await anchorNow(p, chain)
          const anchored = await readLatestCheckpoint(chain.client.publicClient, chain.deployment.CheckpointAnchor)
          const purposes = opts.purpose
            ? [resolvePurpose(opts.purpose, p.config.purposes).id]
            : subjectPurposes(p, pseudonym, [...DPV_PURPOSES, ...Object.keys(p.config.purposes ?? {})])
          const now = Date.now()
          const consents = purposes.map((purpose) => {
            const key = consentKey(pseudonym, purpose)
            const cur = currentRecord(p, key)
            const proof = p.map.prove(key)
            return {
              purpose,
              state: cur ? stateAt(cur.record, now) : 'no-consent',
              record: cur?.record ?? null,
              recordHash: cur?.hash.toString('hex') ?? null,
              history: recordHistory(p, key).map((h) => ({ logIndex: h.logIndex, hash: h.hash.toString('hex'), state: h.record.state, recordedAt: h.record.recordedAt, validUntil: h.record.validUntil })),
              mapProof: proof,
              proofVerified: anchored ? verifyMapProof(anchored.mapRoot, proof) : false,
            }
          })
          const json = { subject: opts.subject, pseudonym, checkpoint: anchored ? { index: anchored.index, treeSize: anchored.treeSize, mapRoot: anchored.mapRoot.toString('hex') } : null, consents }
          emit(opts, json, () =>
            [
              `Subject ${opts.subject} (pseudonym ${short(pseudonym)})${consents.length ? '' : ': no consent recorded'}`,
              ...consents.flatMap((c) => [
                `  ${c.purpose}: ${c.state}${c.record?.validUntil ? ` (until ${c.record.validUntil})` : ''}; map proof ${c.proofVerified ? 'verified against the anchored map root' : 'NOT verified'}`,
                ...c.history.map((h) => `    log ${String(h.logIndex).padStart(6)}  ${h.recordedAt}  ${h.state}  ${short(h.hash)}`),
              ]),
            ].join('\n'),
          )
        })
      }),
    )

  common(consent.command('check').description('the training gate: which records of a dataset may be used for a purpose, as a verifiable manifest'))
    .requiredOption('--dataset <id>', 'an imported dataset (id, or a unique prefix of 6+ hex digits)')
    .requiredOption('--purpose <purpose>', 'the purpose of the training')
    .option('--at <iso-time>', 'the instant the consents must hold (default: now)')
    .requiredOption('--out <file>', 'where to write the manifest (RFC 8785 JSON)')
    .action(
      action(async (opts: CommonOptions & { dataset: string; purpose: string; at?: string; out: string }) => {
        const at = opts.at ? Date.parse(opts.at) : Date.now()
        if (Number.isNaN(at)) throw consentErrors.badTime(opts.at!, '--at')
        await withChain(opts, async (p, chain) => {
          const g = await runTrainingGate({ p, chain }, { dataset: opts.dataset, purpose: opts.purpose, at, out: opts.out })
          const m = g.manifest
          emit(opts, { manifest: opts.out, hash: g.hash, logIndex: g.logIndex, dataset: g.dataset, purpose: opts.purpose, at: m.at, included: m.included.length, excluded: { ...g.excluded }, checkpoint: m.checkpoint }, () =>
            [
              `Training manifest ${opts.out} (sha256 ${g.hash}, log entry ${g.logIndex})`,
              `  dataset   ${g.dataset} (${g.records} records), purpose ${opts.purpose}, at ${m.at}`,
              `  included  ${m.included.length}`,
              `  excluded  ${m.excluded.length}${m.excluded.length ? ` (${Object.entries(g.excluded).map(([k, v]) => `${v} ${k}`).join(', ')})` : ''}`,
              `  proofs    against the consent map root anchored at checkpoint ${m.checkpoint.index} (size ${m.checkpoint.treeSize})`,
            ].join('\n'),
          )
        })
      }),
    )

  common(consent.command('verify-manifest').argument('<manifest>', 'a training manifest').description("check a training manifest from the chain and its proofs alone (no database), against pinned trust roots: the data dir's consortium (or its own deployment), --consortium FILE, or --anchor/--registry; never the manifest's own addresses"))
    .option('--consortium <file>', "the consortium file whose members' logs and AssetRegistry are trusted")
    .option('--anchor <address>', 'the trusted CheckpointAnchor (with --registry; an outsider given one log)')
    .option('--registry <address>', 'the trusted AssetRegistry (with --anchor)')
    .action(
      action(async (file: string, opts: CommonOptions & TrustRootOptions) => {
        let bytes: Buffer
        try {
          bytes = readFileSync(file)
        } catch (e) {
          throw new ProvenaError('CONSENT_MANIFEST_UNREADABLE', `cannot read ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`)
        }
        let m: TrainingManifest
        try {
          m = JSON.parse(bytes.toString('utf8')) as TrainingManifest
        } catch {
          throw new ProvenaError('CONSENT_MANIFEST_INVALID', `${file} is not JSON`)
        }
        if (typeof m?.chain?.checkpointAnchor !== 'string' || typeof m?.checkpoint?.index !== 'number') throw new ProvenaError('CONSENT_MANIFEST_INVALID', `${file} is not a training manifest (no chain or checkpoint)`)
        // Trust roots first, from the verifier's side; then only the chain.
        const { roots, client, close } = await openTrustRoots({ dir: opts.dir, rpcUrl: opts.rpcUrl, consortium: opts.consortium, anchor: opts.anchor, registry: opts.registry })
        let report: ManifestReport
        try {
          checkManifestTrust(m, roots)
          const chainId = await client.getChainId()
          if (chainId !== m.chain.chainId) throw new ProvenaError('CONSENT_MANIFEST_INVALID', `the manifest was anchored on chain ${m.chain.chainId}; the chain used is chain ${chainId}`)
          // The manifest's anchor is one of the trusted ones (checked above); the registry is the pinned one.
          const checkpoint = await readCheckpointAt(client, m.chain.checkpointAnchor as Address, m.checkpoint.index).catch(() => undefined)
          const datasetRoot = await readAssetRoot(client, roots.assetRegistry as Address, m.dataset.id).catch(() => undefined)
          report = verifyManifest(m, { checkpoint, datasetRoot })
        } finally {
          await close()
        }
        const hash = sha256Hex(bytes)
        emit(opts, { ...report, manifest: file, hash }, () =>
          report.ok
            ? [
                `VERIFIED: ${file} (sha256 ${hash})`,
                `  dataset ${report.dataset}: ${report.included} record(s) included, consent valid for ${report.purpose} at ${report.at}`,
                `  excluded: ${Object.entries(report.excluded).map(([k, v]) => `${v} ${k}`).join(', ') || 'none'}, each with its reason proven`,
                `  against the consent map root anchored on chain ${m.chain.chainId} at checkpoint ${m.checkpoint.index}`,
              ].join('\n')
            : [`FAILED: ${file}: ${report.problems[0]}`, ...report.problems.slice(1, 10).map((x) => `  also: ${x}`)].join('\n'),
        )
        if (!report.ok) throw new VerificationFailed()
      }),
    )

  const purpose = consent.command('purpose').description("the controller's own purposes")
  common(purpose.command('add').argument('<id>', 'the purpose id, e.g. train-sepsis-model').description('declare an own purpose, specialising a W3C DPV purpose'))
    .requiredOption('--dpv <concept>', 'the DPV purpose it specialises, e.g. dpv:ResearchAndDevelopment')
    .option('--description <text>', 'what it is for')
    .action(
      action(async (id: string, opts: CommonOptions & { dpv: string; description?: string }) => {
        checkOwnPurpose(id, opts.dpv)
        const dir = resolveDataDir(opts.dir)
        updateConfig(dir, (c) => ({ ...c, purposes: { ...c.purposes, [id]: { dpv: opts.dpv, ...(opts.description ? { description: opts.description } : {}) } } }))
        emit(opts, { id, dpv: opts.dpv }, () => `Purpose ${id} declared (a ${opts.dpv})`)
      }),
    )
}
