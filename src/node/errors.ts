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
