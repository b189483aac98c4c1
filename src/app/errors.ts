import { ProvenaError } from '../errors.js'

export const appErrors = {
  noDataDir: (dir: string) =>
    new ProvenaError('DATADIR_MISSING', `no Provena data dir at ${dir}`, { hint: `run provena init --dir ${dir} (or set PROVENA_DIR)` }),
  badDataDir: (dir: string, why: string) => new ProvenaError('DATADIR_INVALID', `${dir} is not a usable Provena data dir: ${why}`),
  /** A command needs the sealed operator key and no passphrase is at hand. */
  operatorLocked: () =>
    new ProvenaError('ACCESS_NO_PASSPHRASE', 'this command signs with the operator key, sealed in keys/keystore.json, and no passphrase was given', {
      hint: 'set PROVENA_PASSPHRASE (or run the command in a terminal to be asked for it)',
    }),
  badKey: (what: string) => new ProvenaError('KEYS_INVALID', what, { hint: 'PROVENA_OPERATOR_KEY must be a 32-byte hex private key (0x…)' }),
  /** Nothing was ever deployed on the data dir's embedded chain. */
  notDeployedEmbedded: () =>
    new ProvenaError('CHAIN_NOT_DEPLOYED', "this data dir's contracts are not deployed on its embedded chain yet", {
      hint: 'run provena chain deploy (any command that writes to the chain deploys them too)',
    }),
  /** The chain lost what the outbox had written, and the log no longer matches its signed checkpoints. */
  replayRefused: (chain: string, what: string) =>
    new ProvenaError('CHAIN_REPLAY_REFUSED', `refusing to re-anchor this log's history onto the ${chain === 'embedded' ? 'embedded chain' : `chain ${chain}`}, which lost it: ${what}`, {
      hint: 'restore the data dir from a backup; provena verify names the entries that differ',
    }),
  /**
   * The contracts recorded for this chain have no code there any more. Said the same way by
   * every command that finds it (verify, chain deploy): what happened, and what to do.
   */
  chainStateLost: (embedded: boolean, chainId: number, anchored: number) =>
    new ProvenaError(
      'CHAIN_STATE_LOST',
      embedded
        ? `the embedded chain's state is gone (node/state.json in the data dir was lost or reset): the contracts and the ${anchored} checkpoint(s) anchored from this data dir are not on it`
        : `the contracts recorded for chain ${chainId} have no code on it: the node lost its state (or is another chain), and the ${anchored} checkpoint(s) anchored from this data dir with them`,
      { hint: CHAIN_STATE_LOST_HINT(embedded) },
    ),
}

/** What to do when the chain lost its state. */
export const CHAIN_STATE_LOST_HINT = (embedded: boolean) =>
  `run provena chain deploy${embedded ? '' : ' --rpc-url URL'}: it deploys the contracts again and re-anchors the log's signed checkpoints from the outbox, after checking every entry against them; then run provena verify`
