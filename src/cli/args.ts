// Option and argument parsers shared by every command. Each throws commander's
// InvalidArgumentError, which the CLI reports as a usage error (exit 2).
import { InvalidArgumentError } from 'commander'

/**
 * Parses a decimal integer exactly: digits only (no sign, fraction, exponent, hex or
 * blanks), at least `min`, and at most Number.MAX_SAFE_INTEGER, beyond which a JS number
 * would round to another integer (99999999999999999999 → 100000000000000000000).
 *
 * @example
 * integer('INDEX')('42') // 42
 * integer('--task', 1)('0') // throws: --task must be an integer ≥ 1, got "0"
 */
export function integer(name: string, min = 0): (text: string) => number {
  return (text) => {
    if (!/^\d+$/.test(text)) throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}, got "${text}"`)
    const n = Number(text)
    if (!Number.isSafeInteger(n)) throw new InvalidArgumentError(`${name} ${text} is too large (at most ${Number.MAX_SAFE_INTEGER})`)
    if (n < min) throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}, got "${text}"`)
    return n
  }
}

/** Parses a finite decimal number > 0 (e.g. 0.5, 1e-5); no hex, no blanks. */
export function positiveNumber(name: string): (text: string) => number {
  return (text) => {
    const n = /^(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(text) ? Number(text) : NaN
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive number, got "${text}"`)
    return n
  }
}

/**
 * Parses a JSON-RPC endpoint: an absolute http(s) or ws(s) URL.
 *
 * @example
 * rpcUrl('http://127.0.0.1:8545') // 'http://127.0.0.1:8545'
 * rpcUrl('notaurl') // throws: --rpc-url must be an http(s) or ws(s) URL, got "notaurl"
 */
export function rpcUrl(text: string): string {
  let url: URL | undefined
  try {
    url = new URL(text)
  } catch {
    url = undefined
  }
  if (!url || !['http:', 'https:', 'ws:', 'wss:'].includes(url.protocol)) throw new InvalidArgumentError(`--rpc-url must be an http(s) or ws(s) URL, got "${text}"`)
  return text
}
