import type { ServerResponse } from 'node:http'
import { ERRORS, ERROR_BODIES, type ErrorCode } from '../errors.ts'
import { isHttp2 } from './http2-compat.ts'

/** Seconds a client should wait before retrying a 503 (RFC 9110 §10.2.3). */
export const RETRY_AFTER_SECONDS = '5'

/**
 * Answers a gateway-made error with the precomputed JSON body. Nothing about the upstream
 * (host, port, error text) reaches the client; the cause goes to the log instead.
 */
export function sendGatewayError(res: ServerResponse, code: ErrorCode, requestId: string | undefined, backend?: string, close = false): void {
  if (res.headersSent) {
    // the answer is already on its way: the only honest signal left is a cut connection
    res.destroy()
    return
  }
  const { status } = ERRORS[code]
  const body = ERROR_BODIES[code]
  const headers: Record<string, string | number> = {
    'content-type': 'application/json; charset=utf-8',
    'content-length': body.length,
    'cache-control': 'no-store',
  }
  if (requestId !== undefined) headers['x-request-id'] = requestId
  if (backend !== undefined) headers['x-cutover-backend'] = backend
  if (status === 503) headers['retry-after'] = RETRY_AFTER_SECONDS
  if (close) {
    // HTTP/1: the unread rest of a refused body must not be parsed as the next request. An HTTP/2
    // stream carries one request and has no Connection header (RFC 9113 §8.2.2): its rest is
    // read and dropped instead, and the connection's other streams go on
    if (!isHttp2(res.req)) headers.connection = 'close'
    else if (!res.req.complete) res.req.resume()
  }
  res.writeHead(status, headers)
  res.end(body)
}
