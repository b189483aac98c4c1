/**
 * The one error type of Provena. `code` is stable (scripts and the CLI's exit codes key
 * on it); `message` says what was expected and what was found; `hint` tells the user
 * what to do; `details` carry data for `--verbose` and `--json`.
 *
 * @example
 * throw new ProvenaError('LOG_ROOT_MISMATCH', 'root at size 8 is 5dc9…, anchored 00ab…', { hint: 'the log was rewritten' })
 */
export class ProvenaError extends Error {
  override readonly name = 'ProvenaError'
  readonly code: string
  readonly hint: string | undefined
  readonly details: Record<string, unknown> | undefined

  constructor(
    code: string,
    message: string,
    options: { hint?: string; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.hint = options.hint
    this.details = options.details
  }
}

/** Whether `error` is a ProvenaError, optionally with the given code. */
export function isProvenaError(error: unknown, code?: string): error is ProvenaError {
  return error instanceof ProvenaError && (code === undefined || error.code === code)
}
