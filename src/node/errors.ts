import { ProvenaError } from '../errors.js'

export const nodeErrors = {
  /** A consortium file that does not parse or whose field is wrong: names the file and the field. */
  badConsortium: (source: string, field: string, why: string) =>
    new ProvenaError('CONSORTIUM_INVALID', `${source}: ${field} ${why}`, {
      hint: 'ask the consortium admin for the file again (provena consortium create / add-member --out FILE)',
      details: { source, field },
    }),
  /** A member card whose DSSE signature is not by the member's did:key, or whose payload is not the entry. */
  badCard: (source: string, field: string, why: string) =>
    new ProvenaError('CONSORTIUM_CARD_INVALID', `${source}: ${field} ${why}`, {
      hint: 'the member makes its card with provena identity show NAME --json (PROVENA_PASSPHRASE set)',
      details: { source, field },
    }),
  /** `consortium update` with a file naming other trust roots. */
  rootsChanged: (source: string, what: string[]) =>
    new ProvenaError('CONSORTIUM_ROOTS_CHANGED', `${source} changes the consortium's trust roots (${what.join(', ')}): refused; the pinned file is unchanged`, {
      hint: 'a consortium with other contracts, chain or admin is another consortium: join it with provena init --join FILE in a new data dir',
      details: { changed: what },
    }),
  /** A pinned chain id that the chain used does not have. */
  wrongChain: (pinned: number, actual: number, url: string) =>
    new ProvenaError('CONSORTIUM_WRONG_CHAIN', `the consortium's chain is ${pinned}; ${url} is chain ${actual}`, {
      hint: "--rpc-url / PROVENA_RPC_URL change the consortium chain's URL, never the chain: give a node of chain " + pinned,
    }),
  /** A pinned shared contract without code on the chain. */
  missingContract: (name: string, address: string, chainId: number) =>
    new ProvenaError('CONSORTIUM_CONTRACT_MISSING', `the consortium's ${name} ${address} has no code on chain ${chainId}`, {
      hint: 'is this the consortium chain (--rpc-url)? A chain that lost its state needs the admin to create the consortium again',
    }),
  /** A joined node without a chain URL. */
  noChainUrl: () =>
    new ProvenaError('CONSORTIUM_NO_CHAIN_URL', "this node's consortium file names no chain URL", { hint: 'pass --rpc-url URL (or set PROVENA_RPC_URL)' }),
  notAdmin: (admin: string, operator: string) =>
    new ProvenaError('CONSORTIUM_NOT_ADMIN', `only the consortium admin (${admin}) adds members; this node's operator is ${operator}`, {
      hint: 'send the card to the admin: provena identity show NAME --json > card.json',
    }),
  notSignedByAdmin: (source: string, adminDid: string, why: string) =>
    new ProvenaError('CONSORTIUM_NOT_SIGNED', `${source} is not signed by the consortium admin ${adminDid}: ${why}; refused, the pinned file is unchanged`, {
      hint: 'take the file the admin wrote (provena consortium add-member --out FILE), not a copy someone else changed',
      details: { source, admin: adminDid },
    }),
  notPinned: (dir: string) =>
    new ProvenaError('CONSORTIUM_NOT_PINNED', `${dir} has no consortium file`, { hint: 'create one: provena consortium create --out consortium.json (or join: provena init --join FILE)' }),
  alreadyPinned: (dir: string) =>
    new ProvenaError('CONSORTIUM_ALREADY_PINNED', `${dir} already belongs to a consortium (consortium.json)`, { hint: 'provena consortium update FILE replaces it with a newer file of the same consortium' }),
  outExists: (path: string) => new ProvenaError('CONSORTIUM_OUT_EXISTS', `${path} exists`, { hint: 'pass --force to overwrite it' }),
  /** The member's CheckpointAnchor on-chain is not the log its card names. */
  anchorMismatch: (anchor: string, what: string) =>
    new ProvenaError('CONSORTIUM_ANCHOR_MISMATCH', `CheckpointAnchor ${anchor} ${what}`, {
      hint: "the member's node deploys its anchor at first chain use (any chain command there), then makes its card again",
    }),
}

/**
 * The witness (C2SP tlog-witness add-checkpoint) and its client. The HTTP status of each
 * code is the one the spec asks for (src/errorCatalogue.ts): 400 malformed, 403 no valid
 * signature by the log's pinned key, 404 an origin the consortium file does not list, 409
 * an old size other than the last one cosigned, 422 a proof that does not verify.
 */
export const witnessErrors = {
  malformed: (why: string) =>
    new ProvenaError('WITNESS_MALFORMED', `add-checkpoint request: ${why}`, {
      hint: 'the body is "old <size>\\n", the consistency proof (base64, one hash a line), a blank line, then the signed checkpoint (c2sp.org/tlog-witness)',
    }),
  unknownLog: (origin: string) =>
    new ProvenaError('WITNESS_UNKNOWN_LOG', `this witness does not witness the log ${JSON.stringify(origin)}: no member of its consortium file has that origin`, {
      hint: "a witness takes the logs it witnesses from its pinned consortium file (members' log origin and vkey), never from the request",
      details: { origin },
    }),
  badSignature: (origin: string) =>
    new ProvenaError('WITNESS_BAD_SIGNATURE', `the checkpoint of ${origin} carries no valid signature by the log key the consortium file pins for it`, {
      details: { origin },
    }),
  /** The old size is not the size of the last checkpoint cosigned for the origin: the client retries from `size`. */
  oldSizeMismatch: (origin: string, old: number, size: number) =>
    new ProvenaError('WITNESS_OLD_SIZE_MISMATCH', `old size ${old} is not the size of the last checkpoint of ${origin} this witness cosigned (${size})`, {
      hint: 'send the consistency proof from the size this witness gave',
      details: { origin, old, size },
    }),
  /** A checkpoint that does not extend the last one cosigned: a bad proof, or a fork of the log (split view). Never cosigned. */
  inconsistent: (origin: string, last: { size: number; root: Buffer }, offered: { size: number; root: Buffer }, why: string) =>
    new ProvenaError(
      last.size === offered.size ? 'WITNESS_SPLIT_VIEW' : 'WITNESS_BAD_PROOF',
      `${origin}: the checkpoint of size ${offered.size} root ${offered.root.toString('base64')} does not extend the last one this witness cosigned, size ${last.size} root ${last.root.toString('base64')}: ${why}; not cosigned`,
      {
        hint: last.size === offered.size ? 'two checkpoints of one size with different roots: the log showed two histories (a split view); the witness kept both notes as evidence' : 'send a consistency proof from the old size to the checkpoint size (RFC 9162 §2.1.4)',
        details: { origin, lastSize: last.size, lastRoot: last.root.toString('base64'), size: offered.size, root: offered.root.toString('base64') },
      },
    ),
  /** A witness that answered what the protocol does not allow, or did not answer. */
  badResponse: (witness: string, why: string, cause?: unknown) =>
    new ProvenaError('WITNESS_BAD_RESPONSE', `witness ${witness}: ${why}`, {
      hint: "check the witness's endpoint in the consortium file and that its node runs provena serve",
      details: { witness },
      ...(cause === undefined ? {} : { cause }),
    }),
}
