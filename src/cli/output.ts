import { isProvenaError } from '../errors.js'

/** Options every command takes. */
export interface CommonOptions {
  dir?: string
  json?: boolean
  rpcUrl?: string
  verbose?: boolean
}

/** Prints a command's result: one JSON document with --json, else the text. */
export function emit(opts: CommonOptions, json: unknown, text: () => string): void {
  if (opts.json) process.stdout.write(JSON.stringify(json, (_, v) => (typeof v === 'bigint' ? v.toString() : v), 2) + '\n')
  else process.stdout.write(text() + '\n')
}

/** Exit codes: 1 error, 2 bad usage, 3 a verification found a difference, 4 chain unavailable. */
export const EXIT = { error: 1, usage: 2, verification: 3, chain: 4 } as const

/** A failed check that is reported (not thrown) and ends the command with EXIT.verification. */
export class VerificationFailed extends Error {}

/** Error codes that mean the command line itself is wrong: exit 2. */
const USAGE_CODES = new Set(['CLI_USAGE', 'CLI_BAD_ARGUMENT'])
/** Error codes that mean the chain could not be used: exit 4. */
const CHAIN_CODES = new Set(['CHAIN_UNREACHABLE', 'CHAIN_NODE_START_FAILED'])

/** Prints an error as one line (plus a hint), or as a JSON document with --json; returns the exit code. */
export function reportError(error: unknown, opts: CommonOptions): number {
  const code = isProvenaError(error) ? error.code : 'INTERNAL'
  const message = error instanceof Error ? error.message : String(error)
  const hint = isProvenaError(error) ? error.hint : undefined
  const exit = CHAIN_CODES.has(code) ? EXIT.chain : USAGE_CODES.has(code) ? EXIT.usage : EXIT.error
  if (opts.json) {
    process.stdout.write(JSON.stringify({ ok: false, error: { code, message, hint, details: isProvenaError(error) ? error.details : undefined } }, null, 2) + '\n')
  } else {
    process.stderr.write(`provena: error: ${message}\n`)
    if (hint) process.stderr.write(`hint: ${hint}\n`)
    if (opts.verbose) {
      let cause: unknown = error
      while (cause instanceof Error) {
        process.stderr.write(`  ${cause.stack ?? cause.message}\n`)
        cause = cause.cause
      }
    } else if (!isProvenaError(error)) {
      process.stderr.write('hint: this is a bug in Provena; rerun with --verbose and report it\n')
    }
  }
  return exit
}

/**
 * A progress bar on stderr for work that takes more than a second; silent when stderr is
 * not a terminal.
 */
export function progressBar(label: string, unit: 'MiB' | 'records' = 'MiB'): { update(done: number, total: number): void; end(): void } {
  const enabled = process.stderr.isTTY === true
  let start = 0 // the first update: a bar made ahead of its phase times only that phase
  let last = 0
  let shown = false
  const scale = unit === 'MiB' ? 2 ** 20 : 1
  return {
    update(done, total) {
      if (!enabled) return
      const now = Date.now()
      if (start === 0) start = now
      if (now - start < 1000 || now - last < 100) return
      last = now
      shown = true
      const frac = total > 0 ? Math.min(1, done / total) : 0
      const width = 30
      const filled = Math.round(frac * width)
      const rate = done / scale / ((now - start) / 1000)
      process.stderr.write(`\r${label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${(frac * 100).toFixed(0).padStart(3)}% ${(done / scale).toFixed(0)}/${(total / scale).toFixed(0)} ${unit} ${rate.toFixed(0)} ${unit}/s`)
    },
    end() {
      if (shown) process.stderr.write('\n')
      shown = false
    },
  }
}

/** A short hex for humans. */
export const short = (hex: string, n = 16) => (hex.length > n ? `${hex.slice(0, n)}…` : hex)
