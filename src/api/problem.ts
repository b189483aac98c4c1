// Errors as RFC 9457 problem details (application/problem+json): type, title, status,
// detail, instance, plus `code`, the error catalogue's code, and the hint when there is one.
import { errorCodes } from 'fastify'
import { BaseError } from 'viem'
import { errorInfo } from '../errorCatalogue.js'
import { isProvenaError, ProvenaError } from '../errors.js'
import { apiErrors } from './errors.js'

export const PROBLEM_CONTENT_TYPE = 'application/problem+json'

/** An RFC 9457 problem details object. */
export interface Problem {
  /** A URI naming the problem type: `urn:provena:error:<CODE>` (not meant to be dereferenced; RFC 9457 §3.1.1). */
  type: string
  /** The catalogue's description of the code: the same for every occurrence. */
  title: string
  status: number
  /** This occurrence: what was expected and what was found. */
  detail: string
  /** The request path that failed. */
  instance: string
  code: string
  hint?: string
}

/** The JSON schema of a problem (for the response schemas and the OpenAPI document). */
export const PROBLEM_SCHEMA = {
  $id: 'Problem',
  type: 'object',
  description: 'RFC 9457 problem details; `code` is the error catalogue\'s code (docs/errors.md)',
  required: ['type', 'title', 'status', 'detail', 'instance', 'code'],
  properties: {
    type: { type: 'string', format: 'uri' },
    title: { type: 'string' },
    status: { type: 'integer', minimum: 400, maximum: 599 },
    detail: { type: 'string' },
    instance: { type: 'string' },
    code: { type: 'string', pattern: '^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$' },
    hint: { type: 'string' },
  },
} as const

/** A Fastify validation error's first issue, named by where it is: `body/changes/0/purpose: missing`. */
interface ValidationIssue {
  instancePath: string
  keyword: string
  message?: string
  params: Record<string, unknown>
}

/** Names the field a schema validation failure is about (an unknown field, a missing one, a wrong type or pattern). */
export function describeValidation(context: string, issue: ValidationIssue): { message: string; field: string } {
  const base = `${context}${issue.instancePath}`
  if (issue.keyword === 'additionalProperties') {
    const field = `${base}/${String(issue.params.additionalProperty)}`
    return { field, message: `${field}: unknown field` }
  }
  if (issue.keyword === 'required') {
    const field = `${base}/${String(issue.params.missingProperty)}`
    return { field, message: `${field}: missing` }
  }
  return { field: base, message: `${base}: ${issue.message ?? issue.keyword}` }
}

/** viem's errors for a JSON-RPC request that got no answer (as src/cli/output.ts's classifyError). */
const CHAIN_TRANSPORT_ERRORS = new Set(['HttpRequestError', 'TimeoutError', 'SocketClosedError', 'WebSocketRequestError'])

/** Any thrown error as the ProvenaError the API answers with (Fastify's own errors mapped to API_* codes). */
export function asProvenaError(error: unknown, request: { bodyLimit: number; contentType?: string | undefined }): ProvenaError {
  if (isProvenaError(error)) return error
  const e = error as { statusCode?: number; validation?: ValidationIssue[]; validationContext?: string; message?: string }
  if (Array.isArray(e.validation) && e.validation.length > 0) {
    const d = describeValidation(e.validationContext ?? 'request', e.validation[0]!)
    return apiErrors.badRequest(d.message, { field: d.field })
  }
  if (error instanceof errorCodes.FST_ERR_CTP_BODY_TOO_LARGE) return apiErrors.bodyTooLarge(request.bodyLimit)
  if (error instanceof errorCodes.FST_ERR_CTP_INVALID_MEDIA_TYPE) return apiErrors.unsupportedMediaType(request.contentType)
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    // Malformed JSON, an empty JSON body, a bad Content-Length: the request is wrong.
    return apiErrors.badRequest(`malformed request: ${e.message ?? 'unreadable'}`)
  }
  // The chain lost mid-request (a viem transport error anywhere in the causes): 503, as the CLI's exit 4.
  for (let c: unknown = error, depth = 0; c instanceof Error && depth < 16; c = c.cause, depth++) {
    if (c instanceof BaseError && CHAIN_TRANSPORT_ERRORS.has(c.name)) {
      return new ProvenaError('CHAIN_UNREACHABLE', 'the EVM node does not answer', { cause: error, hint: 'the node operator: check the chain (provena node start, or --rpc-url)' })
    }
  }
  return new ProvenaError('INTERNAL', 'an unexpected error (the server logged it)', { cause: error })
}

/** The problem details of an error for a request path. */
export function problemOf(error: ProvenaError, instance: string): Problem {
  const info = errorInfo(error.code)
  return {
    type: `urn:provena:error:${error.code}`,
    title: info.description,
    status: info.http,
    detail: error.message,
    instance,
    code: error.code,
    ...(error.hint ? { hint: error.hint } : {}),
  }
}
