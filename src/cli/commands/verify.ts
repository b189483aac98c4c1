import { readFileSync } from 'node:fs'
import type { Command } from 'commander'
import { createPublicClient, http, isAddress, type Address, type PublicClient } from 'viem'
import { openChainReadOnly, openProvena, resolveDataDir } from '../../app/index.js'
import { readChainEvidence, verifyLog, type VerifyReport } from '../../audit/index.js'
import { chainErrors, type AnchoredCheckpoint } from '../../chain/index.js'
import { isProvenaError, ProvenaError } from '../../errors.js'
import { listCheckpoints } from '../../log/index.js'
import { anchoredQuorumCheckpoint, cosignaturesAt, parseVerifierKey, quorumWitnesses, readConsortiumFile, trustedLogFor, verifyQuorum, type Consortium, type QuorumReport } from '../../node/index.js'
import { integer } from '../args.js'
import { emit, VerificationFailed, type CommonOptions } from '../output.js'
import { action, common } from '../session.js'

interface VerifyOptions extends CommonOptions {
  entries?: string
  anchor?: string
  registry?: string
  consortium?: string
  member?: string
  quorum?: number
}

/** The report, with the cosignature check of --quorum K when asked. */
type Report = VerifyReport & { quorum?: QuorumReport }

/**
 * The trusted anchor and registry of an exported log: --anchor/--registry, or the log of
 * `--member` (a did or address) in `--consortium FILE` with its pinned vkey.
 */
function entriesTrustRoots(opts: VerifyOptions): { anchor: Address; registry: Address; rpcUrl: string | undefined; vkey?: { origin: string; publicKey: Buffer } } {
  const rpcUrl = opts.rpcUrl ?? process.env.PROVENA_RPC_URL
  if (opts.consortium) {
    const c = readConsortiumFile(opts.consortium)
    const logs = [...new Map(c.members.flatMap((m) => (m.log ? [[m.log.anchor.toLowerCase(), m.log] as const] : []))).values()]
    const log = opts.member ? trustedLogFor(c, opts.member) : logs.length === 1 ? logs[0] : undefined
    if (!log) {
      throw new ProvenaError('CLI_BAD_ARGUMENT', opts.member ? `${opts.member} is not a member of ${opts.consortium} with a log` : `${opts.consortium} has ${logs.length} member logs: say whose with --member DID`, {
        hint: 'provena consortium show lists the members',
      })
    }
    return { anchor: log.anchor, registry: c.contracts.AssetRegistry, rpcUrl: rpcUrl ?? c.rpcUrl ?? undefined, vkey: parseVerifierKey(log.vkey) }
  }
  if (!opts.anchor || !opts.registry || !isAddress(opts.anchor) || !isAddress(opts.registry)) {
    throw new ProvenaError('CLI_BAD_ARGUMENT', 'verify --entries needs its trust roots: --anchor ADDRESS and --registry ADDRESS, or --consortium FILE [--member DID]', { hint: 'take them from provena chain info --json' })
  }
  return { anchor: opts.anchor, registry: opts.registry, rpcUrl }
}

function readEntriesFile(path: string): { index: number; leaf: Buffer; leafHash: Buffer | undefined }[] {
  let doc: { entries?: { index: number; leaf: string; leafHash?: unknown }[] }
  try {
    doc = JSON.parse(readFileSync(path, 'utf8'))
  } catch (e) {
    throw new ProvenaError('VERIFY_BAD_INPUT', `cannot read entries from ${path}: ${(e as Error).message}`, { hint: 'export them with provena log entries --json > FILE' })
  }
  if (!Array.isArray(doc.entries)) throw new ProvenaError('VERIFY_BAD_INPUT', `${path}: no "entries" array`)
  return doc.entries.map((e, i) => {
    if (typeof e.index !== 'number' || typeof e.leaf !== 'string') throw new ProvenaError('VERIFY_BAD_INPUT', `${path}: entries[${i}] needs index and leaf (base64)`)
    if (e.leafHash !== undefined && (typeof e.leafHash !== 'string' || !/^[0-9a-f]{64}$/i.test(e.leafHash))) {
      throw new ProvenaError('VERIFY_BAD_INPUT', `${path}: entries[${i}].leafHash is not 32 bytes of hex`)
    }
    return { index: e.index, leaf: Buffer.from(e.leaf, 'base64'), leafHash: typeof e.leafHash === 'string' ? Buffer.from(e.leafHash, 'hex') : undefined }
  })
}

