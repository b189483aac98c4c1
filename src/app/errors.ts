import { ProvenaError } from '../errors.js'

export const appErrors = {
  noDataDir: (dir: string) =>
    new ProvenaError('DATADIR_MISSING', `no Provena data dir at ${dir}`, { hint: `run provena init --dir ${dir} (or set PROVENA_DIR)` }),
  badDataDir: (dir: string, why: string) => new ProvenaError('DATADIR_INVALID', `${dir} is not a usable Provena data dir: ${why}`),
  badKey: (what: string) => new ProvenaError('KEYS_INVALID', what, { hint: 'PROVENA_OPERATOR_KEY must be a 32-byte hex private key (0x…)' }),
}
