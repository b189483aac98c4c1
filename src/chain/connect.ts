import {
  createPublicClient,
  createWalletClient,
  defineChain,
  http,
  type Account,
  type Address,
  type Chain,
  type PublicClient,
  type WalletClient,
} from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { chainErrors } from './errors.js'
import { waitForReceipt } from './waitForReceipt.js'

/** Clients for one EVM node, signing as the operator account. */
export interface ChainClient {
  rpcUrl: string
  chainId: number
  /**
   * Which chain this is, for the records of deployments and the outbox: 'embedded' for the
   * data dir's own node (anvil gives it a new genesis hash at every start), otherwise
   * eip155:<chain id>:<genesis block hash>.
   */
  chainKey: string
  chain: Chain
  account: Account & { address: Address }
  publicClient: PublicClient
  walletClient: WalletClient
}

/**
 * Connects to the EVM JSON-RPC node at `rpcUrl` as the account of `operatorKey`, or, to
 * read only, as the operator's bare address (a JSON-RPC account: this process can sign
 * nothing with it). Throws CHAIN_UNREACHABLE when the node does not answer.
 */
export async function connectChain(rpcUrl: string, operatorKey: `0x${string}` | { address: Address }, opts: { embedded?: boolean } = {}): Promise<ChainClient> {
  const transport = http(rpcUrl, { retryCount: 0, timeout: 30_000 })
  let chainId: number
  let chainKey = 'embedded'
  try {
    const probe = createPublicClient({ transport })
    chainId = await probe.getChainId()
    if (!opts.embedded) chainKey = `eip155:${chainId}:${(await probe.getBlock({ blockNumber: 0n })).hash}`
  } catch (cause) {
    throw chainErrors.unreachable(rpcUrl, cause)
  }
  const chain = defineChain({
    id: chainId,
    name: `chain ${chainId}`,
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  })
  const account: Account = typeof operatorKey === 'string' ? privateKeyToAccount(operatorKey) : { address: operatorKey.address, type: 'json-rpc' }
  const publicClient = createPublicClient({ chain, transport, pollingInterval: 50 }) as PublicClient
  const walletClient = createWalletClient({ chain, transport, account })
  return { rpcUrl, chainId, chainKey, chain, account, publicClient, walletClient }
}

/**
 * Makes sure the operator can pay for gas: nothing to do on a zero-gas-price network or
 * with a balance; otherwise funds it from the node's first unlocked account (anvil,
 * geth --dev, Hardhat). Throws CHAIN_OPERATOR_UNFUNDED when it cannot.
 */
export async function ensureFunded(client: ChainClient): Promise<void> {
  const { publicClient, account } = client
  const balance = await publicClient.getBalance({ address: account.address })
  if (balance > 0n) return
  const gasPrice = await publicClient.getGasPrice()
  if (gasPrice === 0n) return
  const accounts = (await publicClient.request({ method: 'eth_accounts' } as never).catch(() => [])) as Address[]
  const funder = accounts[0]
  if (!funder) throw chainErrors.unfunded(account.address, client.chainId)
  const hash = await publicClient.request({
    method: 'eth_sendTransaction',
    params: [{ from: funder, to: account.address, value: `0x${(10n ** 21n).toString(16)}` }],
  } as never) as `0x${string}`
  await waitForReceipt(publicClient, hash)
}
