import { createHash } from 'node:crypto'

/**
 * The Idempotency-Key the gateway makes for a write whose client sent none but did send an
 * `x-request-id`: derived from (request id, method, path and query), so a client that retries
 * with the same request id (after a 504, say) gets the same key, and a backend that dedupes on
 * the key applies the write once, on both sides. Shaped like a UUID (RFC 9562 §5.8, version 8:
 * custom) so it fits wherever the random UUIDs made for other writes do.
 */
export function derivedIdempotencyKey(requestId: string, method: string, pathAndQuery: string): string {
  const h = createHash('sha256').update(`${requestId}\n${method}\n${pathAndQuery}`).digest('hex')
  const variant = ((parseInt(h[16] as string, 16) & 0x3) | 0x8).toString(16)
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`
}
