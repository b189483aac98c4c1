// A Besu QBFT network whose validators are run by different members (production notes,
// issue 13): the genesis file (QBFT settings, the validators in extraData), one node
// configuration per member and a README of how to start them. Written by `provena
// consortium besu` and `consortium create --besu DIR`; Besu itself is not run here.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { getAddress, isAddress, toRlp, type Address, type Hex } from 'viem'
import { ProvenaError } from '../errors.js'
import type { Consortium } from './consortium.js'

/** A validator: the member that runs it and its Besu node's address (from its node key). */
export interface BesuValidator {
  name: string
  address: Address
}

export interface BesuNetworkOptions {
  chainId: number
  validators: readonly BesuValidator[]
  /** Seconds between blocks (default 2). */
  blockPeriodSeconds?: number
  /** Blocks between validator-vote resets (default 30000). */
  epochLength?: number
  /** Seconds before a round changes (default 10; more than blockPeriodSeconds). */
  requestTimeoutSeconds?: number
  /** P2P port of the first member's node; the next ones count up (default 30303). */
  p2pPort?: number
  /** JSON-RPC port of the first member's node; the next ones count up (default 8545). */
  rpcPort?: number
}

/** The mixHash of every IBFT 2.0 / QBFT block ("ctical byzantine fault tolerance" in hex). */
export const QBFT_MIX_HASH = '0x63746963616c2062797a616e74696e65206661756c7420746f6c6572616e6365'

/**
 * The genesis extraData of a QBFT network: RLP([32-byte vanity, [validator addresses], no
 * vote (empty list), round 0, no seals]), the encoding `besu rlp encode --type=QBFT_EXTRA_DATA`
 * gives.
 *
 * @example
 * qbftExtraData(['0x8539c5c368dda69bc541299a5293836ca9e3a361']) // '0xf83aa000…d5948539…c080c0'
 */
export function qbftExtraData(addresses: readonly Address[]): Hex {
  return toRlp([`0x${'00'.repeat(32)}`, addresses.map((a) => a.toLowerCase() as Hex), [], '0x', []])
}

/** The genesis.json of the network: London rules at block 0, zero base fee (gas free of charge), QBFT. */
export function besuGenesis(opts: BesuNetworkOptions): Record<string, unknown> {
  checkOptions(opts)
  return {
    config: {
      chainId: opts.chainId,
      berlinBlock: 0,
      londonBlock: 0,
      zeroBaseFee: true,
      qbft: {
        blockperiodseconds: opts.blockPeriodSeconds ?? 2,
        epochlength: opts.epochLength ?? 30000,
        requesttimeoutseconds: opts.requestTimeoutSeconds ?? 10,
      },
    },
    nonce: '0x0',
    timestamp: '0x0',
    gasLimit: '0x1fffffffffffff',
    difficulty: '0x1',
    mixHash: QBFT_MIX_HASH,
    coinbase: '0x0000000000000000000000000000000000000000',
    alloc: {},
    extraData: qbftExtraData(opts.validators.map((v) => v.address)),
  }
}

/** One member's Besu configuration file (TOML, `besu --config-file=config.toml`). */
export function besuNodeConfig(opts: BesuNetworkOptions, index: number): string {
  const v = opts.validators[index]!
  return [
    `# Besu node of ${v.name}: a QBFT validator with node address ${v.address}`,
    '# (the address of the key in data/key; generate it before the genesis: besu --data-path=data public-key export-address)',
    'genesis-file="genesis.json"',
    'data-path="data"',
    'node-private-key-file="data/key"',
    '',
    '# Peer-to-peer: open this port to the other validators only (firewall).',
    'p2p-host="0.0.0.0"',
    `p2p-port=${(opts.p2pPort ?? 30303) + index}`,
    '# bootnodes=["enode://<public key of another validator>@<its host>:<its p2p port>"]',
    '',
    "# JSON-RPC for this member's provena node only (loopback, or TLS in front).",
    'rpc-http-enabled=true',
    'rpc-http-host="127.0.0.1"',
    `rpc-http-port=${(opts.rpcPort ?? 8545) + index}`,
    'rpc-http-api=["ETH","NET","WEB3","QBFT"]',
    'host-allowlist=["localhost","127.0.0.1"]',
    '',
    '# Gas is free of charge on this network (zeroBaseFee in the genesis): nobody needs funds.',
    'min-gas-price=0',
    '',
    "# Permissions: only the consortium's nodes may peer (list each validator's enode in permissions_config.toml):",
    '# permissions-nodes-config-file-enabled=true',
    '# permissions-nodes-config-file="permissions_config.toml"',
    '',
  ].join('\n')
}

