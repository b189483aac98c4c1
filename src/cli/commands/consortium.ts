import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import type { Command } from 'commander'
import { ProvenaError } from '../../errors.js'
import { ROLES } from '../../access/index.js'
import { refuseIfServed } from '../../api/index.js'
import { resolveDataDir } from '../../app/index.js'
import { nodeErrors, parseValidators, writeBesuNetwork, writeConsortiumFile, type Consortium } from '../../node/index.js'
import { addMember, createConsortium, readCardFile, updateConsortium } from '../../service/index.js'
import { integer } from '../args.js'
import { emit, type CommonOptions } from '../output.js'
import { askPassphrase } from '../passphrase.js'
import { action, common, withChain, withProvena } from '../session.js'

const memberLines = (c: Consortium) =>
  c.members.flatMap((m) => [
    `    ${m.name.padEnd(14)} ${m.role.padEnd(10)} ${m.address}  ${m.did}`,
    ...(m.endpoint ? [`      node     ${m.endpoint}`] : []),
    ...(m.witness ? [`      witness  ${m.witness}`] : []),
  ])

function summary(c: Consortium): string[] {
  return [
    `  chain             ${c.chainId}${c.rpcUrl ? ` (${c.rpcUrl})` : ''}`,
    ...Object.entries(c.contracts).map(([n, a]) => `  ${n.padEnd(17)} ${a}`),
    `  admin             ${c.admin.address}  ${c.admin.did}`,
    `  members           ${c.members.length}`,
    ...memberLines(c),
  ]
}

/** Writes a copy of the consortium file to `out` (refusing an existing file unless `force`). */
function writeCopy(out: string | undefined, c: Consortium, force: boolean): string | null {
  if (!out) return null
  const path = resolve(out)
  if (existsSync(path) && !force) throw nodeErrors.outExists(path)
  writeConsortiumFile(path, c)
  return path
}

/** --validator, repeatable. */
const collect = (value: string, previous: string[] = []) => [...previous, value]

interface BesuOptions {
  validator?: string[]
  blockPeriod?: number
  requestTimeout?: number
}

/** Checks the --besu options before anything is deployed: bad input fails first, nothing written. */
function besuInput(opts: BesuOptions, consortium?: Consortium) {
  const validators = parseValidators(opts.validator ?? [], consortium)
  return { validators, blockPeriodSeconds: opts.blockPeriod ?? 2, requestTimeoutSeconds: opts.requestTimeout ?? 10 }
}

const besuText = (dir: string, files: string[]) => [`Besu QBFT network written to ${dir}:`, ...files.map((f) => `  ${f}`), `  how to start it: ${dir}/README.txt (Besu is not run by provena)`]

