import { Command } from 'commander'
import { openChain, openChainReadOnly, openProvena, readConfig, resolveDataDir, type ChainSession, type Provena } from '../app/index.js'
import { resolvePurpose } from '../consent/index.js'
import { listIdentities, type DataPlaneContext } from '../access/index.js'
import { listWaitingWrites } from '../chain/index.js'
import { openStore } from '../store/index.js'
import { registryContext } from '../service/index.js'
import { refuseIfServed } from '../api/index.js'
import { rpcUrl } from './args.js'
import { REMOTE_COMMANDS } from './remote.js'
import { askPassphrase } from './passphrase.js'
import { EXIT, reportError, VerificationFailed, type CommonOptions } from './output.js'

/** Adds the options every command takes. */
export function common(cmd: Command): Command {
  return cmd
    .option('--dir <dir>', 'data dir (default: $PROVENA_DIR, else ./.provena)')
    .option('--json', 'print exactly one JSON document on stdout')
    .option('--rpc-url <url>', 'use this EVM JSON-RPC node instead of the embedded one (default: $PROVENA_RPC_URL)', rpcUrl)
    .option('--verbose', 'show error details')
}

/** Runs a command action: errors become one line (or JSON) and an exit code. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    const cmd = args[args.length - 1] as Command
    const opts = cmd.opts() as CommonOptions
    try {
      await fn(...args)
    } catch (error) {
      process.exitCode = error instanceof VerificationFailed ? EXIT.verification : reportError(error, opts)
    }
  }
}

/** Opens the data dir for the duration of `fn`. */
export async function withProvena<T>(opts: CommonOptions, fn: (p: Provena) => Promise<T>): Promise<T> {
  const p = openProvena(resolveDataDir(opts.dir), { passphrase: askPassphrase })
  try {
    return await fn(p)
  } finally {
    p.close()
  }
}

/**
 * Opens the data dir and the chain (starting the embedded node if needed) for `fn`: a
 * command that writes. Refused (API_NODE_SERVED, naming its URL and the commands that go
 * through it, remote.ts) while `provena serve` runs on the data dir: one writer.
 */
export async function withChain<T>(opts: CommonOptions, fn: (p: Provena, chain: ChainSession) => Promise<T>): Promise<T> {
  refuseIfServed(resolveDataDir(opts.dir), [...REMOTE_COMMANDS])
  return withProvena(opts, async (p) => {
    const chain = await openChain(p, { rpcUrl: opts.rpcUrl })
    try {
      const r = await fn(p, chain)
      noteWaitingWrites(p, chain)
      return r
    } finally {
      await chain.close()
    }
  })
}

/** The chain as read by a command that writes nothing: the operator key stays sealed (no passphrase). */
export type ReadOnlyChain = Awaited<ReturnType<typeof openChainReadOnly>>

/** Opens the data dir and reads the chain for `fn`: nothing deployed or sent, no passphrase needed. */
export async function withChainReadOnly<T>(opts: CommonOptions, fn: (p: Provena, chain: ReadOnlyChain) => Promise<T>): Promise<T> {
  return withProvena(opts, async (p) => {
    const chain = await openChainReadOnly(p, { rpcUrl: opts.rpcUrl })
    try {
      return await fn(p, chain)
    } finally {
      await chain.close()
    }
  })
}

/**
 * Says on stderr which chain writes wait for a signer whose key this command did not
 * unlock (a controller's grant, a participant's commitment): the next command run as
 * that identity sends them.
 */
function noteWaitingWrites(p: Provena, chain: ChainSession): void {
  const waiting = listWaitingWrites(chain.outbox)
  if (waiting.length === 0) return
  const names = new Map(listIdentities(p.dir).map((i) => [i.address.toLowerCase(), i.name]))
  const bySigner = Map.groupBy(waiting, (w) => w.signer.toLowerCase())
  for (const [signer, writes] of bySigner) {
    const who = names.get(signer) ?? signer
    process.stderr.write(`note: ${writes.length} chain write(s) wait for ${who}'s key (${writes.map((w) => w.kind).join(', ')}): the next command run with --as ${who} sends them\n`)
  }
}

/** Opens the data dir, the chain and the configured block store for the data plane. */
export async function withDataPlane<T>(opts: CommonOptions, fn: (p: Provena, chain: ChainSession, ctx: DataPlaneContext) => Promise<T>): Promise<T> {
  return withChain(opts, async (p, chain) => {
    const store = await openStore(p.dir, p.config.store ?? { backend: 'fs' })
    try {
      return await fn(p, chain, { ...registryContext({ p, chain }), store })
    } finally {
      await store.close?.()
    }
  })
}

/**
 * Checks a command's --purpose, if it has one, the way the consent layer does: a W3C DPV
 * purpose or one of the data dir's own. Run before every action (a preAction hook), so no
 * command can grant, export or train for a purpose the consent layer would refuse.
 */
export function checkPurposeOption(cmd: Command): void {
  const opts = cmd.opts() as CommonOptions & { purpose?: unknown }
  if (typeof opts.purpose !== 'string') return
  let config
  try {
    config = readConfig(resolveDataDir(opts.dir))
  } catch {
    return // no data dir: the command itself says so
  }
  resolvePurpose(opts.purpose, config.purposes)
}
