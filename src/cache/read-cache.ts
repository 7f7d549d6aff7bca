/**
 * The gateway's read cache (docs/cache.md): an in-memory LRU of GET answers, opt-in
 * per route, bounded in bytes, honouring Cache-Control and Vary, with stale-if-error, coalesced
 * misses, and invalidation by writes that pass through the gateway.
 *
 * ## Wiring (src/proxy/stages/cache.ts and cache-tap.ts; docs/architecture.md)
 *
 * At start: `policies = compileCachePolicies(config.routes)` (route id → CachePolicy, only routes
 * with `cache`) and one `new ReadCache({ maxBytes, fillDeadlineMs })` per process.
 * Per request, after the route is matched (`path` normalised and client-facing, `query` '' or '?…'):
 *
 *   if (!SAFE_METHODS.has(method)) cache.invalidate(path)         // every write, any route: before forwarding
 *                                                                  // and again when its answer or error arrives
 *   const c = cache.lookup(policies.get(routeId) ?? null, method, path, query, req.headers)
 *   if (c.result === 'hit') return serve(c.entry)                 // count {result:'hit'}
 *   if (c.result === 'bypass') return forward()                   // count {result:'bypass'}
 *   const fill = cache.beginFill(c)                                // 'miss' or 'stale'
 *   if (!fill.leader) { const e = await fill.wait; if (e) return serve(e) }   // count 'hit' when served
 *   forward(GET, { buffer body up to cache.maxBodyBytes, onAnswer(status, headers, body) {
 *     if (c.entry && (failed || status >= 500)) serve(c.entry)    // stale-if-error: count 'stale'
 *     if (fill.leader) fill.complete(body === null ? null : cache.store(c, { method: 'GET', status, headers, body, backend }).entry)
 *   } })                                                           // count 'miss'
 *
 * `serve(e)`: `res.writeHead(e.status, [...e.head, 'age', cache.age(e), 'x-cutover-backend', e.backend,
 * 'x-request-id', id])`; `res.end(method === 'HEAD' ? undefined : e.body)`.
 * `e.headers` is frozen, has no Set-Cookie/Age/x-request-id and a `content-length` equal to the
 * stored body. A leader must call `complete` exactly once, also when the upstream failed, the
 * client went away or the body went past `maxBodyBytes` (then with null); the deadline only
 * protects followers from bugs. A 'stale' lookup whose follower got null still holds its stale
 * entry in `c.entry` for the stale-if-error decision.
 *
 * ## Metrics
 * `lookup().result` is the `cutover_cache_total{result}` label: `hit`, `miss`, `bypass`; `stale`
 * means "expired but usable if the backend fails": count `stale` when the stale entry was served,
 * `miss` when the backend answered. A follower served from its leader's entry is a `hit`.
 * `stats` gives entries, bytes and index sizes for gauges.
 *
 * ## Semantics
 * - Key: route id + normalised path + query with parameters sorted + whether the request carried
 *   Authorization + the values of the request headers named by the answer's `Vary` and by the
 *   route's `varyHeaders` (cache-key.ts). A resource's Vary names are learned from the first stored
 *   answer (per route and path, query ignored) so the next lookup can build the full key; after a
 *   `Vary: *` answer the resource is bypassed for the route's ttlMs, then probed again.
 * - HEAD: keys only ever hold GET answers. A HEAD is served from a cached GET (headers only). A
 *   HEAD miss is best fetched upstream as a GET, as nginx's `proxy_cache_convert_head` does, so
 *   it fills the cache; a HEAD forwarded as HEAD is simply not stored (`store` → 'method') and
 *   its followers then go upstream themselves.
 * - Requests with Authorization use their own keys: they can only hit answers stored from
 *   requests that carried Authorization too, which RFC 9111 §3.5 allows only when the answer was
 *   `public`/`s-maxage`/`must-revalidate`. An anonymous 404 is never served to a signed-in user.
 *   Cookies get no such treatment: list `cookie` in the route's `varyHeaders` if the backend
 *   personalises by cookie without saying `Vary: Cookie` or `private`.
 * - Storable rules, TTL capping and the stale window: freshness.ts. Request `no-cache` /
 *   `max-age=0` do not bypass the cache (clients cannot force load onto the backend).
 * - Invalidation: `invalidate(path)` drops every variant (all queries, all Vary values, GET and
 *   HEAD, every route) of the path and of its parent collection: a write to `/api/orders/42` drops
 *   `/api/orders/42` and `/api/orders`; a POST to `/api/orders` drops `/api/orders` and also
 *   `/api` (the rule cannot tell items from collections; one extra miss is cheap). Children are
 *   not dropped. It uses the client-facing path: with a `rewrite`, pass the path the client sent,
 *   not the backend's, because that is what keys are built from. A fill that was in flight across
 *   an invalidation of its path (or a flushRoute of its route) is not stored ('invalidated'), so
 *   a read racing a write cannot re-cache the old answer; the second call, when the write has
 *   answered, covers a read that started after the first but reached the backend before the
 *   write did. Writes that bypass the gateway, and writes through another replica, are only
 *   bounded by the TTL.
 * - `flushRoute(id)`: drops a route's entries through a route → keys index (O(that route's
 *   entries), no scan of the others'; a flush happens on every weight change, in the middle of
 *   traffic, and should not walk a cache of other routes' entries).
 * - Memory: each entry costs body + headers (names, values, per-field overhead) + key + a fixed
 *   ENTRY_OVERHEAD_BYTES for the entry object and its index slots; lru-cache evicts the least
 *   recently used to stay under `maxBytes`. The learned-Vary table and the record of recent
 *   invalidations each get a 1/64 slice of that budget. Bodies that are views into a larger
 *   buffer (undici hands out slices of its socket reads) are copied so that a small entry cannot
 *   pin a large buffer.
 * - `maxBodyBytes` (default maxBytes/16): bigger answers are not stored. One large body would push
 *   out many small hot ones, and the leader has to buffer the body before storing it; 1/16 keeps
 *   at least 16 maximal entries in the cache and bounds that buffer.
 */
