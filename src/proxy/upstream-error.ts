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

/** Maps a transport error to the gateway error a client sees: 504 for time, 502 for the rest. */
export function classifyUpstreamError(err: unknown): ErrorCode {
  if (err instanceof CutoverError) return err.code
  const code = (err as { code?: unknown } | null)?.code
  if (typeof code === 'string') {
    if (TIMEOUT_CODES.has(code)) return 'CUTOVER_UPSTREAM_TIMEOUT'
    if (UNAVAILABLE_CODES.has(code)) return 'CUTOVER_UPSTREAM_UNAVAILABLE'
  }
  return 'CUTOVER_UPSTREAM_ERROR'
}
