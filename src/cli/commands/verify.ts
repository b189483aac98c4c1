import { readFileSync } from 'node:fs'
import type { Command } from 'commander'
import { createPublicClient, http, isAddress, type Address, type PublicClient } from 'viem'
import { openChainReadOnly, openProvena, resolveDataDir } from '../../app/index.js'
import { readChainEvidence, verifyLog, type VerifyReport } from '../../audit/index.js'
import { chainErrors } from '../../chain/index.js'
import { ProvenaError } from '../../errors.js'
import { emit, VerificationFailed, type CommonOptions } from '../output.js'
import { action, common } from '../session.js'

interface VerifyOptions extends CommonOptions {
  entries?: string
  anchor?: string
  registry?: string
}

function readEntriesFile(path: string): { index: number; leaf: Buffer }[] {
  let doc: { entries?: { index: number; leaf: string }[] }
  try {
    doc = JSON.parse(readFileSync(path, 'utf8'))
  } catch (e) {
    throw new ProvenaError('VERIFY_BAD_INPUT', `cannot read entries from ${path}: ${(e as Error).message}`, { hint: 'export them with provena log entries --json > FILE' })
  }
  if (!Array.isArray(doc.entries)) throw new ProvenaError('VERIFY_BAD_INPUT', `${path}: no "entries" array`)
  return doc.entries.map((e, i) => {
    if (typeof e.index !== 'number' || typeof e.leaf !== 'string') throw new ProvenaError('VERIFY_BAD_INPUT', `${path}: entries[${i}] needs index and leaf (base64)`)
    return { index: e.index, leaf: Buffer.from(e.leaf, 'base64') }
  })
}

function reportText(r: VerifyReport): string {
  const head = r.ok ? 'VERIFIED: the log and the chain agree' : `FAILED: ${r.failures[0]!.message}`
  return [
    head,
    `  entries          ${r.entries}`,
    `  checkpoints      ${r.checkpoints} anchored, latest size ${r.anchoredSize}${r.unanchoredEntries ? ` (${r.unanchoredEntries} newer entries not anchored yet)` : ''}`,
    `  assets on-chain  ${r.assetsOnChain}, each with its log entry${r.assetsPendingOnChain ? `; ${r.assetsPendingOnChain} logged, pending on-chain` : ''}`,
    `  consent map      ${r.consentChanges} consent record(s) replayed${r.failures.some((f) => f.code === "VERIFY_MAP_MISMATCH") ? ", an anchored map root DIFFERS" : ": every anchored map root matches"}`,
    ...r.failures.slice(1).map((f) => `  also: ${f.message}`),
  ].join('\n')
}

export function registerVerify(program: Command): void {
  common(
    program
      .command('verify')
      .description('independent check from the chain and the exported log only: checkpoints consistent, assets logged')
      .option('--entries <file>', 'exported entries (provena log entries --json) instead of the data dir')
      .option('--anchor <address>', 'CheckpointAnchor address (with --entries)')
      .option('--registry <address>', 'AssetRegistry address (with --entries)'),
  ).action(
    action(async (opts: VerifyOptions) => {
      let report: VerifyReport
      if (opts.entries) {
        const rpcUrl = opts.rpcUrl ?? process.env.PROVENA_RPC_URL
        if (!rpcUrl || !opts.anchor || !opts.registry || !isAddress(opts.anchor) || !isAddress(opts.registry)) {
          throw new ProvenaError('CLI_BAD_ARGUMENT', 'verify --entries needs --rpc-url URL, --anchor ADDRESS and --registry ADDRESS', { hint: 'take them from provena chain info --json' })
        }
        const client = createPublicClient({ transport: http(rpcUrl, { retryCount: 0 }) }) as PublicClient
        const evidence = await readChainEvidence(client, { CheckpointAnchor: opts.anchor as Address, AssetRegistry: opts.registry as Address }).catch((e) => {
          throw chainErrors.unreachable(rpcUrl, e)
        })
        report = verifyLog({ ...evidence, entries: readEntriesFile(opts.entries) })
      } else {
        const p = openProvena(resolveDataDir(opts.dir))
        try {
          const chain = await openChainReadOnly(p, { rpcUrl: opts.rpcUrl })
          try {
            const evidence = await readChainEvidence(chain.client.publicClient, chain.deployment, chain.deployment.fromBlock)
            // Only the log's exported entries are read from the data dir, never the registry tables.
            report = verifyLog({ ...evidence, entries: p.log.entries() })
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