import type { IncomingHttpHeaders } from 'node:http'
import { LRUCache } from 'lru-cache'
import type { RouteConfig } from '../config/schema.ts'
import { indexPath, normaliseQuery, parentPath, parseVary, varyKeyPart, varySet, VARY_STAR, type VarySet } from './cache-key.ts'
import { FillCoalescer, type Fill } from './fill-coalescer.ts'
import { assessResponse, NOT_STORABLE_REASONS, type NotStorableReason } from './freshness.ts'

export type { Fill, FollowerFill, LeaderFill } from './fill-coalescer.ts'
export type { NotStorableReason } from './freshness.ts'

export const DEFAULT_CACHE_MAX_BYTES = 64 * 1024 * 1024
/** Must exceed the slowest backend's timeoutMs: a leader normally completes well before it. */
export const DEFAULT_FILL_DEADLINE_MS = 30_000
/** How many recent invalidations are remembered to refuse racing fills (see `invalidate`). */
export const DEFAULT_MAX_INVALIDATIONS = 10_000
export const MIN_CACHE_MAX_BYTES = 64 * 1024
/** Estimated cost of an entry beyond body, headers and key: the object, lru slots, index sets. */
export const ENTRY_OVERHEAD_BYTES = 256
/** Estimated cost per header field beyond its name and value. */
export const HEADER_OVERHEAD_BYTES = 32
/** Share of maxBytes given to the learned-Vary table (per route and path). */
export const VARY_BUDGET_SHARE = 1 / 64
/** Share of maxBytes given to the record of recent invalidations (see `invalidate`). */
export const INVALIDATION_BUDGET_SHARE = 1 / 64
/** Estimated cost of a learned-Vary or invalidation record beyond its strings. */
const RECORD_OVERHEAD_BYTES = 64

export type CacheResult = 'hit' | 'stale' | 'miss' | 'bypass'
export type BypassReason = 'route' | 'method' | 'vary-star'

export type RouteCacheConfig = NonNullable<RouteConfig['cache']>

