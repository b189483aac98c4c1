import { readFileSync } from 'node:fs'
import type { Command } from 'commander'
import { createPublicClient, http, isAddress, type Address, type PublicClient } from 'viem'
import { openChainReadOnly, openProvena, resolveDataDir } from '../../app/index.js'
import { readChainEvidence, verifyLog } from '../../audit/index.js'
import { chainErrors } from '../../chain/index.js'
import { isProvenaError, ProvenaError } from '../../errors.js'
import { listCheckpoints } from '../../log/index.js'
import { parseVerifierKey, readConsortiumFile, trustedLogFor, type QuorumReport } from '../../node/index.js'
import { checkQuorum, quorumConsortium, verifyNode, type NodeVerifyReport } from '../../service/index.js'
import { integer } from '../args.js'
import { emit, VerificationFailed, type CommonOptions } from '../output.js'
import { action, common } from '../session.js'
import { remoteCall, remoteNode, type RemoteOptions } from '../remote.js'

interface VerifyOptions extends RemoteOptions {
  entries?: string
  anchor?: string
  registry?: string
  consortium?: string
  member?: string
  quorum?: number
}

/** The report, with the cosignature check of --quorum K when asked. */
type Report = NodeVerifyReport

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

/** The text `provena verify` prints for a report (locally and through a node). */
export function verifyReportText(r: Report): string {
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
      const local = opts.entries !== undefined || opts.consortium !== undefined
      if (local && opts.node !== undefined) throw new ProvenaError('CLI_NOT_REMOTE', 'verify --entries/--consortium checks files of this machine: not through --node', { hint: 'through a node: provena --node URL verify [--quorum K]' })
      const node = local ? undefined : remoteNode(opts)
      if (node) {
        report = await remoteCall<Report>(node, 'GET', '/v1/verify', { query: { quorum: opts.quorum } })
      } else if (opts.entries) {
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
        if (opts.quorum !== undefined) report = checkQuorum(report, evidence, quorumConsortium(opts.consortium, undefined), opts.quorum)
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
            emit(opts, report, () => verifyReportText(report))
            throw new VerificationFailed()
          }
          try {
            report = await verifyNode(p, chain, { quorum: opts.quorum, consortium: opts.consortium })
          } finally {
            await chain.close()
          }
        } finally {
          p.close()
        }
      }
      emit(opts, report, () => verifyReportText(report))
      if (!report.ok) throw new VerificationFailed()
    }),
  )
}
