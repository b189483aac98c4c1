import { createInterface } from 'node:readline'
import { accessErrors } from '../access/index.js'

// What was typed at the prompt, kept for the process: a command that unlocks an identity
// and the operator key asks once (and derives the key once: see keystore.ts).
let typed: string | undefined

/**
 * The keystore passphrase: PROVENA_PASSPHRASE, else asked on the terminal without echo
 * (once per process). Throws ACCESS_NO_PASSPHRASE when neither is possible (a script
 * without the variable).
 */
export async function askPassphrase(prompt = 'Keystore passphrase: '): Promise<string> {
  const env = process.env.PROVENA_PASSPHRASE
  if (env) return env
  if (typed !== undefined) return typed
  if (!process.stdin.isTTY || !process.stderr.isTTY) throw accessErrors.noPassphrase()
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true })
  // Echo nothing of what is typed after the prompt.
  const output = rl as unknown as { _writeToOutput: (s: string) => void }
  let prompted = false
  output._writeToOutput = (s: string) => {
    if (!prompted) {
      process.stderr.write(s)
      prompted = true
    }
  }
  const answer = await new Promise<string>((resolve) => rl.question(prompt, resolve))
  rl.close()
  process.stderr.write('\n')
  if (!answer) throw accessErrors.noPassphrase()
  typed = answer
  return answer
}
