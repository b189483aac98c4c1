import { ProvenaError } from '../errors.js'

export const storeErrors = {
  badCid: (cid: string) => new ProvenaError('STORE_BAD_CID', `"${cid}" is not a CIDv1 of a raw sha2-256 block`),
  missing: (cid: string, where: string) =>
    new ProvenaError('STORE_MISSING_BLOCK', `block ${cid} is not in the ${where} store`, { hint: 'restore the data dir from a backup, or fetch the block from a peer' }),
  corrupt: (cid: string, found: string) =>
    new ProvenaError('STORE_CORRUPT_BLOCK', `block ${cid} does not match its content address (found digest ${found})`, { hint: 'the stored bytes were altered or damaged' }),
}
