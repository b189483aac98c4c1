/**
 * Every error code of Provena with what a front end makes of it: the CLI's exit code, the
 * HTTP status of the API, and a one-line description. `docs/errors.md` is generated from
 * it (`npm run docs:errors`; a test checks it is in sync), and a test fails naming file
 * and line when a code used in src/ is missing here.
 *
 * Exit codes: 1 error, 2 bad usage, 3 a verification found a difference, 4 chain
 * unreachable. HTTP: 400 bad input, 401 no credentials, 403 refused, 404 unknown id, 409
 * conflict or already done, 422 verification difference, 500 internal or a broken data
 * dir, 502/503 the chain or IPFS unreachable; the API alone also answers 413 (body too large)
 * and 415 (unsupported media type).
 *
 * @example
 * errorInfo('LOG_ROOT_MISMATCH') // { exit: 3, http: 422, description: 'a root computed from the log differs from the one signed or anchored' }
 */
export interface ErrorInfo {
  /** The CLI's exit code. */
  exit: 1 | 2 | 3 | 4
  /** The HTTP status of the API. */
  http: 400 | 401 | 403 | 404 | 409 | 413 | 415 | 422 | 500 | 502 | 503
  description: string
}

const bad = (description: string): ErrorInfo => ({ exit: 1, http: 400, description })
const usage = (description: string): ErrorInfo => ({ exit: 2, http: 400, description })
const refused = (description: string): ErrorInfo => ({ exit: 1, http: 403, description })
const unknown = (description: string): ErrorInfo => ({ exit: 1, http: 404, description })
/** No or invalid credentials: HTTP 401. */
const unauthenticated = (description: string): ErrorInfo => ({ exit: 1, http: 401, description })
const conflict = (description: string): ErrorInfo => ({ exit: 1, http: 409, description })
/** A check found a difference: exit 3, HTTP 422. */
const difference = (description: string): ErrorInfo => ({ exit: 3, http: 422, description })
/** Found wrong, but not by a verification command: exit 1, HTTP 422. */
const invalid = (description: string): ErrorInfo => ({ exit: 1, http: 422, description })
const internal = (description: string): ErrorInfo => ({ exit: 1, http: 500, description })
const unreachable = (description: string): ErrorInfo => ({ exit: 4, http: 503, description })

