import type { Command } from 'commander'
import { resolveDataDir } from '../../app/index.js'
import { mirrorLog, type MirrorReport } from '../../audit/index.js'
import { ProvenaError } from '../../errors.js'
import { readConsortiumFile, readPinnedConsortium } from '../../node/index.js'
import { emit, type CommonOptions } from '../output.js'
import { action, common } from '../session.js'

interface MirrorCliOptions extends CommonOptions {
  vkey?: string
  member?: string
  consortium?: string
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
  const c = opts.consortium ? readConsortiumFile(opts.consortium) : readPinnedConsortium(dir)
  if (!c) throw new ProvenaError('CLI_BAD_ARGUMENT', `--member needs a consortium file: none pinned in ${dir}`, { hint: 'pass --consortium FILE, or --vkey VKEY' })
  const m = c.members.find((x) => x.name === opts.member || x.did === opts.member || x.address.toLowerCase() === opts.member!.toLowerCase())
  if (!m?.log) throw new ProvenaError('CLI_BAD_ARGUMENT', `${opts.member} is not a member with a log in the consortium file`, { hint: 'provena consortium show lists the members' })
  return m.log.vkey
}

function mirrorText(r: MirrorReport): string {
  const head =
    r.status === 'unchanged'
      ? `Unchanged: ${r.origin} is still at size ${r.checkpoint.treeSize}`
      : r.status === 'stale'
        ? `Stale: ${r.origin} served size ${r.checkpoint.treeSize}, older than the ${r.previous!.treeSize} mirrored (and consistent with it): nothing written`
        : `Mirrored ${r.origin}: size ${r.checkpoint.treeSize} (${r.newEntries} new${r.previous ? `, extends size ${r.previous.treeSize}` : ''})`
  return [head, `  root      ${r.checkpoint.rootHash}`, `  fetched   ${r.tilesFetched} tile(s), ${r.bundlesFetched} entry bundle(s)`, `  mirror    ${r.dir}`].join('\n')
}

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description("audit other members' logs")
  common(
    audit
      .command('mirror <url>')
      .description("keep a local copy of a log served as C2SP tlog-tiles (URL: its prefix, …/log) and check each new checkpoint extends the last one mirrored")
      .option('--vkey <vkey>', "the log's C2SP verifier key (origin+keyid+base64), pinned")
      .option('--member <name>', "whose log: a member's name, did or address in the consortium file (its pinned vkey)")
      .option('--consortium <file>', 'with --member: this consortium file instead of the data dir\'s'),
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
      const report = await mirrorLog({ url, vkey, dir: resolveDataDir(opts.dir), progress: (m) => process.stderr.write(`${m}\n`) })
      emit(opts, report, () => mirrorText(report))
    }),
  )
}
