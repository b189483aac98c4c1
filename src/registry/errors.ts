import { ProvenaError } from '../errors.js'

export const registryErrors = {
  unreadable: (path: string, cause: unknown) =>
    new ProvenaError('REGISTRY_UNREADABLE', `cannot read ${path}: ${(cause as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (cause as Error).message}`, { cause }),
  empty: (path: string, why = 'it is empty') => new ProvenaError('REGISTRY_EMPTY', `${path} holds no records: ${why}`),
  parse: (path: string, line: number, what: string, field?: string) =>
    new ProvenaError('REGISTRY_PARSE', `${path}:${line}: ${what}`, { details: { file: path, line, field, what } }),
  unsupported: (path: string) =>
    new ProvenaError('REGISTRY_UNSUPPORTED_FORMAT', `${path}: not a CSV (.csv), JSON Lines (.jsonl, .ndjson) file or a directory`, {
      hint: 'name CSV files *.csv and JSON Lines files *.jsonl',
    }),
  notRegular: (path: string, what: string) =>
    new ProvenaError('REGISTRY_NOT_REGULAR', `${path} is ${what}: a dataset directory may hold only regular files and directories`, {
      hint: what.startsWith('a symbolic link') ? 'copy the target into the directory in place of the link, or remove it' : 'move it out of the directory: only the files of the dataset belong there',
      details: { file: path },
    }),
  notAFile: (path: string) =>
    new ProvenaError('REGISTRY_NOT_A_FILE', `${path} is a directory: an encrypted import takes one CSV or JSON Lines file`, {
      hint: 'import each file on its own, or register the directory in clear (one record per file): provena dataset register DIR',
    }),
  unknownAsset: (id: string) =>
    new ProvenaError('REGISTRY_UNKNOWN_ASSET', `no asset ${id} in this registry`, {
      hint: 'list them with provena dataset list / provena model list; an id may be shortened to a unique prefix of at least 6 hex digits',
    }),
  shortId: (prefix: string, min: number) =>
    new ProvenaError('REGISTRY_SHORT_ID', `id prefix ${prefix} is too short: give at least ${min} hex digits`, { hint: 'list ids with provena dataset list / provena model list' }),
  ambiguousId: (prefix: string, count: number) => new ProvenaError('REGISTRY_AMBIGUOUS_ID', `id prefix ${prefix} matches ${count} assets; give more digits`),
  wrongKind: (id: string, kind: string, expected: string) => new ProvenaError('REGISTRY_WRONG_KIND', `asset ${id} is a ${kind}, not a ${expected}`),
  conflict: (id: string, what: string) => new ProvenaError('REGISTRY_CONFLICT', `asset ${id} is registered already ${what}`),
  corrupt: (id: string, what: string) =>
    new ProvenaError('REGISTRY_STORE_CORRUPT', `stored commitments of ${id} do not match its registered root: ${what}`, {
      hint: 'the data dir was altered; restore it from a backup',
    }),
}
