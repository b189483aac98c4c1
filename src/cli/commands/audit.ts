import type { Command } from 'commander'
import { existsSync } from 'node:fs'
import { createPublicClient, http, type PublicClient } from 'viem'
import { configPath, connectReadOnly, openProvena, resolveDataDir } from '../../app/index.js'
import { mirroredRootAt, mirrorLog, type MirrorReport } from '../../audit/index.js'
import { chainErrors, readAnchoredCheckpoints, type AnchoredCheckpoint } from '../../chain/index.js'
import { ProvenaError } from '../../errors.js'
import { anchoredQuorumCheckpoint, quorumWitnesses, readConsortiumFile, readPinnedConsortium, verifyQuorum, type Consortium, type QuorumReport } from '../../node/index.js'
import { integer } from '../args.js'
import { emit, VerificationFailed, type CommonOptions } from '../output.js'
import { action, common } from '../session.js'

interface MirrorCliOptions extends CommonOptions {
  vkey?: string
  member?: string
  consortium?: string
  quorum?: number
}

/** The consortium file whose witnesses count: --consortium FILE, else the data dir's pinned one. */
function consortiumFile(opts: MirrorCliOptions): Consortium | undefined {
  return opts.consortium ? readConsortiumFile(opts.consortium) : readPinnedConsortium(resolveDataDir(opts.dir))
}

/**
 * The pinned verifier key of the log to mirror: --vkey, or the log of --member (name, did
 * or EVM address) in --consortium FILE or the data dir's pinned consortium file.
 */
function pinnedVkey(opts: MirrorCliOptions): string {
  if ((opts.vkey === undefined) === (opts.member === undefined)) {
    throw new ProvenaError('CLI_BAD_ARGUMENT', 'audit mirror needs the log\'s key pinned: exactly one of --vkey VKEY or --member NAME', {
      hint: 'the vkey is in the consortium file (provena consortium show) or provena chain info --json of that node',
    })
  }
  if (opts.vkey !== undefined) return opts.vkey
  const dir = resolveDataDir(opts.dir)
  const c = consortiumFile(opts)
  if (!c) throw new ProvenaError('CLI_BAD_ARGUMENT', `--member needs a consortium file: none pinned in ${dir}`, { hint: 'pass --consortium FILE, or --vkey VKEY' })
  const m = c.members.find((x) => x.name === opts.member || x.did === opts.member || x.address.toLowerCase() === opts.member!.toLowerCase())
  if (!m?.log) throw new ProvenaError('CLI_BAD_ARGUMENT', `${opts.member} is not a member with a log in the consortium file`, { hint: 'provena consortium show lists the members' })
  return m.log.vkey
}

/** How many of the consortium file's witnesses validly cosigned the served checkpoint (keys from the file, never the note). */
interface MirrorCosignatures {
  verified: number
  verifiedBy: string[]
  witnesses: number
  quorum: number | null
}

/**
 * `--quorum K`: the cosignatures counted are the ones on-chain (emitted with the anchored
 * checkpoint or added by addCosignatures), for the newest checkpoint of the log anchored at
 * or below the mirrored size, whose root must be the mirrored log's at that size; the
 * anchor is the one the consortium file pins for that log, the keys its witnesses'.
 */