export const ERROR_CATALOGUE = {
  INTERNAL: internal('an unexpected error: a bug in Provena (rerun with --verbose and report it)'),

  // api: HTTP Message Signatures (RFC 9421) on requests between nodes
  API_SIGNATURE_BAD_ALGORITHM: unauthenticated('the request\'s signature is not alg "ed25519"'),
  API_SIGNATURE_BAD_SIGNATURE: unauthenticated("the request's signature is not by the key it names: forged, or the request was altered"),
  API_SIGNATURE_DIGEST_MISMATCH: unauthenticated('the request body does not match its Content-Digest (altered or truncated on the way)'),
  API_SIGNATURE_EXPIRED: unauthenticated("the request's signature expired (or is older than the node's maximum age)"),
  API_SIGNATURE_MALFORMED: bad('Signature-Input, Signature or Content-Digest does not parse, or a parameter is missing or of the wrong type (named)'),
  API_SIGNATURE_MISSING: unauthenticated('the request carries no Provena signature (Signature-Input and Signature headers)'),
  API_SIGNATURE_NOT_COVERED: unauthenticated('the signature does not cover @method, @target-uri, and with a body content-digest and content-type'),
  API_SIGNATURE_NOT_YET_VALID: unauthenticated("the request's signature is created ahead of this node's clock beyond the allowed skew"),
  API_SIGNATURE_REPLAYED: unauthenticated("the signature's nonce was seen before from that key: a replay"),
  API_SIGNATURE_UNKNOWN_KEY: unauthenticated("the signature's keyid is not a member's key"),
  API_SIGNATURE_WRONG_TARGET: unauthenticated('the request was signed for another node (its target URI is not at this node\'s origin)'),

  // access: identities, keystore, data plane, grants
  ACCESS_ALREADY_ERASED: conflict('the subject was erased already'),
  ACCESS_BAD_NAME: bad('an identity name is not 1-64 letters, digits, ".", "_" or "-"'),
  ACCESS_BAD_RECIPIENT_KEY: bad("the requester's pinned X25519 key is not a 32-byte public key"),
  ACCESS_BAD_RELEASE: refused('a key release does not open: not sealed to this identity, or bound to another dataset, request or record order'),
  ACCESS_BAD_ROLE: bad('an unknown role (controller, processor, trainer, auditor)'),
  ACCESS_CANNOT_WRITE: bad('the output file cannot be written (directory missing, permission, space)'),
  ACCESS_DENIED: refused('AccessPolicy does not allow this identity to use the dataset for the purpose now'),
  ACCESS_DUPLICATE_IDENTITY: conflict('an identity of that name exists already'),
  ACCESS_ERASURE_IN_WAL: conflict('the erasure is committed, but another reader kept the destroyed keys in the WAL: retry when it is closed'),
  ACCESS_EXPIRY_IN_PAST: bad('a grant expiry is not in the future'),
  ACCESS_KEYSTORE_CORRUPT: internal('keys/keystore.json is not readable (not JSON, unknown format)'),
  ACCESS_KEYSTORE_TAMPERED: refused('a keystore entry (an identity or the operator key) was edited or damaged: refused at unlock'),
  ACCESS_NOT_CONTROLLER: refused('the identity is not a controller (or not the controller of this dataset)'),
  ACCESS_NOT_IMPORTED: conflict('the dataset was registered in clear, not imported: nothing encrypted to export'),
  ACCESS_NO_CONTROLLER: unknown('the dataset has no controller on-chain (not claimed in AccessPolicy)'),
  ACCESS_NOT_OWNER: refused('the release is not signed by the member that owns the dataset in AccessPolicy'),
  ACCESS_NOT_REQUESTED: refused('the release answers no request this node made (or one used already)'),
  ACCESS_NO_GRANT: unknown('the identity holds no active grant of the dataset to revoke'),
  ACCESS_NO_PASSPHRASE: { exit: 1, http: 401, description: 'the keystore (an identity or the operator key) needs a passphrase and none was given: set PROVENA_PASSPHRASE' },
  ACCESS_NO_RECORD: unknown('the dataset has no record of that index'),
  ACCESS_PURPOSE_REQUIRED: bad('an export by someone other than the controller must name its purpose'),
  ACCESS_SEGMENT_ALTERED: invalid('a ciphertext segment does not hash to the CID the release names'),
  ACCESS_SEGMENT_MISSING: unknown('a segment the release names is not in the --segments directory'),
  ACCESS_SEGMENT_NOT_RELEASED: refused('a node serves a ciphertext segment only to a member holding an unexpired key release it issued that names the segment'),
  ACCESS_SUBJECT_ERASED: conflict("the record's subject was erased: their data cannot be imported or read"),
  ACCESS_UNKNOWN_IDENTITY: unknown('no identity of that name (or DID) in this data dir'),
  ACCESS_UNKNOWN_MEMBER: unknown('no pinned member (nor identity of this node) with that DID or address'),
  ACCESS_UNKNOWN_SUBJECT: unknown('no data of that subject under this controller'),
  ACCESS_WHICH_CONTROLLER: bad('no controller, or several: say which with --as'),
  ACCESS_WRONG_PASSPHRASE: { exit: 1, http: 401, description: 'the passphrase does not open the keystore' },

  // api: provena serve, its routes and credentials
  API_BAD_EXPIRY: bad('a token lifetime is not a duration such as 30d, 12h or 90m (at most 365d)'),
  API_BAD_REQUEST: bad('the request does not match the route\'s schema: malformed JSON, a wrong type, a missing or unknown field, a bad parameter (named)'),
  API_BAD_SCOPE: bad('an unknown token scope (the known ones are listed)'),
  API_BODY_TOO_LARGE: { exit: 1, http: 413, description: 'the request body exceeds the server\'s limit' },
  API_LISTEN_FAILED: internal('provena serve cannot listen on the host and port (in use, or not allowed)'),
  API_MEMBER_NO_CONSORTIUM: unauthenticated('a signed member request reached a node that pins no consortium file: a lone node takes API tokens only'),
  API_MEMBER_NO_ORIGIN: unauthenticated('the node does not know its public URL, so it cannot check a signed request was meant for it'),
  API_MEMBER_ROLE_REVOKED: refused('the member no longer holds, on-chain (AccessPolicy), the role its consortium entry gives it'),
  API_NODE_BAD_ANSWER: { exit: 1, http: 502, description: 'the node named by --node (or serving the data dir) answered with something that is not the API\'s: not JSON, or not a problem document' },
  API_NODE_SERVED: conflict('a node serves this data dir (provena serve): send the change to it, or stop it first'),
  API_NODE_UNREACHABLE: { exit: 1, http: 502, description: 'the node named by --node (or serving the data dir) does not answer: connection refused, reset or timed out (its URL is named)' },
  API_NOT_FOUND: unknown('no such route'),
  API_ROLE_DENIED: refused("the credential's role is not one the route allows"),
  API_SCOPE_DENIED: refused('the token lacks the scope the route needs'),
  API_TOKEN_EXPIRED: { exit: 1, http: 401, description: 'the API token expired' },
  API_TOKEN_INVALID: { exit: 1, http: 401, description: 'the API token is malformed, unknown, or its secret does not match' },
  API_TOKEN_REVOKED: { exit: 1, http: 401, description: 'the API token was revoked' },
  API_UNAUTHENTICATED: { exit: 1, http: 401, description: 'the route needs a credential (Authorization: Bearer pvn_…) and none was given' },
  API_UNKNOWN_TOKEN: unknown('no API token of that id'),
  API_UNSUPPORTED_MEDIA_TYPE: { exit: 1, http: 415, description: 'the request body is not of a content type the route takes (application/json)' },

  // audit: a mirror of another member's log read as C2SP tlog-tiles
  AUDIT_BAD_CHECKPOINT: difference("the log's checkpoint is malformed or carries no valid signature by the pinned key (or names another origin)"),
  AUDIT_BAD_TILE: difference('a tile or entry bundle served does not have the length or layout C2SP tlog-tiles gives it'),
  AUDIT_BAD_VKEY: usage('a verifier key is not <name>+<key id>+<base64(0x01 ‖ Ed25519 key)> with a matching key id'),
  AUDIT_ENTRY_MISMATCH: difference('an entry of a bundle does not hash to its leaf hash in the level-0 tile'),
  AUDIT_FETCH_FAILED: { exit: 1, http: 502, description: "the log's URL does not answer, or answers a GET with an error" },
  AUDIT_MIRROR_CORRUPT: internal('the local mirror of a log is unreadable or no longer matches the checkpoint it recorded'),
  AUDIT_ROOT_MISMATCH: difference("the tiles served do not hash to the signed checkpoint's root"),
  AUDIT_SPLIT_VIEW: difference('the log showed two checkpoints that cannot both be true: same size and different roots, or a newer one that does not extend the older'),

  // app: the data dir
  DATADIR_INVALID: internal('the data dir is not usable (provena.json or a key file unreadable, keys inconsistent)'),
  DATADIR_MISSING: unknown('no Provena data dir there: run provena init'),
  KEYS_INVALID: bad('PROVENA_OPERATOR_KEY is not a 32-byte hex private key'),

  // chain: the EVM node, contracts, outbox
  CHAIN_NODE_MISSING: internal('the anvil binary of @foundry-rs/anvil is not installed for this platform'),
  CHAIN_NODE_START_FAILED: unreachable('the embedded node (anvil) did not start'),
  CHAIN_NOT_DEPLOYED: conflict("the data dir's contracts are not deployed on this chain: run provena chain deploy"),
  CHAIN_OPERATOR_UNFUNDED: { exit: 1, http: 503, description: 'the operator account has no funds and the node cannot fund it' },
  CHAIN_OUTBOX_FAILED: { exit: 1, http: 502, description: 'a chain write of the outbox could not be completed' },
  CHAIN_REPLAY_REFUSED: difference('the chain lost the anchors and the log no longer matches its signed checkpoints: not re-anchored'),
  CHAIN_REVERTED: { exit: 1, http: 409, description: 'a contract call reverted (its custom error is in details)' },
  CHAIN_STATE_LOST: { exit: 1, http: 503, description: 'the chain lost the contracts and anchors recorded for it: run provena chain deploy' },
  CHAIN_UNREACHABLE: unreachable('the EVM node does not answer (or stopped answering mid-command)'),

  // cli
  CLI_BAD_ARGUMENT: usage('an option or argument is malformed'),
  CLI_NOT_REMOTE: usage('the command cannot run on a node over HTTP (--node): it has no route; run it on the node\'s machine, or without --node'),
  CLI_OUT_EXISTS: conflict('the --out file exists already (add --force to replace it)'),
  CLI_OUT_IS_DIRECTORY: bad('the --out path is a directory: name the file to write'),
  CLI_USAGE: usage('an unknown or missing command, option or argument'),

  // consent
  CONSENT_BAD_FILE: bad('the consent file cannot be read'),
  CONSENT_BAD_LINE: bad('a line of a consent import is invalid (file:line: field): nothing was applied'),
  CONSENT_BAD_PURPOSE_ID: bad('an own purpose id is not valid'),
  CONSENT_BAD_SIGNATURE: bad("a subject's signature on a consent record does not verify"),
  CONSENT_BAD_TERMS: internal("provena.json's consentTerms are not valid ISO/IEC TS 27560 terms"),
  CONSENT_BAD_TIME: bad('a time is not ISO 8601'),
  CONSENT_CONFLICT: conflict('two changes for one subject and purpose in one batch: nothing was applied'),
  CONSENT_EXPIRY_IN_PAST: bad('a consent expiry is not in the future'),
  CONSENT_EXPIRY_NOT_ALLOWED: bad('only given consent expires, not a refusal or withdrawal'),
  CONSENT_MANIFEST_UNTRUSTED: difference('a training manifest names a chain, CheckpointAnchor, AssetRegistry or controller that is not among the pinned trust roots'),
  CONSENT_MANIFEST_INVALID: bad('a training manifest is not valid JSON of the expected shape'),
  CONSENT_MANIFEST_UNREADABLE: bad('a training manifest cannot be read'),
  CONSENT_NOTHING_TO_WITHDRAW: conflict('the subject has no consent for the purpose to withdraw'),
  CONSENT_NOT_ANCHORED: conflict('the consent map is not anchored yet: run provena log checkpoint'),
  CONSENT_NOT_CONTROLLER: refused("only the controller of the subjects' data records consent"),
  CONSENT_NO_SUBJECTS: conflict('the dataset was registered in clear: its records have no known subjects'),
  CONSENT_SUBJECT_ERASED: conflict('the subject was erased: no consent can be given for their data'),
  CONSENT_UNKNOWN_PURPOSE: bad('not a W3C DPV purpose nor one of the data dir\'s own purposes'),

  // consortium: the consortium file, pinned trust roots, membership
  CONSORTIUM_ALREADY_PINNED: conflict('the data dir already belongs to a consortium (consortium update replaces its file)'),
  CONSORTIUM_ANCHOR_MISMATCH: refused("a member's CheckpointAnchor on-chain is not the log its card names"),
  CONSORTIUM_CARD_INVALID: refused("a member card's signature is not by its did:key, or its payload is not the member entry"),
  CONSORTIUM_CONTRACT_MISSING: conflict("a pinned shared contract has no code on the chain used (another chain, or one that lost its state)"),
  CONSORTIUM_INVALID: bad('a consortium file does not parse, or one of its fields is wrong'),
  CONSORTIUM_JOIN_EXISTING: conflict('a node joins a consortium when its data dir is created, not later'),
  CONSORTIUM_NOT_ADMIN: refused('only the consortium admin adds members'),
  CONSORTIUM_NOT_SIGNED: refused("a consortium file is not signed by the pinned admin (changed by someone else): refused"),
  CONSORTIUM_NOT_PINNED: unknown('the data dir has no consortium file'),
  CONSORTIUM_NO_CHAIN_URL: usage("the node's consortium file names no chain URL: give --rpc-url"),
  CONSORTIUM_OUT_EXISTS: conflict('the --out file exists already (add --force to replace it)'),
  CONSORTIUM_ROOTS_CHANGED: refused("a consortium file changes the pinned trust roots (chain, contracts or admin): refused"),
  CONSORTIUM_WRONG_CHAIN: refused('the chain used is not the pinned chain id'),

  // crypto
  CRYPTO_BAD_DID: bad('an invalid did:key'),
  CRYPTO_BAD_ENVELOPE: bad('an invalid DSSE envelope'),
  CRYPTO_BAD_KEY: bad('an invalid key'),
  CRYPTO_BAD_SIGNATURE: invalid('a signature does not verify'),
  CRYPTO_DECRYPT_FAILED: invalid('a ciphertext does not decrypt (wrong key, or altered)'),
  CRYPTO_NOT_CANONICALIZABLE: bad('a value cannot be canonicalised (RFC 8785 takes I-JSON only)'),

  // db
  DEMO_STEP_FAILED: bad('a step of `provena demo --consortium` failed: the message names the node and the command; its serve.log is in its data dir'),
  DB_CANNOT_OPEN: internal('the database cannot be opened'),
  DB_TOO_NEW: internal('the database was written by a newer Provena'),

  // fl: federated learning
  FL_BAD_DATA: bad("the dataset's columns or values do not fit the task"),
  FL_BAD_INPUT: bad('an input file cannot be read'),
  FL_BAD_MANIFEST: bad('the training manifest was not produced here, or is for another dataset or purpose'),
  FL_BAD_MODEL_SPEC: bad('the model spec is not valid (features, classes)'),
  FL_BAD_SHAPE: bad("tensors or features do not match the task's model"),
  FL_BAD_UPDATE: bad('the update holds NaN or infinite values'),
  FL_MODEL_MISMATCH: refused("the global model in the exchange does not hash to the digest on-chain (or the task message's initial model)"),
  FL_NOT_AGGREGATOR: refused('the identity is not the aggregator of the task'),
  FL_NOT_ANCHORED: conflict('no checkpoint is anchored yet'),
  FL_NOT_COMMITTED: conflict('the client has no commitment on-chain for the round it delivers an update of'),
  FL_NOT_IMPORTED: conflict('the dataset was registered in clear: it cannot be gated by consent'),
  FL_COORDINATOR_NOT_PINNED: refused('the coordinator URL is not an endpoint a member advertises in the pinned consortium file: a node talks only to the nodes its file pins'),
  FL_NOT_LOCAL_IDENTITY: refused('the credential acts as no identity of this node: training runs as a participant identity of the node'),
  FL_NOT_PARTICIPANT: refused('the caller is not a participant of the federated task'),
  FL_NOT_YOUR_UPDATE: refused("a participant delivers another client's update: each delivers its own only"),
  FL_NO_CONSENTED_RECORDS: conflict('no record of the dataset has consent for the purpose now'),
  FL_NO_GLOBAL_MODEL: unknown("the round's global model is not in this data dir"),
  FL_NO_UPDATE: unknown('no update of the client for the round in this data dir'),
  FL_NO_VALID_UPDATE: conflict('no valid update in the round'),
  FL_ROUND_CLOSED: conflict('the round is not the open round of the task (finalised, or not yet open)'),
  FL_TASK_DONE: conflict('the task completed all its rounds'),
  FL_TASK_MISMATCH: refused("the task message is not the aggregator's, or does not match the task on-chain"),
  FL_UNKNOWN_DATASET: unknown("a dataset of the model's lineage is not registered on-chain"),
  FL_UNKNOWN_PARTICIPANT: unknown('a participant of the task is not a member this node pins'),
  FL_UNKNOWN_TASK: unknown('no such federated task on this chain in this data dir'),
  FL_UPDATE_MISMATCH: conflict('the sealed update or manifest delivered is not the one the client committed on-chain'),

  // log
  LOG_BAD_CHECKPOINT: invalid('a checkpoint note is malformed or its signature does not verify'),
  LOG_BAD_MAP_PROOF: invalid('a consent map proof is malformed'),
  LOG_BAD_PROOF: invalid('an inclusion or consistency proof is malformed'),
  LOG_LEAF_MISMATCH: difference("a log entry's bytes do not hash to its stored leaf hash"),
  LOG_NOT_ANCHORED: conflict('the entry is not covered by the anchored checkpoint yet: run provena log checkpoint'),
  LOG_OUT_OF_RANGE: unknown('no log entry (or tree size) of that index'),
  LOG_ROOT_MISMATCH: difference('a root computed from the log differs from the one signed or anchored'),
  LOG_TILE_BAD_PATH: bad('a tlog-tiles path is not canonical: tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>]'),
  LOG_TILE_ENTRY_TOO_LARGE: internal('a log entry over 65,535 bytes cannot go in a tlog-tiles entry bundle (uint16 length)'),
  LOG_TILE_NOT_FOUND: unknown('the tile is beyond the tree of the latest signed checkpoint'),
  LOG_TILE_NO_CHECKPOINT: unknown('the log has no signed checkpoint yet, so no tile is served'),

  // message: signed messages between nodes
  MESSAGE_BAD_SIGNATURE: refused("the message's signature is not by the key of its sender's did:key"),
  MESSAGE_EXPIRED: refused('the message expired'),
  MESSAGE_MALFORMED: bad('the message file is not a DSSE envelope of the expected shape (the field is named)'),
  MESSAGE_NOT_MEMBER: refused('the sender is not a pinned member of the consortium (nor an identity of a lone node)'),
  MESSAGE_NOT_YET_VALID: refused('the message is issued more than 5 minutes ahead of this clock'),
  MESSAGE_REPLAYED: conflict("the message's nonce was seen before from that sender: a replay"),
  MESSAGE_UNREADABLE: bad('the message file cannot be read'),
  MESSAGE_WRONG_PURPOSE: refused('the message is for another purpose than the operation'),
  MESSAGE_WRONG_RECIPIENT: refused('the message is addressed to another identity'),
  MESSAGE_WRONG_SENDER: refused('the message is signed by another member than the one whose signed HTTP request carries it'),

  // node: requests to other nodes over HTTP
  NODE_REMOTE_REFUSED: { exit: 1, http: 502, description: "another node refused the request or answered something this node cannot use (its own code and detail are named)" },
  NODE_UNREACHABLE: { exit: 1, http: 502, description: 'another node does not answer at the URL given' },
  MESSAGE_WRONG_TYPE: bad('the message is of another type than the operation takes'),

  // registry
  REGISTRY_AMBIGUOUS_ID: bad('an id prefix matches several assets'),
  REGISTRY_CONFLICT: conflict('the asset is registered already, differently'),
  REGISTRY_EMPTY: bad('the file or directory holds no records'),
  REGISTRY_NOT_A_FILE: bad('an encrypted import takes one file, not a directory'),
  REGISTRY_NOT_REGULAR: bad('a dataset directory holds a symbolic link, device or FIFO'),
  REGISTRY_PARSE: bad('a line of the dataset does not parse (file:line: field)'),
  REGISTRY_SHORT_ID: bad('an id prefix is shorter than 6 hex digits'),
  REGISTRY_STORE_CORRUPT: internal("stored commitments do not match the asset's registered root: the data dir was altered"),
  REGISTRY_UNKNOWN_ASSET: unknown('no asset of that id'),
  REGISTRY_UNREADABLE: bad('the dataset file cannot be read'),
  REGISTRY_UNSUPPORTED_FORMAT: bad('not a CSV, JSON Lines file or a directory'),
  REGISTRY_WRONG_KIND: bad('the asset is of another kind (a dataset, not a model, or the reverse)'),

  // store
  STORE_BAD_CID: invalid('a block does not match its CID'),
  STORE_CORRUPT_BLOCK: invalid('a block is corrupt'),
  STORE_IPFS_ERROR: { exit: 1, http: 502, description: 'the IPFS node refused a request' },
  STORE_IPFS_UNREACHABLE: { exit: 1, http: 503, description: 'the IPFS RPC API does not answer' },
  STORE_MISSING_BLOCK: unknown('a block is missing from the store'),
  STORE_SAME_BACKEND: conflict('the store uses that backend already'),

  // subject
  SUBJECT_UNKNOWN: unknown('nothing is recorded about the subject under this controller'),

  // verify: the failures of a verification report (verify --json), and its input
  VERIFY_LOG_KEY_MISMATCH: difference("the anchor holds another log key or origin than the pinned member's vkey"),
  VERIFY_NOT_PINNED: difference("this node's anchor or log key is not the one its consortium file pins"),
  VERIFY_ASSET_MISMATCH: difference('a registered asset differs from its log entry'),
  VERIFY_ASSET_NOT_LOGGED: difference('a registered asset has no registration entry in the log'),
  VERIFY_BAD_ENTRY: difference('a log entry is not valid JSON'),
  VERIFY_BAD_INPUT: bad('the entries file cannot be read or has the wrong shape'),
  VERIFY_BAD_SIGNATURE: difference('a checkpoint note signature does not verify under the anchored log key'),
  VERIFY_BAD_STATEMENT: difference('a model provenance statement does not match its registration'),
  VERIFY_ENTRIES_MISSING: difference('an anchored checkpoint covers more entries than were exported'),
  VERIFY_INCONSISTENT: difference('an anchored checkpoint is not consistent with the previous one'),
  VERIFY_LEAF_MISMATCH: difference('a log entry does not hash to its recorded leaf hash'),
  VERIFY_LOG_GAP: difference('a log entry is missing'),
  VERIFY_MAP_MISMATCH: difference("a checkpoint's consent map root differs from the one replayed from the log"),
  VERIFY_NO_SIGNATURE: difference('an anchored checkpoint has no note signature event'),
  VERIFY_ROOT_MISMATCH: difference('an anchored root is not the root of the exported entries'),
  VERIFY_QUORUM: difference("a checkpoint carries fewer valid cosignatures by the consortium file's witnesses than verify --quorum asks"),

  // witness: C2SP tlog-witness add-checkpoint (the HTTP status is the spec's) and its client
  WITNESS_BAD_PROOF: invalid('a checkpoint does not extend the last one the witness cosigned for its log (the consistency proof fails): not cosigned'),
  WITNESS_BAD_RESPONSE: { exit: 1, http: 502, description: 'a witness did not answer add-checkpoint, refused it, or answered without a valid cosignature by its pinned key' },
  WITNESS_BAD_SIGNATURE: refused("a checkpoint carries no valid signature by the log key the witness's consortium file pins"),
  WITNESS_MALFORMED: bad('an add-checkpoint body is not "old <size>", proof lines, an empty line and a checkpoint note'),
  WITNESS_NONE_TO_ASK: conflict('no witness to ask for cosignatures: a lone node, no checkpoint yet, or no other member of the consortium file lists a witness with an endpoint'),
  WITNESS_OLD_SIZE_MISMATCH: conflict('the old size is not the size of the last checkpoint the witness cosigned for the log (the answer gives it)'),
  WITNESS_SPLIT_VIEW: invalid('a checkpoint of the size the witness cosigned last, with another root: a split view, not cosigned'),
  WITNESS_UNKNOWN_LOG: unknown("the witness's consortium file lists no log with the checkpoint's origin"),
} as const satisfies Record<string, ErrorInfo>