/** A route's cache settings, compiled once at start. */
export interface CachePolicy {
  readonly routeId: string
  readonly ttlMs: number
  readonly staleIfErrorMs: number
  /** the route's `varyHeaders`, lower-case and sorted */
  readonly vary: VarySet
}

/** One stored answer. Frozen; safe to serve from many requests at once. */
export interface CachedEntry {
  readonly key: string
  readonly routeId: string
  /** the client-facing path, as indexed for invalidation (no query, no trailing slash) */
  readonly path: string
  readonly status: number
  readonly headers: Readonly<IncomingHttpHeaders>
  /** `headers` as a flat [name, value, …] list, ready for writeHead: a hit copies no object */
  readonly head: readonly string[]
  readonly body: Buffer
  /** the backend that produced it (for `x-cutover-backend`) */
  readonly backend: string
  /** clock ms (the `now` option's clock) */
  readonly storedAt: number
  readonly expiresAt: number
  /** expiresAt + the stale-if-error window */
  readonly staleUntil: number
  /** the answer's `Age` when received */
  readonly initialAgeMs: number
  /** bytes counted against maxBytes */
  readonly size: number
  readonly vary: VarySet
}

/**
 * What `lookup` found. `result`, `entry`, `key` and `bypass` are for the caller; the other fields
 * carry the request into `beginFill` and `store` and are not meant to be read.
 */
export interface CacheLookup {
  readonly result: CacheResult
  /** 'hit': fresh; 'stale': expired, serve only if the backend fails; otherwise null */
  readonly entry: CachedEntry | null
  /** the coalescing key; null for a bypass */
  readonly key: string | null
  readonly bypass: BypassReason | null
  readonly policy: CachePolicy | null
  readonly path: string
  readonly learnedKey: string
  readonly base: string
  readonly headers: IncomingHttpHeaders | null
  readonly authorization: boolean
  readonly epoch: number
}

/** What the caller hands `store` once the upstream answer is complete. */
export interface StoreInput {
  /** the method sent upstream: only GET answers are stored */
  readonly method: string
  readonly status: number
  /** hop-by-hop fields already stripped */
  readonly headers: IncomingHttpHeaders
  /** the complete body (a truncated body must not be stored: complete the fill with null) */
  readonly body: Buffer
  readonly backend: string
}

export type StoreResult = { readonly entry: CachedEntry; readonly reason: null } | { readonly entry: null; readonly reason: NotStorableReason }

export interface ReadCacheOptions {
  /** Bytes for entries, the learned-Vary table and the invalidation record together. */
  readonly maxBytes?: number
  /** Bodies above this are not stored. Default maxBytes / 16. */
  readonly maxBodyBytes?: number
  /** Followers are released (with null) when their leader has not completed by then. */
  readonly fillDeadlineMs?: number
  /** Recent invalidations remembered (also bounded in bytes by INVALIDATION_BUDGET_SHARE). */
  readonly maxInvalidations?: number
  /** Milliseconds, monotonic. Default: performance.timeOrigin + performance.now(). */
  readonly now?: () => number
}

export interface CacheStats {
  readonly entries: number
  /** entries, learned-Vary table and invalidation record, as counted against maxBytes */
  readonly bytes: number
  readonly paths: number
  readonly routes: number
  readonly learnedVary: number
  readonly fillsInFlight: number
}

const OPTION_NAMES: readonly string[] = ['maxBytes', 'maxBodyBytes', 'fillDeadlineMs', 'maxInvalidations', 'now']

/** Headers a stored answer does not keep: per client, per exchange, or recomputed on serve. */
const DROP_HEADERS = new Set(['set-cookie', 'age', 'content-length', 'x-request-id', 'x-cutover-backend', 'x-cutover-cache'])

// a header name is a token (RFC 9110 §5.6.2); checked once, at start
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