async function countOnChain(r: MirrorReport, c: Consortium, vkey: string, quorum: number, opts: MirrorCliOptions): Promise<{ cosignatures: MirrorCosignatures & { anchoredSize: number }; failure?: QuorumReport['failures'][number] }> {
  const log = c.members.find((m) => m.log?.vkey === vkey)?.log
  if (!log) {
    throw new ProvenaError('CLI_BAD_ARGUMENT', `audit mirror --quorum K counts the cosignatures on-chain: the consortium file pins no anchor for ${r.origin}`, { hint: 'pass --member NAME of a member with a log in the consortium file' })
  }
  const witnesses = quorumWitnesses(c, r.origin)
  const { client, close } = await auditChain(opts, c)
  let anchored: AnchoredCheckpoint | undefined
  try {
    anchored = (await readAnchoredCheckpoints(client, log.anchor)).filter((cp) => cp.treeSize <= r.checkpoint.treeSize).at(-1)
  } catch (e) {
    throw chainErrors.unreachable(client.transport.url ?? '', e)
  } finally {
    await close()
  }
  if (!anchored) {
    return {
      cosignatures: { verified: 0, verifiedBy: [], witnesses: witnesses.length, quorum, anchoredSize: 0 },
      failure: { code: 'VERIFY_QUORUM', message: `no checkpoint of ${r.origin} at or below the mirrored size ${r.checkpoint.treeSize} is anchored on-chain (${log.anchor}): ${quorum} cosignature(s) required` },
    }
  }
  const root = await mirroredRootAt(resolveDataDir(opts.dir), vkey, anchored.treeSize)
  if (!root?.equals(anchored.rootHash)) {
    throw new ProvenaError('AUDIT_SPLIT_VIEW', `the checkpoint of size ${anchored.treeSize} anchored on-chain (${log.anchor}) has root ${anchored.rootHash.toString('hex')}; the mirrored log's root at that size is ${root?.toString('hex') ?? 'unknown'}`, {
      hint: 'the log served one history and anchored another: keep the mirror as evidence',
    })
  }
  const q = verifyQuorum([anchoredQuorumCheckpoint(r.origin, anchored, witnesses)], witnesses, quorum)
  const cp = q.checkpoints[0]!
  return { cosignatures: { verified: cp.verified, verifiedBy: cp.witnesses, witnesses: q.witnesses, quorum, anchoredSize: anchored.treeSize }, ...(q.failures[0] ? { failure: q.failures[0] } : {}) }
}

/** A client to read the chain: --rpc-url, PROVENA_RPC_URL, the consortium file's rpcUrl, else the data dir's chain (read only). */
async function auditChain(opts: MirrorCliOptions, c: Consortium): Promise<{ client: PublicClient; close(): Promise<void> }> {
  const url = opts.rpcUrl ?? process.env.PROVENA_RPC_URL ?? c.rpcUrl ?? undefined
  if (url) return { client: createPublicClient({ transport: http(url, { retryCount: 0 }) }) as PublicClient, close: async () => {} }
  const dir = resolveDataDir(opts.dir)
  if (!existsSync(configPath(dir))) {
    throw new ProvenaError('CLI_BAD_ARGUMENT', 'audit mirror --quorum K reads the chain: no --rpc-url, PROVENA_RPC_URL or rpcUrl in the consortium file, and no data dir to take it from', { hint: 'pass --rpc-url URL' })
  }
  const p = openProvena(dir)
  try {
    const { client, close } = await connectReadOnly(p)
    return { client: client.publicClient, close: async () => (await close(), p.close()) }
  } catch (e) {
    p.close()
    throw e
  }
}

function countMirrored(r: MirrorReport, c: Consortium | undefined, quorum: number | undefined): { cosignatures: MirrorCosignatures; failure?: QuorumReport['failures'][number] } | undefined {
  if (!c) {
    if (quorum === undefined) return undefined
    throw new ProvenaError('CLI_BAD_ARGUMENT', 'audit mirror --quorum K counts cosignatures by the witnesses of a consortium file: none given or pinned', { hint: 'pass --consortium FILE (its members\' "witness" vkeys)' })
  }
  const witnesses = quorumWitnesses(c, r.origin)
  const q = verifyQuorum([{ treeSize: r.checkpoint.treeSize, note: r.note }], witnesses, quorum ?? 0)
  const cp = q.checkpoints[0]!
  return { cosignatures: { verified: cp.verified, verifiedBy: cp.witnesses, witnesses: q.witnesses, quorum: quorum ?? null }, ...(q.failures[0] ? { failure: q.failures[0] } : {}) }
}

