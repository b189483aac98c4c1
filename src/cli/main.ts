import { Command, CommanderError } from 'commander'
import { registerAccess } from './commands/access.js'
import { registerChain } from './commands/chain.js'
import { registerConsent } from './commands/consent.js'
import { registerConsortium } from './commands/consortium.js'
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
import { ProvenaError } from '../errors.js'
import { reportError } from './output.js'
import { checkPurposeOption } from './session.js'

/** The `provena` program. */
export function buildProgram(): Command {
  const program = new Command('provena')
    .description('Provable provenance for AI trained on personal data: a verifiable log anchored on an EVM chain.')
    .version('0.1.0')
  registerInit(program)
  registerDataset_(program)
  registerModel_(program)
  registerLog(program)
  registerChain(program)
  registerConsortium(program)
  registerIdentity(program)
  registerSubject(program)
  registerAccess(program)
  registerConsent(program)
  registerFl(program)
  registerStore(program)
  registerVerify(program)
  registerDemo(program)
  // One check of every --purpose, whatever the command (access, consent, dataset export, fl).
  program.hook('preAction', (_, actionCommand) => checkPurposeOption(actionCommand))
  return program
}

/** Every command of `cmd`'s tree, `cmd` first, depth first. */
export function allCommands(cmd: Command): Command[] {
  return [cmd, ...cmd.commands.flatMap(allCommands)]
}

/** The command's words as typed: "provena dataset register". */
export const commandPath = (cmd: Command): string => (cmd.parent ? `${commandPath(cmd.parent)} ${cmd.name()}` : cmd.name())

/** Whether the command line asks for --json (before a `--`), read from argv because a usage error comes before options are parsed. */
export function wantsFlag(argv: string[], flag: '--json' | '--verbose'): boolean {
  const end = argv.indexOf('--', 2)
  return argv.slice(2, end === -1 ? undefined : end).includes(flag)
}

/** A commander parse error as a ProvenaError: CLI_USAGE, exit 2. */
function usageError(cmd: Command, error: CommanderError): ProvenaError {
  const message =
    error.code === 'commander.help'
      ? `${commandPath(cmd)} needs a command: ${cmd.commands.map((c) => c.name()).join(', ')}`
      : error.message.replace(/^error: /, '')
  return new ProvenaError('CLI_USAGE', message, { hint: `see ${commandPath(cmd)} --help`, details: { commanderCode: error.code } })
}

/**
 * Runs the CLI on `argv` (process.argv shape). Every failure, a usage error included,
 * ends as one exit code (2 for usage) and, with --json, as one JSON document on stdout.
 */
export async function main(argv: string[]): Promise<void> {
  const program = buildProgram()
  const opts = { json: wantsFlag(argv, '--json'), verbose: wantsFlag(argv, '--verbose') }
  for (const cmd of allCommands(program)) {
    // Set on each command: subcommands copy these settings only when created after them.
    cmd.exitOverride((error) => {
      throw error.exitCode === 0 ? error : usageError(cmd, error)
    })
    cmd.configureOutput({ outputError: () => {} }) // reportError prints it, once, as text or JSON
  }
  try {
    await program.parseAsync(argv)
  } catch (error) {
    if (error instanceof CommanderError && error.exitCode === 0) return // --help, --version
    process.exitCode = reportError(error, opts)
  }
}
