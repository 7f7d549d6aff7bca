/**
 * The one registry of Cutover's error codes. Every error a client or an operator can see has a
 * stable `CUTOVER_*` code, an HTTP status and a message that never carries an internal address or
 * a stack trace. `docs/errors.md` lists them; `test/errors.test.ts` checks the two agree.
 */

export const ERROR_CODES = [
  'CUTOVER_BAD_REQUEST',
  'CUTOVER_BAD_PATH',
  'CUTOVER_NO_ROUTE',
  'CUTOVER_BODY_TOO_LARGE',
  'CUTOVER_BODY_TIMEOUT',
  'CUTOVER_UPSTREAM_UNAVAILABLE',
  'CUTOVER_UPSTREAM_TIMEOUT',
  'CUTOVER_UPSTREAM_ERROR',
  'CUTOVER_BREAKER_OPEN',
  'CUTOVER_DRAINING',
  'CUTOVER_UNAUTHORIZED',
  'CUTOVER_FORBIDDEN',
  'CUTOVER_INVALID_INPUT',
  'CUTOVER_UNSUPPORTED_MEDIA_TYPE',
  'CUTOVER_ROUTE_NOT_FOUND',
  'CUTOVER_VERSION_CONFLICT',
  'CUTOVER_NOT_FOUND',
  'CUTOVER_INTERNAL',
  'CUTOVER_CONFIG_INVALID',
  'CUTOVER_CONFIG_LOAD',
  'CUTOVER_REPLAY_BUSY',
  'CUTOVER_CONTROL_UNAVAILABLE',
] as const

export type ErrorCode = (typeof ERROR_CODES)[number]

interface ErrorSpec {
  readonly status: number
  readonly message: string
}

export const ERRORS: Readonly<Record<ErrorCode, ErrorSpec>> = Object.freeze({
  CUTOVER_BAD_REQUEST: { status: 400, message: 'malformed request' },
  CUTOVER_BAD_PATH: { status: 400, message: 'request path is not allowed (encoded slash, backslash, NUL or escapes the root)' },
  CUTOVER_NO_ROUTE: { status: 404, message: 'no route matches this request' },
  CUTOVER_BODY_TOO_LARGE: { status: 413, message: 'request body exceeds the configured limit' },
  CUTOVER_BODY_TIMEOUT: { status: 408, message: 'request body did not arrive in time' },
  CUTOVER_UPSTREAM_UNAVAILABLE: { status: 502, message: 'upstream refused or reset the connection' },
  CUTOVER_UPSTREAM_TIMEOUT: { status: 504, message: 'upstream did not answer in time' },
  CUTOVER_UPSTREAM_ERROR: { status: 502, message: 'upstream sent an invalid response' },
  CUTOVER_BREAKER_OPEN: { status: 503, message: 'upstream is unavailable (circuit open); retry later' },
  CUTOVER_DRAINING: { status: 503, message: 'gateway is shutting down; retry on another replica' },
  CUTOVER_UNAUTHORIZED: { status: 401, message: 'missing or invalid bearer token' },
  CUTOVER_FORBIDDEN: { status: 403, message: 'request refused (cross-origin, or a console session without its CSRF token)' },
  CUTOVER_INVALID_INPUT: { status: 400, message: 'invalid input' },
  CUTOVER_UNSUPPORTED_MEDIA_TYPE: { status: 415, message: "admin request bodies must be JSON, sent with 'content-type: application/json'" },
  CUTOVER_ROUTE_NOT_FOUND: { status: 404, message: 'unknown route' },
  CUTOVER_VERSION_CONFLICT: { status: 409, message: 'route changed since the version in If-Match' },
  CUTOVER_NOT_FOUND: { status: 404, message: 'not found' },
  CUTOVER_INTERNAL: { status: 500, message: 'internal error' },
  CUTOVER_CONFIG_INVALID: { status: 500, message: 'configuration is invalid' },
  CUTOVER_CONFIG_LOAD: { status: 500, message: 'configuration could not be loaded' },
  CUTOVER_REPLAY_BUSY: { status: 409, message: 'another cutover replay is running' },
  CUTOVER_CONTROL_UNAVAILABLE: { status: 503, message: 'route state is shared over Kafka, which cannot take the change now; retry later' },
})

export class CutoverError extends Error {
  readonly code: ErrorCode
  readonly status: number
  readonly details: readonly string[]

  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown; details?: readonly string[] }) {
    super(message ?? ERRORS[code].message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'CutoverError'
    this.code = code
    this.status = ERRORS[code].status
    this.details = options?.details ?? []
  }
}

/** The JSON body every gateway-made error answer carries. */
export function errorBody(code: ErrorCode, message: string = ERRORS[code].message, details?: readonly string[]): string {
  const error: { code: ErrorCode; message: string; details?: readonly string[] } = { code, message }
  if (details !== undefined && details.length > 0) error.details = details
  return JSON.stringify({ error })
}

/** Precomputed bodies for the data plane's hot path: built once, sent as-is. */
export const ERROR_BODIES: Readonly<Record<ErrorCode, Buffer>> = Object.freeze(
  Object.fromEntries(ERROR_CODES.map((code) => [code, Buffer.from(errorBody(code))])) as Record<ErrorCode, Buffer>,
)
