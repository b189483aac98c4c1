import { ProvenaError } from '../errors.js'

const WRITE_FAILURES: Record<string, string> = { ENOENT: 'its directory does not exist', EISDIR: 'it is a directory', EACCES: 'permission denied', EROFS: 'read-only file system', ENOSPC: 'no space left on the device' }

export const accessErrors = {
  noPassphrase: () =>
    new ProvenaError('ACCESS_NO_PASSPHRASE', 'the keystore needs a passphrase and none was given', {
      hint: 'set PROVENA_PASSPHRASE, or run the command in a terminal to be asked for it',
    }),
  wrongPassphrase: (path: string) => new ProvenaError('ACCESS_WRONG_PASSPHRASE', `wrong passphrase for the keystore ${path}`),
  unknownIdentity: (name: string) => new ProvenaError('ACCESS_UNKNOWN_IDENTITY', `no identity "${name}" in this data dir`, { hint: 'list them with provena identity list' }),
  duplicateIdentity: (name: string) => new ProvenaError('ACCESS_DUPLICATE_IDENTITY', `an identity named "${name}" exists already`),
  badName: (name: string) =>
    new ProvenaError('ACCESS_BAD_NAME', `identity name "${name}" must be 1-64 characters of letters, digits, '.', '_' or '-'`),
  badRole: (role: string) => new ProvenaError('ACCESS_BAD_ROLE', `unknown role "${role}"`, { hint: 'roles: controller, processor, trainer, auditor' }),
  cannotWrite: (path: string, cause: unknown) =>
    new ProvenaError('ACCESS_CANNOT_WRITE', `cannot write ${path}: ${WRITE_FAILURES[(cause as { code?: string }).code ?? ''] ?? (cause as Error).message}`, {
      hint: 'choose an --out path in a directory you can write to',
    }),
  tamperedKeystore: (path: string, name: string, field: string) =>
    new ProvenaError(
      'ACCESS_KEYSTORE_TAMPERED',
      field === 'sealed'
        ? `keystore ${path}: the sealed entry of identity "${name}" does not open (damaged or edited)`
        : `keystore ${path}: field "${field}" of identity "${name}" differs from what was sealed with its keys (the file was edited)`,
      { hint: 'restore keys/keystore.json from a backup; do not edit it by hand', details: { identity: name, field } },
    ),
  tamperedOperator: (path: string, field: string) =>
    new ProvenaError(
      'ACCESS_KEYSTORE_TAMPERED',
      field === 'sealed'
        ? `keystore ${path}: the sealed operator key does not open (damaged or edited)`
        : `keystore ${path}: field "${field}" of the operator key differs from what was sealed with it (the file was edited)`,
      { hint: 'restore keys/keystore.json from a backup; do not edit it by hand', details: { identity: 'operator', field } },
    ),
  corruptKeystore: (path: string, why: string) => new ProvenaError('ACCESS_KEYSTORE_CORRUPT', `keystore ${path} is not readable: ${why}`),
}
