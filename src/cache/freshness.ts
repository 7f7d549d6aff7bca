import type { IncomingHttpHeaders } from 'node:http'
import { parseCacheControl } from './cache-control.ts'

/**
 * Whether an upstream answer may be stored by the gateway's shared cache, and for how long it is
 * fresh and then usable as stale-if-error. Pure: the caller passes the clock.
 *
 * Choices, all on the conservative side (a gateway that serves one user's data to another is worse
 * than one that calls the backend more often):
 * - Statuses: only 200, 203, 300, 301, 404, 410 — the heuristically cacheable ones of RFC 9110
 *   §15.1 that make sense for an API (206 needs range merging; 204/405/414/501 are not worth it).
 * - `no-store`, `private` and `no-cache` (also their qualified forms `private="f"`,
 *   `no-cache="f"`) make the answer not storable. RFC 9111 lets a cache store `no-cache` answers
 *   and revalidate them on every use (§5.2.2.4), but the gateway does not revalidate, so storing
 *   them would only cost memory. Qualified forms would need the field stripped before reuse
 *   (§5.2.2.4, §5.2.2.7); not storing is the simple correct choice.
 * - `Set-Cookie`: never stored; a cookie is per client, whatever Cache-Control says.
 * - A request with `Authorization`: stored only when the answer says a shared cache may
 *   (`public`, `s-maxage` or `must-revalidate`, RFC 9111 §3.5).
 * - A request with `Cache-Control: no-store` is not stored (RFC 9111 §5.2.1.5). Other request
 *   directives (`no-cache`, `max-age=0`) are preferences a cache may ignore; the gateway does, so
 *   clients cannot strip the backend's protection by sending them.
 */

/** RFC 9110 §15.1 heuristically cacheable statuses the gateway keeps. */
export const CACHEABLE_STATUSES: ReadonlySet<number> = new Set([200, 203, 300, 301, 404, 410])

export const NOT_STORABLE_REASONS = [
  /** the lookup was a bypass: route not cached, method not GET/HEAD, or `Vary: *` learned */
  'bypass',
  /** the upstream request was not a GET (a HEAD answer has no body to serve a GET with) */
  'method',
  'status',
  'request-no-store',
  'no-store',
  'no-cache',
  'private',
  'set-cookie',
  'authorization',
  'vary-star',
  /** the freshness lifetime is already used up (max-age=0, an old Expires, a large Age) */
  'expired',
  /** body over `maxBodyBytes` */
  'too-large',
  /** a write invalidated the path, or its route was flushed, while this answer was in flight */
  'invalidated',
] as const

export type NotStorableReason = (typeof NOT_STORABLE_REASONS)[number]

export interface FreshnessInput {
  readonly status: number
  /** the upstream answer's headers, lower-case names */
  readonly headers: IncomingHttpHeaders
  /** the client request carried `Authorization` */
  readonly authorization: boolean
  /** the client request's `Cache-Control` */
  readonly requestCacheControl: string | string[] | undefined
  /** the route's `cache.ttlMs` */
  readonly ttlMs: number
  /** the route's `cache.staleIfErrorMs` */
  readonly staleIfErrorMs: number
  readonly now: number
}

export interface Storable {
  readonly storable: true
  /** how long from now the answer is fresh */
  readonly freshMs: number
  /** how long after that it may still be served when the backend fails */
  readonly staleMs: number
  /** the answer's age when received (its `Age` header), RFC 9111 §4.2.3 */
  readonly initialAgeMs: number
}

export interface NotStorable {
  readonly storable: false
  readonly reason: NotStorableReason
}

const NOT_STORABLE: Readonly<Record<NotStorableReason, NotStorable>> = Object.freeze(
  Object.fromEntries(NOT_STORABLE_REASONS.map((reason) => [reason, Object.freeze({ storable: false, reason })])) as Record<NotStorableReason, NotStorable>,
)

export function notStorable(reason: NotStorableReason): NotStorable {
  return NOT_STORABLE[reason]
}

export function assessResponse(input: FreshnessInput): Storable | NotStorable {
  const { headers } = input
  if (!CACHEABLE_STATUSES.has(input.status)) return NOT_STORABLE.status
  if (input.requestCacheControl !== undefined && parseCacheControl(input.requestCacheControl).noStore) return NOT_STORABLE['request-no-store']
  const cc = parseCacheControl(headers['cache-control'])
  if (cc.noStore) return NOT_STORABLE['no-store']
  if (cc.isPrivate) return NOT_STORABLE.private
  if (cc.noCache) return NOT_STORABLE['no-cache']
  if (headers['set-cookie'] !== undefined) return NOT_STORABLE['set-cookie']
  if (input.authorization && !cc.isPublic && cc.sMaxAge === undefined && !cc.mustRevalidate) return NOT_STORABLE.authorization

  const initialAgeMs = ageHeaderMs(headers.age)
  // RFC 9111 §4.2.1: s-maxage (shared caches only) over max-age over Expires; the route's ttlMs
  // caps whatever the backend allows, and stands in for it when the backend says nothing
  let lifetimeMs: number | undefined
  if (cc.sMaxAge !== undefined) lifetimeMs = cc.sMaxAge * 1000
  else if (cc.maxAge !== undefined) lifetimeMs = cc.maxAge * 1000
  else if (headers.expires !== undefined) lifetimeMs = expiresLifetimeMs(headers.expires, headers.date, input.now)
  const freshMs = lifetimeMs === undefined ? input.ttlMs : Math.min(input.ttlMs, lifetimeMs - initialAgeMs)
  if (!(freshMs > 0)) return NOT_STORABLE.expired

  // Serving stale is forbidden by must-revalidate, proxy-revalidate and s-maxage (which carries
  // proxy-revalidate, RFC 9111 §5.2.2.10) — unless the backend itself grants stale-if-error,
  // which applies "regardless of other freshness information" (RFC 5861 §4). The route's
  // staleIfErrorMs is the operator's ceiling either way: 0 turns stale serving off.
  let staleMs: number
  if (cc.staleIfError !== undefined) staleMs = Math.min(input.staleIfErrorMs, cc.staleIfError * 1000)
  else if (cc.mustRevalidate || cc.proxyRevalidate || cc.sMaxAge !== undefined) staleMs = 0
  else staleMs = input.staleIfErrorMs
  return { storable: true, freshMs, staleMs, initialAgeMs }
}

/** `Age` (RFC 9111 §5.1): delta-seconds; anything else counts as 0. */
function ageHeaderMs(value: string | undefined): number {
  if (value === undefined) return 0
  let v = 0
  const s = value.trim()
  if (s.length === 0) return 0
  for (let i = 0; i < s.length; i++) {
    const d = s.charCodeAt(i) - 48
    if (d < 0 || d > 9) return 0
    v = v * 10 + d
  }
  return v * 1000
}

/**
 * RFC 9111 §5.3: lifetime = Expires − Date (the backend's own clock on both sides, so skew between
 * it and the gateway does not matter). An invalid Expires, such as "0", means already expired.
 */
function expiresLifetimeMs(expires: string, date: string | undefined, now: number): number {
  const e = Date.parse(expires)
  if (Number.isNaN(e)) return 0
  const d = date === undefined ? Number.NaN : Date.parse(date)
  return e - (Number.isNaN(d) ? now : d)
}
