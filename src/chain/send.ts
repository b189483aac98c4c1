import type { Abi, Address, Hex, TransactionReceipt } from 'viem'
import type { ChainClient } from './connect.js'
import { chainErrors } from './errors.js'
import { revertOf } from './outbox.js'
import { waitForReceipt } from './waitForReceipt.js'

/**
 * Sends a contract call as `client`'s account: simulated first, so that a revert is named
 * (CHAIN_REVERTED with the contract's custom error) before anything is sent; then mined.
 */
export async function sendContract(client: ChainClient, address: Address, abi: Abi, functionName: string, args: readonly unknown[], what: string): Promise<{ hash: Hex; receipt: TransactionReceipt }> {
  try {
    const { request } = await client.publicClient.simulateContract({ address, abi, functionName, args, account: client.account } as never)
    const hash = await client.walletClient.writeContract(request as never)
    const receipt = await waitForReceipt(client.publicClient, hash)
    if (receipt.status !== 'success') throw chainErrors.reverted(what, undefined, undefined)
    return { hash, receipt }
  } catch (error) {
    const revert = revertOf(error)
    if (revert) throw chainErrors.reverted(what, revert.data?.errorName, revert.data?.args, error)
    throw error
  }
}