export type ErrorCode = keyof typeof ERROR_CATALOGUE

/** Whether `code` is in the catalogue. */
export function isCatalogued(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CATALOGUE, code)
}

/** What a front end makes of an error code; a code missing from the catalogue is treated as INTERNAL's HTTP status, exit 1. */
export function errorInfo(code: string): ErrorInfo {
  return isCatalogued(code) ? ERROR_CATALOGUE[code] : { exit: 1, http: 500, description: 'not in the catalogue' }
}

/** docs/errors.md: the catalogue as a Markdown table, by code. */
export function errorCatalogueMarkdown(): string {
  const rows = Object.entries(ERROR_CATALOGUE as Record<string, ErrorInfo>)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([code, i]) => `| \`${code}\` | ${i.exit} | ${i.http} | ${i.description.replace(/\|/g, '\\|')} |`)
  return [
    '# Error codes',
    '',
    '<!-- Generated from src/errorCatalogue.ts by `npm run docs:errors`; do not edit by hand. -->',
    '',
    'Every error Provena reports carries one of these codes (`--json` prints',
    '`{"ok": false, "error": {code, message, hint}}`; `verify --json` lists the `VERIFY_*`',
    'failures it found). The exit code is the CLI\'s: 0 success, 1 error, 2 bad usage, 3 a',
    'verification found a difference, 4 the chain is unreachable. The HTTP status is the',
    'one the HTTP API answers with.',
    '',
    '| Code | Exit | HTTP | Meaning |',
    '| --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n')
}