/** Compiles one route's `cache` block; null when the route does not cache. */
export function compileCachePolicy(routeId: string, config: RouteCacheConfig | undefined): CachePolicy | null {
  if (config === undefined) return null
  config.varyHeaders.forEach((name, i) => {
    if (!TOKEN.test(name)) throw new TypeError(`route '${routeId}': cache.varyHeaders[${i}] '${name}' is not a header name`)
  })
  return Object.freeze({
    routeId,
    ttlMs: config.ttlMs,
    staleIfErrorMs: config.staleIfErrorMs,
    vary: varySet(config.varyHeaders.map((h) => h.toLowerCase())),
  })
}

/** Route id → policy for every route with a `cache` block. */
export function compileCachePolicies(routes: readonly RouteConfig[]): ReadonlyMap<string, CachePolicy> {
  const out = new Map<string, CachePolicy>()
  for (const r of routes) {
    const p = compileCachePolicy(r.id, r.cache)
    if (p !== null) out.set(r.id, p)
  }
  return out
}

function bypassLookup(reason: BypassReason): CacheLookup {
  return Object.freeze({
    result: 'bypass',
    entry: null,
    key: null,
    bypass: reason,
    policy: null,
    path: '',
    learnedKey: '',
    base: '',
    headers: null,
    authorization: false,
    epoch: 0,
  })
}

const BYPASS: Readonly<Record<BypassReason, CacheLookup>> = Object.freeze({
  route: bypassLookup('route'),
  method: bypassLookup('method'),
  'vary-star': bypassLookup('vary-star'),
})

const NOT_STORED: Readonly<Record<NotStorableReason, StoreResult>> = Object.freeze(
  Object.fromEntries(NOT_STORABLE_REASONS.map((reason) => [reason, Object.freeze({ entry: null, reason })])) as Record<NotStorableReason, StoreResult>,
)

function monotonicNow(): number {
  return performance.timeOrigin + performance.now()
}

export class ReadCache {
  readonly maxBytes: number
  readonly maxBodyBytes: number
  readonly #now: () => number
  readonly #entries: LRUCache<string, CachedEntry>
  /** route id + '\n' + path → the Vary names learned from its answers */
  readonly #learned: LRUCache<string, VarySet>
  readonly #byPath = new Map<string, Set<string>>()
  readonly #byRoute = new Map<string, Set<string>>()
  readonly #fills: FillCoalescer<CachedEntry>
  /** bumped by every invalidate and flushRoute; a lookup remembers the value it saw */
  #epoch = 0
  /** index path → epoch of its last invalidation, oldest first, bounded in count and bytes */
  readonly #invalidated = new Map<string, number>()
  readonly #maxInvalidations: number
  readonly #maxInvalidationBytes: number
  #invalidatedBytes = 0
  /** highest epoch dropped from #invalidated: fills that started before it cannot be checked */
  #forgotten = 0
  readonly #flushed = new Map<string, number>()

  constructor(options: ReadCacheOptions = {}) {
    for (const k of Object.keys(options)) {
      if (!OPTION_NAMES.includes(k)) {
        const hint = OPTION_NAMES.find((n) => n.toLowerCase() === k.toLowerCase())
        throw new TypeError(`ReadCache: unknown option '${k}'${hint === undefined ? '' : ` (did you mean '${hint}'?)`}`)
      }
    }
    const maxBytes = options.maxBytes ?? DEFAULT_CACHE_MAX_BYTES
    if (!Number.isSafeInteger(maxBytes) || maxBytes < MIN_CACHE_MAX_BYTES) throw new RangeError(`ReadCache: maxBytes must be an integer of at least ${MIN_CACHE_MAX_BYTES}`)
    const maxBodyBytes = options.maxBodyBytes ?? Math.floor(maxBytes / 16)
    if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes < 0 || maxBodyBytes > maxBytes / 2) {
      throw new RangeError('ReadCache: maxBodyBytes must be an integer from 0 to maxBytes / 2')
    }
    const deadline = options.fillDeadlineMs ?? DEFAULT_FILL_DEADLINE_MS
    if (!Number.isSafeInteger(deadline) || deadline < 1) throw new RangeError('ReadCache: fillDeadlineMs must be a positive integer')
    const maxInvalidations = options.maxInvalidations ?? DEFAULT_MAX_INVALIDATIONS
    if (!Number.isSafeInteger(maxInvalidations) || maxInvalidations < 1) throw new RangeError('ReadCache: maxInvalidations must be a positive integer')

