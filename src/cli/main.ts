import { Command, CommanderError } from 'commander'
import { registerAccess } from './commands/access.js'
import { registerAudit } from './commands/audit.js'
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
import { registerServe } from './commands/serve.js'
import { registerSubject } from './commands/subject.js'
import { registerToken } from './commands/token.js'
import { registerVerify } from './commands/verify.js'
import { ProvenaError } from '../errors.js'
import { reportError } from './output.js'
import { checkPurposeOption } from './session.js'
import { nodeUrl, refuseIfNotRemote } from './remote.js'

export const VERSION = '0.1.0'

/** The `provena` program. */
export function buildProgram(): Command {
  const program = new Command('provena')
    .description('Provable provenance for AI trained on personal data: a verifiable log anchored on an EVM chain.')
    .version(VERSION)
    // Also before the command (`provena --json dataset list`): copied onto the command that runs.
    .option('--json', 'print exactly one JSON document on stdout')
    .option('--verbose', 'show error details')
    .option('--node <url>', "send the command to this node's HTTP API (provena serve) instead of running it on a data dir; not every command can", nodeUrl)
    .option('--token <token>', 'with --node: the API token (default: $PROVENA_TOKEN)')
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
  registerAudit(program)
  registerServe(program)
  registerToken(program)
  registerDemo(program)
  // One check of every --purpose, whatever the command (access, consent, dataset export, fl).
  program.hook('preAction', (_, actionCommand) => {
    for (const flag of ['json', 'verbose'] as const) if (program.opts()[flag] && actionCommand !== program) actionCommand.setOptionValue(flag, true)
    // --node and --token: the command goes to that node (remote.ts), or refuses when it has no route.
    for (const flag of ['node', 'token'] as const) if (program.opts()[flag] !== undefined && actionCommand !== program) actionCommand.setOptionValue(flag, program.opts()[flag])
    if (program.opts().token !== undefined && program.opts().node === undefined) throw new ProvenaError('CLI_BAD_ARGUMENT', '--token goes with --node URL', { hint: 'provena --node URL --token TOKEN <command>' })
    refuseIfNotRemote(actionCommand, commandPath(actionCommand).replace(/^provena /, ''))
    // Through --node, the node's own purposes count: it checks them.
    if (program.opts().node === undefined) checkPurposeOption(actionCommand)
  })
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
  // Under --json, help and the version are one JSON document too: {"usage": text}, {"version"}.
  let helpText = ''
  for (const cmd of allCommands(program)) {
    // Set on each command: subcommands copy these settings only when created after them.
    cmd.exitOverride((error) => {
      throw error.exitCode === 0 ? error : usageError(cmd, error)
    })
    cmd.configureOutput({
      outputError: () => {}, // reportError prints it, once, as text or JSON
      ...(opts.json ? { writeOut: (text: string) => void (helpText += text) } : {}),
    })
  }
  try {
    await program.parseAsync(argv)
  } catch (error) {
    if (error instanceof CommanderError && error.exitCode === 0) {
      // --help, --version
      if (opts.json) {
        const doc = error.code === 'commander.version' ? { version: VERSION } : { usage: helpText }
        process.stdout.write(JSON.stringify(doc, null, 2) + '\n')
      }
      return
    }
    process.exitCode = reportError(error, opts)
  }
}
