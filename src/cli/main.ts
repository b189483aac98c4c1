import { Command, CommanderError } from 'commander'
import { registerAccess } from './commands/access.js'
import { registerChain } from './commands/chain.js'
import { registerConsent } from './commands/consent.js'
import { registerFl } from './commands/fl.js'
import { registerDataset_ } from './commands/dataset.js'
import { registerDemo } from './commands/demo.js'
import { registerIdentity } from './commands/identity.js'
import { registerInit } from './commands/init.js'
import { registerLog } from './commands/log.js'
import { registerModel_ } from './commands/model.js'
import { registerStore } from './commands/store.js'
import { registerSubject } from './commands/subject.js'
import { registerVerify } from './commands/verify.js'
import { EXIT } from './output.js'

/** The `provena` program. */
export function buildProgram(): Command {
  const program = new Command('provena')
    .description('Provable provenance for AI trained on personal data: a verifiable log anchored on an EVM chain.')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
  registerInit(program)
  registerDataset_(program)
  registerModel_(program)
  registerLog(program)
  registerChain(program)
  registerIdentity(program)
  registerSubject(program)
  registerAccess(program)
  registerConsent(program)
  registerFl(program)
  registerStore(program)
  registerVerify(program)
  registerDemo(program)
  return program
}

/** Runs the CLI on `argv` (process.argv shape). */
export async function main(argv: string[]): Promise<void> {
  const program = buildProgram()
  program.exitOverride()
  try {
    await program.parseAsync(argv)
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode === 0 ? 0 : EXIT.usage
      return
    }
    throw error
  }
}
