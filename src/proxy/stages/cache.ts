import { compileCachePolicies, type CachedEntry, type CachePolicy, type ReadCache } from '../../cache/read-cache.ts'
import type { RouteConfig } from '../../config/schema.ts'
import type { Metrics } from '../../metrics/metrics.ts'
import type { MetricsTable } from '../route-metrics.ts'
import { CacheTap, serveEntry, CacheCounters } from './cache-tap.ts'
import { SAFE_METHODS, type ProxyRequest } from './request.ts'

/** Where the cache stage hands a request that must go to its backend. */
export interface Forward {
  forward(r: ProxyRequest): void
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