function reportText(r: Report): string {
  const head = r.ok ? 'VERIFIED: the log and the chain agree' : `FAILED: ${r.failures[0]!.message}`
  const local = r.localCheckpoints ? `; ${r.localCheckpoints} signed checkpoint(s) kept in the data dir checked too` : ''
  // On a failure nothing is vouched for: no "all else is fine" wording.
  const checkpoints = r.ok
    ? `${r.checkpoints} anchored, latest size ${r.anchoredSize}${r.unanchoredEntries ? ` (${r.unanchoredEntries} newer entries not anchored yet)` : ''}${local}`
    : `${r.checkpoints} anchored, latest size ${r.anchoredSize}${local}`
  const mapDiffers = r.failures.some((f) => f.code === 'VERIFY_MAP_MISMATCH')
  return [
    head,
    ...(r.firstDifference ? [`  first entry that differs  ${r.firstDifference.index}: ${r.firstDifference.entry}`] : []),
    `  entries          ${r.entries}`,
    `  checkpoints      ${checkpoints}`,
    ...(r.ok || r.assetsOnChain ? [`  assets on-chain  ${r.assetsOnChain}${r.ok ? ', each with its log entry' : ''}${r.assetsPendingOnChain ? `; ${r.assetsPendingOnChain} logged, pending on-chain` : ''}`] : []),
    `  consent map      ${r.consentChanges} consent record(s) replayed${mapDiffers ? ', a checkpoint\'s map root DIFFERS' : r.ok ? ': every checkpoint\'s map root matches' : ''}`,
    ...(r.quorum ? [`  cosignatures     ${quorumText(r.quorum)}`] : []),
    ...r.failures.slice(1).map((f) => `  also: ${f.message}`),
  ].join('\n')
}

function quorumText(q: QuorumReport & { local?: { notOnChain: number } }): string {
  const short = q.checkpoints.filter((c) => c.verified < q.quorum)
  const least = Math.min(...q.checkpoints.map((c) => c.verified))
  const latest = q.checkpoints.at(-1)
  const local = q.local?.notOnChain ? `; ${q.local.notOnChain} more gathered in the data dir, not on-chain yet (not counted)` : ''
  return short.length === 0
    ? `the latest anchored checkpoint (size ${latest?.treeSize ?? 0}) cosigned on-chain by ${least} of the ${q.witnesses} witness(es) of the consortium file (quorum ${q.quorum})${local}`
    : `the latest anchored checkpoint (size ${latest?.treeSize ?? 0}) below the quorum of ${q.quorum}: ${latest?.verified ?? 0} of ${q.witnesses} witness(es) in the consortium file cosigned it on-chain${local}`
}

/**
 * `--quorum K`: the newest checkpoint anchored on-chain must carry, on-chain (emitted with
 * it or added by addCosignatures), K valid cosignatures by distinct witnesses of the
 * consortium file (--consortium FILE, else the pinned one), other than this log's own
 * node's; keys from the file, never from the chain or the notes. The newest one only: the
 * log check proves every earlier checkpoint a prefix of it, and a witness cosigns forward
 * only (c2sp.org/tlog-witness). What counts is what the chain carries, so that an auditor
 * with the chain, the log and the file alone reaches the same verdict; on the data dir,
 * cosignatures gathered but not on-chain yet are reported (`local`), never counted.
 */
function checkQuorum(report: Report, evidence: { logInfo: { origin: string }; checkpoints: AnchoredCheckpoint[] }, c: Consortium, quorum: number, local?: (treeSize: number) => readonly string[]): Report {
  const witnesses = quorumWitnesses(c, evidence.logInfo.origin)
  const checkpoints = evidence.checkpoints.slice(-1).map((cp) => anchoredQuorumCheckpoint(evidence.logInfo.origin, cp, witnesses))
  const q: QuorumReport & { local?: QuorumReport['checkpoints'][number] & { notOnChain: number } } = verifyQuorum(checkpoints, witnesses, quorum)
  const latest = checkpoints[0]
  if (latest && local) {
    const both = verifyQuorum([{ ...latest, cosignatures: [...(latest.cosignatures ?? []), ...local(latest.treeSize)] }], witnesses, 0).checkpoints[0]!
    q.local = { ...both, notOnChain: both.verified - q.checkpoints[0]!.verified }
  }
  return { ...report, quorum: q, ok: report.ok && q.ok, failures: [...report.failures, ...q.failures] }
}

/** The consortium file whose witnesses count for --quorum: --consortium FILE, else the pinned one. */
function quorumConsortium(opts: VerifyOptions, pinned: Consortium | undefined): Consortium {
  const c = opts.consortium ? readConsortiumFile(opts.consortium) : pinned
  if (!c) {
    throw new ProvenaError('CLI_BAD_ARGUMENT', 'verify --quorum K counts cosignatures by the witnesses of a consortium file: this data dir pins none', {
      hint: 'pass --consortium FILE (its members\' "witness" vkeys)',
    })
  }
  return c
}

