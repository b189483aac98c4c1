import { BaseError } from 'viem'
import { errorInfo } from '../errorCatalogue.js'
import { isProvenaError, ProvenaError } from '../errors.js'

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

/** Exit codes: 1 error, 2 bad usage, 3 a verification found a difference, 4 chain unavailable. Each error code's is in src/errorCatalogue.ts. */
export const EXIT = { error: 1, usage: 2, verification: 3, chain: 4 } as const

/** A failed check that is reported (not thrown) and ends the command with EXIT.verification. */
export class VerificationFailed extends Error {}

/** viem's errors for a request that got no JSON-RPC answer: the node is down, gone or too slow. */
const TRANSPORT_ERRORS = new Set(['HttpRequestError', 'TimeoutError', 'SocketClosedError', 'WebSocketRequestError'])

/**
 * The one place where a lost EVM node becomes CHAIN_UNREACHABLE: a viem transport error
 * (HTTP request failed, timeout, socket closed) anywhere in the cause chain, raised
 * wherever the command was (connecting, sending, waiting for a receipt, reading).
 * Other errors are returned as they are.
 */
export function classifyError(error: unknown): unknown {
  if (isProvenaError(error) && errorInfo(error.code).exit === EXIT.chain) return error
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 16; e = e.cause, depth++) {
    if (!(e instanceof BaseError)) continue // viem's errors only: a TimeoutError of another fetch (IPFS) is not the chain's
    if (e.name === 'WaitForTransactionReceiptTimeoutError') {
      const tx = /0x[0-9a-fA-F]{64}/.exec(e.message)?.[0]
      return new ProvenaError('CHAIN_UNREACHABLE', `the EVM node did not mine ${tx ? `transaction ${tx}` : 'a transaction'} in time`, {
        cause: error,
        hint: 'check that the node runs and mines blocks, then run the command again',
      })
    }
    if (!TRANSPORT_ERRORS.has(e.name)) continue
    const url = redactUrl((e as { url?: string }).url)
    return new ProvenaError('CHAIN_UNREACHABLE', `lost the EVM node${url ? ` at ${url}` : ''}: ${transportReason(e)}`, {
      cause: error,
      hint: 'check that the node runs (the embedded one: provena node start; another: --rpc-url / PROVENA_RPC_URL) and run the command again',
    })
  }
  return error
}

/** Why a request failed, in a few words: the system error code under fetch's "fetch failed", else viem's kind of error. */
function transportReason(error: Error): string {
  if (error.name === 'TimeoutError') return 'the request timed out'
  if (error.name === 'SocketClosedError') return 'the socket closed'
  for (let e: unknown = error.cause, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ECONNREFUSED') return 'connection refused'
    if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE') return 'the connection was closed'
    if (typeof code === 'string' && /^[A-Z_]+$/.test(code)) return code
  }
  const status = (error as { status?: number }).status
  return status ? `HTTP status ${status}` : 'no answer'
}

/** A URL without its user name and password (an RPC provider's key may sit there). */
export function redactUrl(url: string | undefined): string | undefined {
  if (!url) return undefined
  try {
    const u = new URL(url)
    u.username = ''
    u.password = ''
    return u.toString().replace(/\/$/, '')
  } catch {
    return undefined
  }
}

/** Prints an error as one line (plus a hint), or as a JSON document with --json; returns the exit code. */
export function reportError(thrown: unknown, opts: CommonOptions): number {
  const error = classifyError(thrown)
  const code = isProvenaError(error) ? error.code : 'INTERNAL'
  const message = error instanceof Error ? error.message : String(error)
  const hint = isProvenaError(error) ? error.hint : undefined
  const exit = errorInfo(code).exit
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