    this.maxBytes = maxBytes
    this.maxBodyBytes = maxBodyBytes
    this.#maxInvalidations = maxInvalidations
    const now = options.now ?? monotonicNow
    this.#now = now
    // lru-cache's TTLs run on the same clock; ttlResolution 0 so it never caches a reading
    const perf = { now }
    const varyBytes = Math.floor(maxBytes * VARY_BUDGET_SHARE)
    this.#maxInvalidationBytes = Math.floor(maxBytes * INVALIDATION_BUDGET_SHARE)
    this.#entries = new LRUCache<string, CachedEntry>({
      maxSize: maxBytes - varyBytes - this.#maxInvalidationBytes,
      sizeCalculation: (entry) => entry.size,
      disposeAfter: this.#unindex,
      ttlResolution: 0,
      perf,
    })
    this.#learned = new LRUCache<string, VarySet>({
      maxSize: varyBytes,
      sizeCalculation: (vary, key) => key.length + vary.tag.length + RECORD_OVERHEAD_BYTES,
      ttlResolution: 0,
      perf,
    })
    this.#fills = new FillCoalescer<CachedEntry>(deadline)
  }

  /**
   * Classifies a request. `path` is the normalised client-facing path, `query` '' or '?…',
   * `headers` the client's (lower-case names, as node gives them). No policy → 'bypass'.
   */
  lookup(policy: CachePolicy | null, method: string, path: string, query: string, headers: IncomingHttpHeaders): CacheLookup {
    if (policy === null) return BYPASS.route
    if (method !== 'GET' && method !== 'HEAD') return BYPASS.method
    const learnedKey = policy.routeId + '\n' + path
    const vary = this.#learned.size === 0 ? policy.vary : (this.#learned.get(learnedKey) ?? policy.vary)
    if (vary === VARY_STAR) return BYPASS['vary-star']
    const authorization = headers.authorization !== undefined
    const base = learnedKey + normaliseQuery(query) + (authorization ? '\nA' : '\n-')
    const key = base + varyKeyPart(vary, headers)
    let entry: CachedEntry | null = this.#entries.get(key) ?? null
    let result: CacheResult = 'miss'
    if (entry !== null) {
      const now = this.#now()
      if (now < entry.expiresAt) result = 'hit'
      else if (now < entry.staleUntil) result = 'stale'
      else {
        this.#entries.delete(key)
        entry = null
      }
    }
    return { result, entry, key, bypass: null, policy, path, learnedKey, base, headers, authorization, epoch: this.#epoch }
  }

  /**
   * Joins or starts the upstream call for a lookup's key ('miss' or 'stale'). A follower's `wait`
   * gives the leader's entry only when it also fits the follower's request (the Vary names may
   * have been unknown when both looked up); otherwise null, and the follower goes upstream.
   */
  beginFill(lookup: CacheLookup): Fill<CachedEntry> {
    const key = lookup.key
    if (key === null) throw new TypeError('ReadCache.beginFill: a bypass lookup has nothing to fill')
    const fill = this.#fills.begin(key)
    if (fill.leader) return fill
    return { leader: false, wait: fill.wait.then((e) => (e !== null && this.#fits(e, lookup) ? e : null)) }
  }

  /** Stores an upstream answer for a lookup if the rules allow; says why not otherwise. */
  store(lookup: CacheLookup, response: StoreInput): StoreResult {
    const { policy, headers: requestHeaders } = lookup
    if (policy === null || requestHeaders === null) return notStorable('bypass')
    if (response.method !== 'GET') return notStorable('method')
    if (response.body.length > this.maxBodyBytes) return notStorable('too-large')
    const now = this.#now()
    const verdict = assessResponse({
      status: response.status,
      headers: response.headers,
      authorization: lookup.authorization,
      requestCacheControl: requestHeaders['cache-control'],
      ttlMs: policy.ttlMs,
      staleIfErrorMs: policy.staleIfErrorMs,
      now,
    })
    if (!verdict.storable) return notStorable(verdict.reason)

    const vary = parseVary(response.headers.vary, policy.vary)
    if (vary === null) {
      // remembered for a TTL so lookups bypass instead of queueing behind a leader in vain
      this.#learned.set(lookup.learnedKey, VARY_STAR, { ttl: policy.ttlMs })
      return notStorable('vary-star')
    }
    if (vary === policy.vary) {
      if (this.#learned.size > 0) this.#learned.delete(lookup.learnedKey)
    } else if (this.#learned.get(lookup.learnedKey)?.tag !== vary.tag) {
      this.#learned.set(lookup.learnedKey, vary, { ttl: 0 })
    }
    if (this.#invalidatedSince(lookup)) return notStorable('invalidated')

    const key = lookup.base + varyKeyPart(vary, requestHeaders)
    const body = ownBuffer(response.body)
    const { headers, head, bytes } = storedHeaders(response.headers, body.length)
    const expiresAt = now + verdict.freshMs
    const staleUntil = expiresAt + verdict.staleMs
    const path = indexPath(lookup.path)
    const entry: CachedEntry = Object.freeze({
      key,
      routeId: policy.routeId,
      path,
      status: response.status,
      headers,
      head,
      body,
      backend: response.backend,
      storedAt: now,
      expiresAt,
      staleUntil,
      initialAgeMs: verdict.initialAgeMs,
      size: body.length + bytes + key.length + ENTRY_OVERHEAD_BYTES,
      vary,
    })
    if (entry.size > this.#entries.maxSize) return notStorable('too-large')
    this.#entries.set(key, entry, { ttl: Math.max(1, Math.ceil(staleUntil - now)) })
    addTo(this.#byPath, path, key)
    addTo(this.#byRoute, policy.routeId, key)
    return { entry, reason: null }
  }

  /**
   * A write to `path` (client-facing, normalised, without query): drops every cached variant of
   * the path and of its parent. Returns how many entries were dropped.
   */
  invalidate(path: string): number {
    const epoch = ++this.#epoch
    const item = indexPath(path)
    let dropped = this.#dropPath(item, epoch)
    const parent = parentPath(item)
    if (parent !== null) dropped += this.#dropPath(parent, epoch)
    return dropped
  }

  /** Drops every entry of a route (its serving side changed). Returns how many. */
  flushRoute(routeId: string): number {
    this.#flushed.set(routeId, ++this.#epoch)
    const dropped = this.#dropKeys(this.#byRoute.get(routeId))
    // what the old side said about Vary may not hold for the new one
    const prefix = routeId + '\n'
    const learned: string[] = []
    for (const k of this.#learned.keys()) if (k.startsWith(prefix)) learned.push(k)
    for (const k of learned) this.#learned.delete(k)
    return dropped
  }

  /** Drops everything; fills in flight are not stored. */
  clear(): void {
    ++this.#epoch
    this.#forgotten = this.#epoch
    this.#invalidated.clear()
    this.#invalidatedBytes = 0
    this.#entries.clear()
    this.#learned.clear()
  }

  /** Seconds for the `Age` header (RFC 9111 §5.1): age when received + time in this cache. */
  age(entry: CachedEntry): number {
    return Math.max(0, Math.floor((entry.initialAgeMs + this.#now() - entry.storedAt) / 1000))
  }

  get stats(): CacheStats {
    return {
      entries: this.#entries.size,
      bytes: this.#entries.calculatedSize + this.#learned.calculatedSize + this.#invalidatedBytes,
      paths: this.#byPath.size,
      routes: this.#byRoute.size,
      learnedVary: this.#learned.size,
      fillsInFlight: this.#fills.size,
    }
  }

  #fits(entry: CachedEntry, lookup: CacheLookup): boolean {
    return lookup.headers !== null && entry.key === lookup.base + varyKeyPart(entry.vary, lookup.headers)
  }

  #invalidatedSince(lookup: CacheLookup): boolean {
    const seen = lookup.epoch
    if (seen === this.#epoch) return false
    if (this.#forgotten > seen) return true
    const flushed = lookup.policy === null ? undefined : this.#flushed.get(lookup.policy.routeId)
    if (flushed !== undefined && flushed > seen) return true
    const inv = this.#invalidated.get(indexPath(lookup.path))
    return inv !== undefined && inv > seen
  }

  #dropPath(path: string, epoch: number): number {
    // re-inserted so that the map stays ordered by epoch, oldest first
    if (this.#invalidated.delete(path)) this.#invalidatedBytes -= path.length + RECORD_OVERHEAD_BYTES
    this.#invalidated.set(path, epoch)
    this.#invalidatedBytes += path.length + RECORD_OVERHEAD_BYTES
    while (this.#invalidated.size > this.#maxInvalidations || (this.#invalidatedBytes > this.#maxInvalidationBytes && this.#invalidated.size > 1)) {
      const oldest = this.#invalidated.entries().next().value
      if (oldest === undefined) break
      this.#invalidated.delete(oldest[0])
      this.#invalidatedBytes -= oldest[0].length + RECORD_OVERHEAD_BYTES
      this.#forgotten = oldest[1]
    }
    return this.#dropKeys(this.#byPath.get(path))
  }

  #dropKeys(keys: Set<string> | undefined): number {
    if (keys === undefined) return 0
    let n = 0
    // each delete unindexes its key from this very set, which Set iteration tolerates
    for (const k of keys) if (this.#entries.delete(k)) n++
    return n
  }

  /** lru-cache calls this after an entry left (evicted, expired, deleted, replaced). */
  readonly #unindex = (entry: CachedEntry, key: string): void => {
    // a replacement under the same key keeps the key indexed (same path, same route)
    if (this.#entries.peek(key, { allowStale: true }) !== undefined) return
    removeFrom(this.#byPath, entry.path, key)
    removeFrom(this.#byRoute, entry.routeId, key)
  }
}

function notStorable(reason: NotStorableReason): StoreResult {
  return NOT_STORED[reason]
}

function addTo(index: Map<string, Set<string>>, name: string, key: string): void {
  let set = index.get(name)
  if (set === undefined) index.set(name, (set = new Set()))
  set.add(key)
}

function removeFrom(index: Map<string, Set<string>>, name: string, key: string): void {
  const set = index.get(name)
  if (set === undefined) return
  set.delete(key)
  if (set.size === 0) index.delete(name)
}

/**
 * A Buffer that owns exactly its bytes. undici's chunks and small Buffer.concat results are views
 * into larger (pooled) ArrayBuffers; keeping such a view would pin the whole buffer and break the
 * byte bound.
 */
function ownBuffer(body: Buffer): Buffer {
  if (body.byteOffset === 0 && body.buffer.byteLength === body.length) return body
  const copy = Buffer.alloc(body.length)
  body.copy(copy)
  return copy
}

function storedHeaders(source: IncomingHttpHeaders, bodyLength: number): { headers: Readonly<IncomingHttpHeaders>; head: readonly string[]; bytes: number } {
  const headers: IncomingHttpHeaders = {}
  const head: string[] = []
  let bytes = 0
  for (const name of Object.keys(source)) {
    if (DROP_HEADERS.has(name)) continue
    const v = source[name]
    if (v === undefined) continue
    if (typeof v === 'string') {
      headers[name] = v
      head.push(name, v)
      bytes += name.length + v.length + HEADER_OVERHEAD_BYTES
    } else {
      headers[name] = v.slice()
      for (const one of v) {
        head.push(name, one)
        bytes += name.length + one.length + HEADER_OVERHEAD_BYTES
      }
    }
  }
  const length = String(bodyLength)
  headers['content-length'] = length
  head.push('content-length', length)
  // the flat copy shares the strings: counted once
  bytes += 14 + 20 + HEADER_OVERHEAD_BYTES
  return { headers: Object.freeze(headers), head: Object.freeze(head), bytes }
}