export function registerVerify(program: Command): void {
  common(
    program
      .command('verify')
      .description('independent check from the chain and the exported log only: checkpoints consistent, assets logged')
      .option('--entries <file>', 'exported entries (provena log entries --json) instead of the data dir')
      .option('--anchor <address>', 'CheckpointAnchor address (with --entries)')
      .option('--registry <address>', 'AssetRegistry address (with --entries)')
      .option('--consortium <file>', "with --entries: the anchor, log key and registry of a member's log from this consortium file; with --quorum: the witnesses")
      .option('--member <did>', 'with --consortium: whose log (did or EVM address of a member of that node)')
      .option('--quorum <k>', "the latest anchored checkpoint must carry on-chain K valid cosignatures by distinct witnesses of the consortium file (the pinned one, or --consortium FILE)", integer('--quorum', 1)),
  ).action(
    action(async (opts: VerifyOptions) => {
      let report: Report
      if (opts.entries) {
        if (opts.quorum !== undefined && !opts.consortium) {
          throw new ProvenaError('CLI_BAD_ARGUMENT', 'verify --entries --quorum K counts the cosignatures on-chain by the witnesses of a consortium file: pass --consortium FILE', {
            hint: 'provena verify --entries FILE --consortium FILE --member DID --quorum K',
          })
        }
        const roots = entriesTrustRoots(opts)
        const rpcUrl = roots.rpcUrl
        if (!rpcUrl) throw new ProvenaError('CLI_BAD_ARGUMENT', 'verify --entries needs --rpc-url URL (or a consortium file naming its chain)', { hint: 'take it from provena chain info --json' })
        const client = createPublicClient({ transport: http(rpcUrl, { retryCount: 0 }) }) as PublicClient
        const evidence = await readChainEvidence(client, { CheckpointAnchor: roots.anchor, AssetRegistry: roots.registry }).catch((e) => {
          throw chainErrors.unreachable(rpcUrl, e)
        })
        report = verifyLog({ ...evidence, entries: readEntriesFile(opts.entries) })
        // The pinned vkey is the log's key: an anchor holding another key is not that member's log.
        if (roots.vkey && (!Buffer.from(evidence.logInfo.logKey).equals(roots.vkey.publicKey) || evidence.logInfo.origin !== roots.vkey.origin)) {
          report = { ...report, ok: false, failures: [{ code: 'VERIFY_LOG_KEY_MISMATCH', message: `CheckpointAnchor ${roots.anchor} holds log ${evidence.logInfo.origin} key ${Buffer.from(evidence.logInfo.logKey).toString('hex')}, not the pinned vkey of ${opts.consortium}` }, ...report.failures] }
        }
        if (opts.quorum !== undefined) report = checkQuorum(report, evidence, quorumConsortium(opts, undefined), opts.quorum)
      } else {
        const p = openProvena(resolveDataDir(opts.dir))
        try {
          // Only the log's entries (bytes and recorded leaf hashes) and the checkpoints the
          // operator signed are read from the data dir, never the registry tables.
          const localCheckpoints = listCheckpoints(p.db)
          let chain: Awaited<ReturnType<typeof openChainReadOnly>>
          try {
            chain = await openChainReadOnly(p, { rpcUrl: opts.rpcUrl })
          } catch (e) {
            if (!isProvenaError(e, 'CHAIN_STATE_LOST') && !isProvenaError(e, 'CHAIN_NOT_DEPLOYED')) throw e
            // No anchors to check against: the log is still checked against what it signed.
            const local = verifyLog({ entries: p.log.entries(), logInfo: { logKey: p.signer.publicKey, origin: p.signer.origin }, checkpoints: [], assets: [], localCheckpoints })
            if (local.ok) throw e
            report = { ...local, failures: [...local.failures, { code: e.code, message: `${e.message} (${e.hint ?? ''})` }] }
            emit(opts, report, () => reportText(report))
            throw new VerificationFailed()
          }
          try {
            const evidence = await readChainEvidence(chain.client.publicClient, chain.deployment, chain.deployment.fromBlock)
            report = verifyLog({ ...evidence, entries: p.log.entries(), localCheckpoints })
            // A member node: the consortium trusts the anchor and key pinned for this node's
            // log, not whatever this data dir recorded.
            const pinned = p.consortium?.members.find((m) => m.log?.origin === p.signer.origin)?.log
            if (pinned) {
              const key = parseVerifierKey(pinned.vkey)
              const problem =
                pinned.anchor.toLowerCase() !== chain.deployment.CheckpointAnchor.toLowerCase()
                  ? `this node's CheckpointAnchor ${chain.deployment.CheckpointAnchor} is not the one the consortium pins for its log (${pinned.anchor})`
                  : !key?.publicKey.equals(p.signer.publicKey)
                    ? `the consortium pins another key for this node's log (${pinned.vkey})`
                    : undefined
              if (problem) report = { ...report, ok: false, failures: [{ code: 'VERIFY_NOT_PINNED', message: problem }, ...report.failures] }
            }
            if (opts.quorum !== undefined) report = checkQuorum(report, evidence, quorumConsortium(opts, p.consortium), opts.quorum, (size) => cosignaturesAt(p.db, size))
          } finally {
            await chain.close()
          }
        } finally {
          p.close()
        }
      }
      emit(opts, report, () => reportText(report))
      if (!report.ok) throw new VerificationFailed()
    }),
  )
}
