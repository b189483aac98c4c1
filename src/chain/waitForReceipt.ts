import { WaitForTransactionReceiptTimeoutError, type Hex, type PublicClient, type TransactionReceipt } from 'viem'

/**
 * Waits for a transaction's receipt, failing fast when the node stops answering. viem's
 * waitForTransactionReceipt polls the block number and drops that poll's errors until its
 * timeout, so a node that died after the broadcast looked like a slow one for minutes;
 * here `failures` failed requests in a row throw the last error (viem's HttpRequestError:
 * the CLI reports it as chain unreachable). A receipt not found yet is not a failure.
 * Polls start at a few milliseconds and double up to `pollMs`: an instant-mining node
 * (anvil, the embedded one) has the receipt within milliseconds of the broadcast, and
 * one 50 ms sleep per transaction was a quarter of a federated round; on a chain with
 * 12-second blocks the first quick polls cost nothing.
 */
export async function waitForReceipt(
  client: PublicClient,
  hash: Hex,
  opts: { timeout?: number; pollMs?: number; failures?: number } = {},
): Promise<TransactionReceipt> {
  const { timeout = 120_000, pollMs = Math.min(client.pollingInterval ?? 1000, 1000), failures = 3 } = opts
  const deadline = Date.now() + timeout
  let failed = 0
  let delay = Math.min(2, pollMs)
  for (;;) {
    try {
      return await client.getTransactionReceipt({ hash })
    } catch (error) {
      if ((error as Error).name === 'TransactionReceiptNotFoundError') failed = 0
      else if (++failed >= failures) throw error
    }
    if (Date.now() >= deadline) throw new WaitForTransactionReceiptTimeoutError({ hash })
    await new Promise((r) => setTimeout(r, delay))
    delay = Math.min(delay * 2, pollMs)
  }
}
