import { ProvenaError } from '../errors.js'

export const dbErrors = {
  tooNew: (path: string, found: number, known: number) =>
    new ProvenaError(
      'DB_TOO_NEW',
      `data dir database ${path} has schema version ${found}; this Provena knows versions up to ${known}`,
      { hint: 'it was written by a newer Provena: upgrade Provena, or use another --dir' },
    ),
  cannotOpen: (path: string, cause: unknown) =>
    new ProvenaError('DB_CANNOT_OPEN', `cannot open database ${path}: ${(cause as Error).message}`, {
      cause,
      hint: 'check that the data dir exists and is writable (provena init)',
    }),
}
