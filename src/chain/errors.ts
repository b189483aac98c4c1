import { ProvenaError } from '../errors.js'

export const chainErrors = {
  unreachable: (rpcUrl: string, cause?: unknown) =>
    new ProvenaError('CHAIN_UNREACHABLE', `cannot reach the EVM node at ${rpcUrl}`, {
      cause,
      hint: 'check --rpc-url / PROVENA_RPC_URL, or drop it to use the embedded node',
    }),
  nodeStartFailed: (why: string, logPath: string) =>
    new ProvenaError('CHAIN_NODE_START_FAILED', `the embedded node (anvil) did not start: ${why}`, { hint: `see ${logPath}` }),
  anvilMissing: (cause: unknown) =>
    new ProvenaError('CHAIN_NODE_MISSING', 'the anvil binary of @foundry-rs/anvil is not installed for this platform', {
      cause,
      hint: 'run npm ci; or use an external node with --rpc-url',
    }),
  reverted: (what: string, errorName: string | undefined, args: unknown, cause?: unknown) =>
    new ProvenaError('CHAIN_REVERTED', `${what} reverted${errorName ? ` with ${errorName}${args ? `(${formatArgs(args)})` : ''}` : ''}`, {
      cause,
      details: { errorName, args: args === undefined ? undefined : formatArgs(args) },
    }),
  unfunded: (address: string, chainId: number) =>
    new ProvenaError('CHAIN_OPERATOR_UNFUNDED', `operator account ${address} has no funds on chain ${chainId} and the node has no unlocked account to fund it`, {
      hint: `send ETH to ${address}, or set PROVENA_OPERATOR_KEY to a funded private key`,
    }),
  notDeployed: (name: string, chainId: number) =>
    new ProvenaError('CHAIN_NOT_DEPLOYED', `${name} is not deployed on chain ${chainId}`, { hint: 'run provena chain deploy --rpc-url URL' }),
  outboxFailed: (what: string, cause?: unknown) => new ProvenaError('CHAIN_OUTBOX_FAILED', what, { cause }),
}

function formatArgs(args: unknown): string {
  if (!Array.isArray(args)) return String(args)
  return args.map((a) => (typeof a === 'bigint' ? a.toString() : String(a))).join(', ')
}
