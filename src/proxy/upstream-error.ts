import { CutoverError, type ErrorCode } from '../errors.ts'

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT', 'CUTOVER_UPSTREAM_TIMEOUT'])
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
])
/**
 * Failures of the connect phase: the request was never written to the backend, so even a write
 * may go to the other side. (A reset, a timeout or a bad answer may come after the backend
 * applied it.)
 */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT'])

/** Maps a transport error to the gateway error a client sees: 504 for time, 502 for the rest. */
export function classifyUpstreamError(err: unknown): ErrorCode {
  if (err instanceof CutoverError) return err.code
  const code = errorCode(err)
  if (code !== undefined) {
    if (TIMEOUT_CODES.has(code)) return 'CUTOVER_UPSTREAM_TIMEOUT'
    if (UNAVAILABLE_CODES.has(code)) return 'CUTOVER_UPSTREAM_UNAVAILABLE'
  }
  return 'CUTOVER_UPSTREAM_ERROR'
}

/** True when the error proves the request never reached the backend. */
export function nothingSent(err: unknown): boolean {
  const code = errorCode(err)
  return code !== undefined && NOT_SENT_CODES.has(code)
}

/** The `reason` label of cutover_upstream_errors_total: a small, fixed set. */
export type UpstreamErrorReason = 'refused' | 'reset' | 'unreachable' | 'timeout' | 'invalid' | '5xx'

export function upstreamErrorReason(err: unknown): UpstreamErrorReason {
  const code = errorCode(err)
  if (code === 'ECONNREFUSED') return 'refused'
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return 'unreachable'
  const kind = classifyUpstreamError(err)
  if (kind === 'CUTOVER_UPSTREAM_TIMEOUT') return 'timeout'
  if (kind === 'CUTOVER_UPSTREAM_UNAVAILABLE') return 'reset'
  return 'invalid'
}

/** A transport error's `code` (a CutoverError's own code), or undefined when it has none. */
export function errorCode(err: unknown): string | undefined {
  if (err instanceof CutoverError) return err.code
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}
