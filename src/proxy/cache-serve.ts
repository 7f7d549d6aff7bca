import type { ServerResponse } from 'node:http'
import type { Counter } from 'prom-client'
import type { CachedEntry, CacheLookup, LeaderFill, ReadCache } from '../cache/read-cache.ts'
import type { BodyCollector } from '../compare/captured-response.ts'
import type { Metrics } from '../metrics/metrics.ts'

export type CacheOutcome = 'hit' | 'miss' | 'stale' | 'bypass'

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

/** A cache miss being filled: the exchange collects the answer and completes the fill. */
export interface CacheTap {
  readonly cache: ReadCache
  readonly lookup: CacheLookup
  /** null for a follower whose leader brought nothing back: it may still serve stale */
  readonly fill: LeaderFill<CachedEntry> | null
  readonly collector: BodyCollector
  readonly counters: CacheCounters
}

/** Answers from the cache: stored status, headers and body, plus Age (RFC 9111 §5.1) and ours. */
export function serveEntry(res: ServerResponse, entry: CachedEntry, outcome: 'hit' | 'stale', requestId: string, cache: ReadCache, head: boolean): void {
  const headers: Record<string, string | string[] | number | undefined> = { ...entry.headers }
  headers.age = String(Math.floor(cache.age(entry) / 1000))
  headers['x-cutover-cache'] = outcome
  headers['x-cutover-backend'] = entry.backend
  headers['x-request-id'] = requestId
  res.writeHead(entry.status, headers)
  res.end(head ? undefined : entry.body)
}
