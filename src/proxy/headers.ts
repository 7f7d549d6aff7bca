import type { IncomingHttpHeaders } from 'node:http'
import type { Socket } from 'node:net'
import type { TLSSocket } from 'node:tls'

/**
 * Hop-by-hop headers (RFC 9110 §7.6.1) are meaningful for one connection only and must not be
 * forwarded. `expect` is answered by the gateway itself (undici refuses to send it), `host` is
 * set by undici for the upstream, and the X-Forwarded-* headers are rebuilt below.
 */
const REQUEST_SKIP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
  'host',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-request-id',
  'idempotency-key',
])

const RESPONSE_SKIP = ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade'] as const

/** What the request builder learned from the client's headers in its single pass. */
export interface ClientHeaderFacts {
  requestId: string | undefined
  idempotencyKey: string | undefined
  forwardedFor: string | undefined
  forwardedProto: string | undefined
  forwardedHost: string | undefined
  host: string | undefined
  /** more than one Host line: RFC 9112 §3.2 says answer 400 */
  duplicateHost: boolean
  contentLength: number
  chunked: boolean
}

/** Facts before copyRequestHeaders has read anything (one fresh object per request). */
export function emptyHeaderFacts(): ClientHeaderFacts {
  return {
    requestId: undefined,
    idempotencyKey: undefined,
    forwardedFor: undefined,
    forwardedProto: undefined,
    forwardedHost: undefined,
    host: undefined,
    duplicateHost: false,
    contentLength: 0,
    chunked: false,
  }
}

/** Extra names a client listed in `Connection` (RFC 9110 §7.6.1): hop-by-hop too. */
function connectionTokens(value: string): Set<string> | null {
  // nearly every peer sends just one of these: nothing to split
  if (value === 'keep-alive' || value === 'close' || value === 'Keep-Alive' || value === 'Close') return null
  let out: Set<string> | null = null
  for (const raw of value.split(',')) {
    const t = raw.trim().toLowerCase()
    if (t === '' || t === 'close' || t === 'keep-alive') continue
    ;(out ??= new Set()).add(t)
  }
  return out
}

/**
 * One pass over the client's raw headers (case and order kept): copies the end-to-end ones into a
 * flat `[name, value, …]` list for undici and records the few values the gateway itself needs.
 */
export function copyRequestHeaders(raw: readonly string[], out: string[], facts: ClientHeaderFacts): void {
  let extra: Set<string> | null = null
  const first = out.length
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string
    const value = raw[i + 1] as string
    const lower = name.toLowerCase()
    if (REQUEST_SKIP.has(lower)) {
      switch (lower) {
        case 'x-request-id':
          facts.requestId ??= value
          break
        case 'idempotency-key':
          facts.idempotencyKey ??= value
          break
        case 'x-forwarded-for':
          facts.forwardedFor = facts.forwardedFor === undefined ? value : `${facts.forwardedFor}, ${value}`
          break
        case 'x-forwarded-proto':
          facts.forwardedProto ??= value
          break
        case 'x-forwarded-host':
          facts.forwardedHost ??= value
          break
        case 'host':
          if (facts.host !== undefined) facts.duplicateHost = true
          facts.host = value
          break
        case 'transfer-encoding':
          facts.chunked = true
          break
        case 'connection':
          extra = connectionTokens(value)
          break
      }
      continue
    }
    if (lower === 'content-length') facts.contentLength = Number(value)
    out.push(name, value)
  }
  // rare: the client named extra hop-by-hop headers, which may come before Connection itself
  if (extra !== null) {
    for (let i = out.length - 2; i >= first; i -= 2) if (extra.has((out[i] as string).toLowerCase())) out.splice(i, 2)
  }
}

/**
 * Appends the headers the gateway adds to every forwarded request (x-request-id, X-Forwarded-*)
 * and returns `proto://host` the client reached the gateway at, or null without a Host.
 * `trustProxy` keeps a load balancer's X-Forwarded-Proto/Host.
 */
export function appendForwardedHeaders(headers: string[], facts: ClientHeaderFacts, socket: Socket, requestId: string, trustProxy: boolean): string | null {
  const remote = socket.remoteAddress ?? ''
  const proto = (trustProxy ? facts.forwardedProto : undefined) ?? ((socket as TLSSocket).encrypted === true ? 'https' : 'http')
  headers.push('x-request-id', requestId, 'x-forwarded-for', facts.forwardedFor === undefined ? remote : `${facts.forwardedFor}, ${remote}`, 'x-forwarded-proto', proto)
  const host = (trustProxy ? facts.forwardedHost : undefined) ?? facts.host
  if (host === undefined) return null
  headers.push('x-forwarded-host', host)
  return `${proto}://${host}`
}

/** Removes hop-by-hop headers from an upstream answer, in place. */
export function stripResponseHeaders(headers: IncomingHttpHeaders): void {
  const connection = headers.connection
  if (typeof connection === 'string') {
    const extra = connectionTokens(connection)
    if (extra !== null) for (const name of extra) delete headers[name]
  }
  for (const name of RESPONSE_SKIP) {
    if (headers[name] !== undefined) delete headers[name]
  }
}
