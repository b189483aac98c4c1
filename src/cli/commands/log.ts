import type { Command } from 'commander'
import { anchorLateCosignatures, anchorNow } from '../../app/index.js'
import { readLatestAnchor } from '../../chain/index.js'
import { ProvenaError } from '../../errors.js'
import { hashLeaf, logErrors, verifyInclusion } from '../../log/index.js'
import { cosignCheckpointNow, logStatus, type LogStatus } from '../../service/index.js'
import { remoteCall, remoteNode, type RemoteOptions } from '../remote.js'
import { integer } from '../args.js'
import { emit, short, type CommonOptions } from '../output.js'
import { action, common, withChain, withChainReadOnly, withProvena } from '../session.js'


export function registerLog(program: Command): void {
  const log = program.command('log').description('the verifiable log: checkpoints, entries, proofs')

  common(log.command('checkpoint').description("sign a checkpoint of the log now, ask the consortium's witnesses to cosign it (at most 5 s), anchor it on-chain with their cosignatures, wait for the receipt")).action(
    action(async (opts: CommonOptions) => {
      await withChain(opts, async (p, chain) => {
        const a = await anchorNow(p, chain, { cosign: true })
        // Cosignatures gathered since the checkpoint was anchored (provena log cosign) go on-chain too.
        await anchorLateCosignatures(p, chain)
        const json = {
          treeSize: a.checkpoint.treeSize,
          rootHash: a.checkpoint.rootHash.toString('hex'),
          anchoredSize: a.anchoredSize,
          anchoredRoot: a.anchoredRoot.toString('hex'),
          anchoredNow: a.anchoredNow,
          transactionHash: a.transactionHash,
          blockNumber: a.blockNumber,
          anchor: chain.deployment.CheckpointAnchor,
          note: a.checkpoint.note,
        }
        emit(opts, json, () =>
          [
            a.anchoredNow ? `Anchored checkpoint of size ${a.anchoredSize}` : `Nothing new: the log's ${a.anchoredSize} entries are anchored already`,
            `  root    ${json.anchoredRoot}`,
            `  anchor  ${chain.deployment.CheckpointAnchor} on chain ${chain.client.chainId}${a.transactionHash ? `, tx ${a.transactionHash}` : ''}`,
            '',
            a.checkpoint.note.trimEnd(),
          ].join('\n'),
        )
      })
    }),
  )

  common(log.command('show').description("the log's size, its latest signed checkpoint and what is anchored on-chain now (GET /v1/log)")).action(
    action(async (opts: RemoteOptions) => {
      const node = remoteNode(opts)
      const s = node ? await remoteCall<LogStatus>(node, 'GET', '/v1/log') : await withChainReadOnly(opts, (p, chain) => logStatus(p, chain))
      emit(opts, s, () =>
        [
          `Log ${s.origin}: ${s.treeSize} entries`,
          s.checkpoint ? `  checkpoint  size ${s.checkpoint.treeSize}, root ${s.checkpoint.rootHash}${s.checkpoint.createdAt ? `, signed ${s.checkpoint.createdAt}` : ''}` : '  checkpoint  none signed yet',
          `  anchored    size ${s.anchored.treeSize}, root ${s.anchored.rootHash} (CheckpointAnchor ${s.anchored.anchor} on chain ${s.anchored.chainId})`,
        ].join('\n'),
      )
    }),
  )

  common(log.command('cosign').description("ask the witnesses of the pinned consortium file (the other members' nodes) to cosign the latest checkpoint now; exit 1 if none did"))
    .option('--timeout <ms>', 'per witness (default 10000)', integer('--timeout', 1))
    .action(
      action(async (opts: CommonOptions & { timeout?: number }) => {
        // Writes only cosignature rows (idempotent inserts), never the log or the chain: it
        // runs beside a `provena serve` of the same data dir.
        await withProvena(opts, async (p) => {
          const r = await cosignCheckpointNow(p, { timeoutMs: opts.timeout })
          const ok = r.cosigned.length > 0
          emit(opts, { ok, ...r }, () =>
            [
              `Checkpoint of size ${r.treeSize}: cosigned by ${new Set(r.cosigned.map((c) => c.witness)).size} of ${r.asked} witness(es)`,
              ...r.cosigned.map((c) => `  cosigned  ${c.member.padEnd(14)} ${c.witness}  ${c.endpoint}`),
              ...r.failed.map((f) => `  FAILED    ${f.member.padEnd(14)} ${f.witness}  ${f.endpoint}: ${f.message}`),
            ].join('\n'),
          )
          if (!ok) {
            process.stderr.write(`provena: no witness cosigned the checkpoint of size ${r.treeSize} (${r.failed.length} failed)\n`)
            process.exitCode = 1
          }
        })
      }),
    )

  common(log.command('entries').description("print the log's entries with their exact leaf bytes (base64 in --json)"))
    .option('--from <n>', 'first index (default 0)', integer('--from'))
    .option('--to <m>', 'end index, exclusive (default: the log size)', integer('--to'))
    .action(
      action(async (opts: CommonOptions & { from?: number; to?: number }) => {
        await withProvena(opts, async (p) => {
          const size = p.log.size()
          const entries = [...p.log.entries(opts.from ?? 0, opts.to ?? size)]
          emit(
            opts,
            {
              treeSize: size,
              origin: p.signer.origin,
              entries: entries.map((e) => ({ index: e.index, leaf: e.leaf.toString('base64'), leafHash: e.leafHash.toString('hex') })),
            },
            () => entries.map((e) => `${String(e.index).padStart(6)}  ${short(e.leafHash.toString('hex'))}  ${e.leaf.toString('utf8')}`).join('\n') || '(no entries)',
          )
        })
      }),
    )

  common(log.command('prove').argument('<index>', 'entry index', integer('INDEX')).description('inclusion proof of an entry against the latest anchored checkpoint')).action(
    action(async (index: number, opts: CommonOptions) => {
      await withChainReadOnly(opts, async (p, chain) => {
        const anchored = await readLatestAnchor(chain.client.publicClient, chain.deployment.CheckpointAnchor)
        if (index >= p.log.size()) throw new ProvenaError('LOG_OUT_OF_RANGE', `no log entry ${index}: the log has ${p.log.size()} entries`)
        if (index >= anchored.treeSize) {
          throw new ProvenaError('LOG_NOT_ANCHORED', `entry ${index} is not covered by the anchored checkpoint (size ${anchored.treeSize})`, { hint: 'run provena log checkpoint' })
        }
        const entry = p.log.entry(index)
        // The proof is of the bytes returned: their hash, not the stored one, is proven.
        const leafHash = hashLeaf(entry.leaf)
        if (!leafHash.equals(entry.leafHash)) throw logErrors.leafMismatch(index, entry.leaf, entry.leafHash, leafHash)
        const proof = p.log.inclusionProof(index, anchored.treeSize)
        verifyInclusion(index, anchored.treeSize, leafHash, proof, anchored.rootHash)
        const json = {
          index,
          treeSize: anchored.treeSize,
          leafHash: leafHash.toString('hex'),
          rootHash: anchored.rootHash.toString('hex'),
          proof: proof.map((h) => h.toString('hex')),
          leaf: entry.leaf.toString('base64'),
          anchor: chain.deployment.CheckpointAnchor,
          chainId: chain.client.chainId,
          verified: true,
        }
        emit(opts, json, () =>
          [
            `Entry ${index} is in the anchored log of size ${anchored.treeSize} (RFC 9162 inclusion proof verified)`,
            `  leaf hash  ${json.leafHash}`,
            `  root       ${json.rootHash}  (CheckpointAnchor ${json.anchor}.latest())`,
            `  proof      ${proof.length} hashes`,
            ...json.proof.map((h, i) => `    [${i}] ${h}`),
          ].join('\n'),
        )
      })
    }),
  )
}