export function registerConsortium(program: Command): void {
  const consortium = program.command('consortium').description('the consortium file: the chain, the shared contracts and every member\'s keys and log (the trust roots)')

  common(consortium.command('create').description("make this node the consortium's admin: deploys the shared contracts once, writes and pins the consortium file (PROVENA_PASSPHRASE signs the identities' cards)"))
    .requiredOption('--out <file>', 'where to write the consortium file for the members')
    .option('--force', 'overwrite an existing --out file')
    .option('--endpoint <url>', "advertise this node in its identities' entries: its provena serve base URL and its witness key")
    .option('--besu <dir>', "also write a Besu QBFT network for the consortium's chain id there: genesis.json, NAME/config.toml per validator, README.txt")
    .option('--validator <name[=address]>', "with --besu: a member that runs a validator, and its Besu node's address (NAME alone: the member's address in the file); repeat per member", collect)
    .option('--block-period <s>', 'with --besu: QBFT blockperiodseconds (default 2)', integer('--block-period', 1))
    .option('--request-timeout <s>', 'with --besu: QBFT requesttimeoutseconds (default 10)', integer('--request-timeout', 1))
    .action(
      action(async (opts: CommonOptions & BesuOptions & { out: string; force?: boolean; endpoint?: string; besu?: string }) => {
        const out = resolve(opts.out)
        if (existsSync(out) && !opts.force) throw nodeErrors.outExists(out)
        if (opts.besu === undefined && opts.validator) throw new ProvenaError('CLI_BAD_ARGUMENT', '--validator names the validators of the Besu network written with --besu DIR')
        // Explicit NAME=ADDRESS validators are checked before anything is deployed.
        if (opts.besu !== undefined && (opts.validator ?? []).every((v) => v.includes('='))) besuInput(opts)
        const passphrase = await askPassphrase()
        await withChain(opts, async (p, chain) => {
          const c = await createConsortium(p, chain, { passphrase, endpoint: opts.endpoint })
          writeCopy(out, c, true)
          const besuDir = opts.besu === undefined ? undefined : resolve(opts.besu)
          const files = besuDir ? writeBesuNetwork(besuDir, { chainId: c.chainId, ...besuInput(opts, c) }, opts.force ?? false) : []
          emit(opts, { ...c, out, ...(besuDir ? { besu: { dir: besuDir, files } } : {}) }, () =>
            [`Created the consortium; pinned in ${p.dir}, written to ${out}`, ...summary(c), ...(besuDir ? ['', ...besuText(besuDir, files)] : []), '', 'Next, on each member node: provena init --join consortium.json --rpc-url URL'].join('\n'),
          )
        })
      }),
    )

  common(consortium.command('besu').description('write a Besu QBFT network (genesis.json, a config.toml per validator, README.txt) for the consortium to run its own chain: before consortium create --rpc-url, no chain needed'))
    .requiredOption('--out <dir>', 'the directory to write')
    .requiredOption('--chain-id <id>', 'the chain id of the new network', integer('--chain-id', 1))
    .option('--validator <name=address>', "a member that runs a validator and its Besu node's address (besu public-key export-address); repeat per member", collect)
    .option('--block-period <s>', 'QBFT blockperiodseconds (default 2)', integer('--block-period', 1))
    .option('--request-timeout <s>', 'QBFT requesttimeoutseconds (default 10)', integer('--request-timeout', 1))
    .option('--force', 'overwrite an existing genesis.json')
    .action(
      action(async (opts: CommonOptions & BesuOptions & { out: string; chainId: number; force?: boolean }) => {
        const dir = resolve(opts.out)
        const files = writeBesuNetwork(dir, { chainId: opts.chainId, ...besuInput(opts) }, opts.force ?? false)
        emit(opts, { dir, chainId: opts.chainId, files }, () => besuText(dir, files).join('\n'))
      }),
    )

  common(consortium.command('add-member').description("on the admin's node: make a member node's identity a member (AccessPolicy role, its node a registrar of AssetRegistry) and add it to the consortium file"))
    .requiredOption('--did <did>', "the identity's did:key")
    .requiredOption('--role <role>', `one of ${ROLES.join(', ')}`)
    .requiredOption('--card <file>', 'its card: the output of provena identity show NAME --json on its node')
    .option('--out <file>', 'also write the updated consortium file here (to hand to the members)')
    .option('--force', 'overwrite an existing --out file')
    .action(
      action(async (opts: CommonOptions & { did: string; role: string; card: string; out?: string; force?: boolean }) => {
        const card = readCardFile(opts.card)
        await withChain(opts, async (p, chain) => {
          const r = await addMember(p, chain, { did: opts.did, role: opts.role, card, cardSource: opts.card })
          const out = writeCopy(opts.out, r.consortium, opts.force ?? false)
          emit(opts, { member: r.member, transactionHashes: r.transactionHashes, consortium: r.consortium, out }, () =>
            [
              `Added ${r.member.name} (${r.member.role}) ${r.member.did}`,
              `  account   ${r.member.address}, ${r.member.role} in AccessPolicy ${chain.deployment.AccessPolicy}`,
              `  its node  operator ${r.member.log!.operator} (registrar of AssetRegistry), log ${r.member.log!.origin}, anchor ${r.member.log!.anchor}`,
              `  pinned    ${p.dir}/consortium.json (${r.consortium.members.length} members)${out ? `; copy in ${out}` : ''}`,
              '',
              'Hand the file to every member: provena consortium update consortium.json',
            ].join('\n'),
          )
        })
      }),
    )

  common(consortium.command('update').argument('<file>', 'a newer consortium file from the admin').description('replace the pinned consortium file with a newer one of the same consortium (same chain, contracts and admin)')).action(
    action(async (file: string, opts: CommonOptions) => {
      refuseIfServed(resolveDataDir(opts.dir)) // one writer: not under a running node
      await withProvena(opts, async (p) => {
        const r = updateConsortium(p, file)
        emit(opts, { added: r.added, removed: r.removed, consortium: r.consortium }, () =>
          [`Updated the pinned consortium file: ${r.added.length} member(s) added, ${r.removed.length} removed`, ...summary(r.consortium)].join('\n'),
        )
      })
    }),
  )

  common(consortium.command('show').description('the pinned consortium file')).action(
    action(async (opts: CommonOptions) => {
      await withProvena(opts, async (p) => {
        if (!p.consortium) throw nodeErrors.notPinned(p.dir)
        const c = p.consortium
        emit(opts, c, () => ['Consortium (pinned)', ...summary(c)].join('\n'))
      })
    }),
  )
}
