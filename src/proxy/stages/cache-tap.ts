import type { IncomingHttpHeaders, ServerResponse } from 'node:http'
import type { CachedEntry, CacheLookup, LeaderFill, ReadCache } from '../../cache/read-cache.ts'
import { BodyCollector } from '../../compare/captured-response.ts'
import type { HotCount, Metrics } from '../../metrics/metrics.ts'
import type { RouteMetrics } from '../route-metrics.ts'

/** `cutover_cache_total` children for one route, resolved at start. */
export class CacheCounters {
  readonly hit: HotCount
  readonly miss: HotCount
  readonly stale: HotCount
  readonly bypass: HotCount

  constructor(metrics: Metrics, route: string) {
    this.hit = metrics.hotCount('cache', [route, 'hit'])
    this.miss = metrics.hotCount('cache', [route, 'miss'])
    this.stale = metrics.hotCount('cache', [route, 'stale'])
    this.bypass = metrics.hotCount('cache', [route, 'bypass'])
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