function mirrorText(r: MirrorReport & { cosignatures?: MirrorCosignatures }): string {
  const head =
    r.status === 'unchanged'
      ? `Unchanged: ${r.origin} is still at size ${r.checkpoint.treeSize}`
      : r.status === 'stale'
        ? `Stale: ${r.origin} served size ${r.checkpoint.treeSize}, older than the ${r.previous!.treeSize} mirrored (and consistent with it): nothing written`
        : `Mirrored ${r.origin}: size ${r.checkpoint.treeSize} (${r.newEntries} new${r.previous ? `, extends size ${r.previous.treeSize}` : ''})`
  const q = r.cosignatures as (MirrorCosignatures & { anchoredSize?: number }) | undefined
  const where = q?.anchoredSize !== undefined ? ` on-chain (anchored checkpoint of size ${q.anchoredSize})` : ' in the served note'
  const cos = q ? [`  cosigned  by ${q.verified} of the ${q.witnesses} witness(es) of the consortium file${where}${q.quorum !== null ? ` (quorum ${q.quorum}${q.verified < q.quorum ? ': NOT MET' : ''})` : ''}${q.verifiedBy.length ? `: ${q.verifiedBy.join(', ')}` : ''}`] : []
  return [head, `  root      ${r.checkpoint.rootHash}`, ...cos, `  fetched   ${r.tilesFetched} tile(s), ${r.bundlesFetched} entry bundle(s)`, `  mirror    ${r.dir}`].join('\n')
}

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description("audit other members' logs")
  common(
    audit
      .command('mirror <url>')
      .description("keep a local copy of a log served as C2SP tlog-tiles (URL: its prefix, …/log) and check each new checkpoint extends the last one mirrored")
      .option('--vkey <vkey>', "the log's C2SP verifier key (origin+keyid+base64), pinned")
      .option('--member <name>', "whose log: a member's name, did or address in the consortium file (its pinned vkey)")
      .option('--consortium <file>', "with --member: this consortium file instead of the data dir's; its witnesses are the ones counted")
      .option('--quorum <k>', "the newest checkpoint anchored on-chain at or below the mirrored size must carry on-chain K valid cosignatures by distinct witnesses of the consortium file (exit 3 otherwise)", integer('--quorum', 1)),
  ).action(
    action(async (url: string, opts: MirrorCliOptions) => {
      let parsed: URL | undefined
      try {
        parsed = new URL(url)
      } catch {
        /* below */
      }
      if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) throw new ProvenaError('CLI_BAD_ARGUMENT', `"${url}" is not an http(s) URL`, { hint: 'the log prefix, e.g. http://127.0.0.1:8080/log' })
      const vkey = pinnedVkey(opts)
      // The witnesses are read before fetching anything: a bad --quorum fails first.
      const c = consortiumFile(opts)
      if (opts.quorum !== undefined && !c) countMirrored({} as MirrorReport, c, opts.quorum)
      const mirrored = await mirrorLog({ url, vkey, dir: resolveDataDir(opts.dir), progress: (m) => process.stderr.write(`${m}\n`) })
      // Without --quorum, the cosignatures the served note carries are shown (the node's view);
      // with it, only those on-chain count (what any auditor reads without asking the node).
      const counted = opts.quorum !== undefined && c ? await countOnChain(mirrored, c, vkey, opts.quorum, opts) : countMirrored(mirrored, c, undefined)
      const { note: _, ...rest } = mirrored
      const report = { ...rest, ...(counted ? { cosignatures: counted.cosignatures } : {}), ok: !counted?.failure, failures: counted?.failure ? [counted.failure] : [] }
      emit(opts, report, () => mirrorText({ ...mirrored, ...(counted ? { cosignatures: counted.cosignatures } : {}) }) + (counted?.failure ? `\n  FAILED    ${counted.failure.message}` : ''))
      if (counted?.failure) throw new VerificationFailed()
    }),
  )
}