/** README.txt of the network's directory: how each member starts its validator, then provena on it. */
export function besuReadme(opts: BesuNetworkOptions): string {
  const n = opts.validators.length
  const f = Math.floor((n - 1) / 3)
  return [
    `Besu QBFT network for the consortium (chain id ${opts.chainId}), ${n} validator(s), one per member:`,
    ...opts.validators.map((v, i) => `  ${v.name.padEnd(16)} ${v.address}  ${v.name}/config.toml (p2p ${(opts.p2pPort ?? 30303) + i}, JSON-RPC ${(opts.rpcPort ?? 8545) + i})`),
    '',
    `QBFT seals a block when 2/3 of the validators sign it: with ${n}, the network keeps going with ${f} down${n < 4 ? ' (4 validators or more to survive one failure)' : ''}.`,
    '',
    'Each member, on its own machine:',
    '  1. Before the genesis: create the node key and send the address to the admin:',
    '       besu --data-path=data public-key export-address --to=address.txt',
    '     (the admin names it with --validator NAME=ADDRESS; a validator is a member whose key',
    '     signs blocks, so keep data/key as secret as the provena data dir).',
    '  2. Copy genesis.json and NAME/config.toml next to data/, fill in bootnodes (the enode of',
    '     another validator: besu --data-path=data public-key export), then start:',
    '       besu --config-file=config.toml',
    '  3. Once the validators produce blocks, point provena at the member\'s own node:',
    '       the admin: provena consortium create --out consortium.json --rpc-url http://127.0.0.1:8545',
    '       a member:  provena init --join consortium.json --rpc-url http://127.0.0.1:PORT',
    '',
    'Keep JSON-RPC on loopback (rpc-http-host) or behind TLS; open the p2p port to the other',
    'validators only, and list their enodes in permissions_config.toml (node permissioning).',
    '',
  ].join('\n')
}

/**
 * Writes the network under `dir`: genesis.json, <member>/config.toml for each validator and
 * README.txt. Refuses an existing genesis.json unless `force`. Returns the files written.
 */
export function writeBesuNetwork(dir: string, opts: BesuNetworkOptions, force = false): string[] {
  const genesis = besuGenesis(opts)
  const path = join(dir, 'genesis.json')
  if (existsSync(path) && !force) throw new ProvenaError('CONSORTIUM_OUT_EXISTS', `${path} exists`, { hint: 'pass --force to overwrite it' })
  mkdirSync(dir, { recursive: true })
  const files: string[] = [path]
  writeFileSync(path, JSON.stringify(genesis, null, 2) + '\n')
  opts.validators.forEach((v, i) => {
    mkdirSync(join(dir, v.name), { recursive: true })
    const file = join(dir, v.name, 'config.toml')
    writeFileSync(file, besuNodeConfig(opts, i))
    files.push(file)
  })
  writeFileSync(join(dir, 'README.txt'), besuReadme(opts))
  files.push(join(dir, 'README.txt'))
  return files
}

/**
 * The validators named on the command line: `NAME=ADDRESS` (the member's Besu node address),
 * or `NAME` alone for a member of `consortium` (its EVM address: its Besu node must then use
 * that key). Throws CLI_BAD_ARGUMENT naming the bad one.
 */
export function parseValidators(specs: readonly string[], consortium?: Consortium): BesuValidator[] {
  if (specs.length === 0) throw new ProvenaError('CLI_BAD_ARGUMENT', 'a Besu QBFT network needs its validators: --validator NAME[=ADDRESS], once per member that runs one', { hint: 'e.g. --validator hospital-a=0x8539… --validator lab-b=0xb97c…' })
  const out: BesuValidator[] = []
  for (const spec of specs) {
    const eq = spec.indexOf('=')
    const name = eq < 0 ? spec : spec.slice(0, eq)
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) throw new ProvenaError('CLI_BAD_ARGUMENT', `--validator ${spec}: "${name}" is not a member name (letters, digits, . _ -)`)
    let address: string | undefined = eq < 0 ? consortium?.members.find((m) => m.name === name)?.address : spec.slice(eq + 1)
    if (address === undefined) throw new ProvenaError('CLI_BAD_ARGUMENT', `--validator ${spec}: no member "${name}" in the consortium file to take the address from`, { hint: 'give its Besu node address: --validator NAME=0x…' })
    if (!isAddress(address, { strict: false })) throw new ProvenaError('CLI_BAD_ARGUMENT', `--validator ${spec}: "${address}" is not an EVM address (0x and 40 hex digits)`)
    address = getAddress(address)
    if (out.some((v) => v.name === name || v.address === address)) throw new ProvenaError('CLI_BAD_ARGUMENT', `--validator ${spec}: the name or the address is named twice`)
    out.push({ name, address: address as Address })
  }
  return out
}

function checkOptions(o: BesuNetworkOptions): void {
  if (!Number.isSafeInteger(o.chainId) || o.chainId <= 0) throw new ProvenaError('CLI_BAD_ARGUMENT', `chain id ${o.chainId} is not a positive integer`)
  if (o.validators.length === 0) throw new ProvenaError('CLI_BAD_ARGUMENT', 'a QBFT network needs at least one validator')
  const period = o.blockPeriodSeconds ?? 2
  if ((o.requestTimeoutSeconds ?? 10) <= period) throw new ProvenaError('CLI_BAD_ARGUMENT', `requesttimeoutseconds (${o.requestTimeoutSeconds ?? 10}) must exceed blockperiodseconds (${period})`)
}
