import type { IncomingHttpHeaders, ServerResponse } from 'node:http'
import type { Counter } from 'prom-client'
import { compileCachePolicies, type CachedEntry, type CacheLookup, type CachePolicy, type LeaderFill, type ReadCache } from '../../cache/read-cache.ts'
import { BodyCollector } from '../../compare/captured-response.ts'
import type { RouteConfig } from '../../config/schema.ts'
import type { Metrics } from '../../metrics/metrics.ts'
import type { MetricsTable, RouteMetrics } from '../route-metrics.ts'
import { SAFE_METHODS, type ProxyRequest } from './request.ts'

export type CacheOutcome = 'hit' | 'miss' | 'stale' | 'bypass'

/** Where the cache stage hands a request that must go to its backend. */
export interface Forward {
  forward(r: ProxyRequest): void
}

/** `cutover_cache_total` children for one route, resolved at start. */
export class CacheCounters {
  readonly hit: Counter.Internal
  readonly miss: Counter.Internal
  readonly stale: Counter.Internal
  readonly bypass: Counter.Internal

  constructor(metrics: Metrics, route: string) {
    this.hit = metrics.cache.labels(route, 'hit')
    this.miss = metrics.cache.labels(route, 'miss')
    this.stale = metrics.cache.labels(route, 'stale')
    this.bypass = metrics.cache.labels(route, 'bypass')
  }
}

/** One caching route: its policy and its counters. */
interface CachingRoute {
  readonly policy: CachePolicy
  readonly counters: CacheCounters
}

/**
 * Stage 5, cache (docs/cache.md, docs/architecture.md): a fresh hit is answered here (a lookup and
 * a write of the stored head and body, nothing else); a miss becomes a fill (the leader's exchange
 * stores its answer, followers wait for it); a write invalidates the cached reads of its path now
 * and, through `r.invalidate`, again when it answers. Everything else is forwarded unchanged.
 */
export class CacheStage {
  readonly #cache: ReadCache | null
  readonly #routes = new Map<string, CachingRoute>()
  readonly #metrics: MetricsTable

  constructor(cache: ReadCache | null, routes: readonly RouteConfig[], metrics: MetricsTable, registry: Metrics) {
    this.#cache = cache
    this.#metrics = metrics
    for (const [id, policy] of compileCachePolicies(routes)) this.#routes.set(id, { policy, counters: new CacheCounters(registry, id) })
  }

  run(r: ProxyRequest, next: Forward): void {
    const cache = this.#cache
    if (cache === null) return next.forward(r)
    const method = r.method
    if (!SAFE_METHODS.has(method)) {
      // a write drops the cached reads of its resource and collection, now and when it answers
      cache.invalidate(r.path)
      r.invalidate = cache
      return next.forward(r)
    }
    if (r.route === null || (method !== 'GET' && method !== 'HEAD')) return next.forward(r)
    const caching = this.#routes.get(r.routeId)
    if (caching === undefined) return next.forward(r)
    const { counters } = caching
    const c = cache.lookup(caching.policy, method, r.path, r.query, r.req.headers)
    if (c.result === 'hit' && c.entry !== null) {
      counters.hit.inc()
      return this.#serve(r, c.entry, cache)
    }
    if (c.result === 'bypass') counters.bypass.inc()
    else if (method === 'HEAD') counters.miss.inc()
    else {
      const fill = cache.beginFill(c)
      r.cacheTap = new CacheTap(cache, c, fill.leader ? fill : null, counters)
      if (!fill.leader) {
        // another request is already fetching this: share its answer (RFC 9111 §4 allows one fill per key)
        void fill.wait.then((entry) => {
          if (entry === null) return next.forward(r)
          counters.hit.inc()
          this.#serve(r, entry, cache)
        })
        return
      }
    }
    next.forward(r)
  }

  #serve(r: ProxyRequest, entry: CachedEntry, cache: ReadCache): void {
    serveEntry(r.res, entry, 'hit', r.requestId, cache, r.method === 'HEAD')
    // a hit is not the backend's doing: counted for the client, not fed to the route's guard
    this.#metrics.get(r.routeId, entry.backend).recordServed(entry.status, r.elapsed())
  }
}

/**
 * A cache miss being filled by one exchange: it collects the answer and completes the fill, or
 * serves the stale copy when the backend fails inside the stale-if-error window.
 */
export class CacheTap {
  readonly #cache: ReadCache
  readonly #lookup: CacheLookup
  /** null for a follower whose leader brought nothing back: it may still serve stale */
  readonly #fill: LeaderFill<CachedEntry> | null
  readonly #collector: BodyCollector
  readonly #counters: CacheCounters

  constructor(cache: ReadCache, lookup: CacheLookup, fill: LeaderFill<CachedEntry> | null, counters: CacheCounters) {
    this.#cache = cache
    this.#lookup = lookup
    this.#fill = fill
    this.#collector = new BodyCollector(cache.maxBodyBytes)
    this.#counters = counters
  }

  /** The backend answered (not with a 5xx served stale instead): a miss, said in the answer too. */
  missed(headers: IncomingHttpHeaders): void {
    this.#counters.miss.inc()
    headers['x-cutover-cache'] = 'miss'
  }

  push(chunk: Buffer): void {
    this.#collector.push(chunk)
  }

  /** True when an expired copy may be served because the backend failed. */
  get canServeStale(): boolean {
    return this.#lookup.entry !== null
  }

  /** Serves the stale copy (the caller checked canServeStale and that nothing was sent yet). */
  serveStale(res: ServerResponse, requestId: string, metrics: RouteMetrics, seconds: number): void {
    const entry = this.#lookup.entry as CachedEntry
    this.#fill?.complete(null)
    this.#counters.stale.inc()
    metrics.recordServed(entry.status, seconds)
    serveEntry(res, entry, 'stale', requestId, this.#cache, false)
  }

  /** The answer is complete: stored when it may be, and the followers get it. */
  store(status: number, headers: IncomingHttpHeaders | null, backend: string): void {
    const c = this.#collector
    const stored = c.truncated || headers === null ? null : this.#cache.store(this.#lookup, { method: 'GET', status, headers, body: c.body, backend }).entry
    this.#fill?.complete(stored)
  }

  /** Nothing will be stored (the exchange failed, the client left, the answer is per client). */
  abandon(): void {
    this.#fill?.complete(null)
  }
}

/** Answers from the cache: stored status, head and body, plus Age (RFC 9111 §5.1) and ours. */
export function serveEntry(res: ServerResponse, entry: CachedEntry, outcome: 'hit' | 'stale', requestId: string, cache: ReadCache, head: boolean): void {
  const headers = entry.head.slice()
  headers.push('age', String(cache.age(entry)), 'x-cutover-cache', outcome, 'x-cutover-backend', entry.backend, 'x-request-id', requestId)
  res.writeHead(entry.status, headers)
  res.end(head ? undefined : entry.body)
}
