import { Counter, Gauge, Histogram, collectDefaultMetrics, type Registry } from 'prom-client'

/** Histogram buckets for proxied latency: sub-millisecond for the loopback case up to timeouts. */
export const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

export interface Metrics {
  readonly registry: Registry
  readonly requests: Counter<'route' | 'backend' | 'code'>
  readonly duration: Histogram<'route' | 'backend'>
  readonly routeWeight: Gauge<'route'>
  readonly mirror: Counter<'route' | 'outcome'>
  readonly noiseDifferences: Counter<'route'>
  readonly publish: Counter<'topic' | 'outcome'>
  readonly publishBacklog: Gauge
  readonly noiseFields: Gauge<'route'>
  readonly breakerState: Gauge<'backend'>
  readonly cache: Counter<'route' | 'result'>
  readonly guardTrips: Counter<'route'>
  readonly upstreamErrors: Counter<'route' | 'backend' | 'reason'>
  readonly upgrades: Counter<'route' | 'backend' | 'outcome'>
  readonly upgradesOpen: Gauge<'route'>
  readonly idTranslations: Counter<'route' | 'result'>
  /** Where cutover_publish_backlog reads its value at scrape time. */
  setBacklogSource(fn: () => number): void
  /**
   * A child of `requests` or `cache` for the request path, bound once (at start, or the first time
   * a label set is seen): see HotCount.
   */
  hotCount(counter: 'requests' | 'cache', labels: readonly string[]): HotCount
}

/**
 * A counter child the request path increments: increments are summed in a plain number and added
 * to the prom-client child when the counter is collected (every scrape and every `get()`), so a
 * request pays an addition instead of prom-client's label hashing and validation on each `inc()`.
 * What the registry reports is exact: nothing reads a counter without collecting it first.
 */
export class HotCount {
  readonly #child: Counter.Internal
  #pending = 0

  constructor(child: Counter.Internal) {
    this.#child = child
  }

  inc(): void {
    this.#pending++
  }

  flush(): void {
    if (this.#pending === 0) return
    this.#child.inc(this.#pending)
    this.#pending = 0
  }
}

/** Metric definitions, registered on the injected registry. Names are part of the public surface. */
export function createMetrics(registry: Registry, options: { processMetrics?: boolean } = {}): Metrics {
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry })
  let backlog: () => number = () => 0
  const hot = { requests: [] as HotCount[], cache: [] as HotCount[] }
  const flush = (counts: readonly HotCount[]): void => {
    for (const c of counts) c.flush()
  }
  const metrics: Metrics = {
    setBacklogSource(fn) {
      backlog = fn
    },
    hotCount(counter, labels) {
      const count = new HotCount(metrics[counter].labels(...labels))
      hot[counter].push(count)
      return count
    },
    registry,
    requests: new Counter({
      name: 'cutover_requests_total',
      help: 'Client requests answered, by route, serving backend and status code',
      labelNames: ['route', 'backend', 'code'],
      registers: [registry],
      collect() {
        flush(hot.requests)
      },
    }),
    duration: new Histogram({
      name: 'cutover_request_duration_seconds',
      help: 'Time from request arrival to the last byte of the answer, by route and serving backend',
      labelNames: ['route', 'backend'],
      buckets: DURATION_BUCKETS,
      registers: [registry],
    }),
    routeWeight: new Gauge({
      name: 'cutover_route_weight',
      help: 'Current weight of each route: the share (0-100) of requests for which cloud is primary',
      labelNames: ['route'],
      registers: [registry],
      // cluster mode: every worker holds the same weight, so report it once rather than summed
      aggregator: 'max',
    }),
    mirror: new Counter({
      name: 'cutover_mirror_total',
      help: 'Mirrored exchanges by outcome: match, noise (differed only in learned noise), mismatch, error, timeout, skipped',
      labelNames: ['route', 'outcome'],
      registers: [registry],
    }),
    publish: new Counter({
      name: 'cutover_publish_total',
      help: 'Events handed to the publisher by topic and outcome: sent (to Kafka), spooled (to disk), dropped (spool full)',
      labelNames: ['topic', 'outcome'],
      registers: [registry],
    }),
    publishBacklog: new Gauge({
      name: 'cutover_publish_backlog',
      help: 'Events waiting to be published: in the memory queue plus in the spool',
      registers: [registry],
      collect() {
        this.set(backlog())
      },
    }),
    breakerState: new Gauge({
      name: 'cutover_breaker_state',
      help: 'Circuit breaker state per backend: 0 closed, 1 half-open, 2 open',
      labelNames: ['backend'],
      registers: [registry],
      // cluster mode: the worst state any worker sees
      aggregator: 'max',
    }),
    cache: new Counter({
      name: 'cutover_cache_total',
      help: 'Read cache lookups by route and result: hit, miss, stale, bypass',
      labelNames: ['route', 'result'],
      registers: [registry],
      collect() {
        flush(hot.cache)
      },
    }),
    guardTrips: new Counter({
      name: 'cutover_guard_trips_total',
      help: 'Times a route guard set the weight back because cloud breached an SLO',
      labelNames: ['route'],
      registers: [registry],
    }),
    noiseDifferences: new Counter({
      name: 'cutover_noise_differences_total',
      help: 'Differences hidden by learned noise fields per route (counted, never reported as mismatches)',
      labelNames: ['route'],
      registers: [registry],
    }),
    upstreamErrors: new Counter({
      name: 'cutover_upstream_errors_total',
      help: 'Backend failures on the client path by route, backend and reason, including those failover or stale-if-error hid from the client',
      labelNames: ['route', 'backend', 'reason'],
      registers: [registry],
    }),
    idTranslations: new Counter({
      name: 'cutover_id_translations_total',
      help: 'Ids in mirrored requests (path parameters, body fields) looked up in the id map: hit (sent as the other side\'s id) or miss (sent unchanged)',
      labelNames: ['route', 'result'],
      registers: [registry],
    }),
    upgrades: new Counter({
      name: 'cutover_upgrades_total',
      help: 'WebSocket upgrade requests by route, backend and outcome: upgraded (101), refused (the backend did not switch), error',
      labelNames: ['route', 'backend', 'outcome'],
      registers: [registry],
    }),
    upgradesOpen: new Gauge({
      name: 'cutover_upgrades_open',
      help: 'WebSocket tunnels open now, by route',
      labelNames: ['route'],
      registers: [registry],
    }),
    noiseFields: new Gauge({
      name: 'cutover_noise_fields',
      help: 'Fields learned as noise (differ between two calls to the same backend) per route',
      labelNames: ['route'],
      registers: [registry],
      aggregator: 'max',
    }),
  }
  return metrics
}

export interface RouteStats {
  requests: Record<string, number>
  errors: number
  /** backend → failures it had on this route, also those the client never saw (failover, stale) */
  upstreamErrors: Record<string, number>
}

/**
 * Per-route request counts from this process's counters:
 * `{ requests: { legacy, cloud }, errors, upstreamErrors: { legacy, cloud } }`.
 */
export async function routeStats(metrics: Metrics): Promise<Record<string, RouteStats>> {
  const out: Record<string, RouteStats> = {}
  const { values } = await metrics.requests.get()
  for (const v of values) {
    const route = String(v.labels.route)
    const backend = String(v.labels.backend)
    const stats = (out[route] ??= { requests: {}, errors: 0, upstreamErrors: {} })
    stats.requests[backend] = (stats.requests[backend] ?? 0) + v.value
    if (Number(v.labels.code) >= 500) stats.errors += v.value
  }
  for (const v of (await metrics.upstreamErrors.get()).values) {
    const backend = String(v.labels.backend)
    const stats = (out[String(v.labels.route)] ??= { requests: {}, errors: 0, upstreamErrors: {} })
    stats.upstreamErrors[backend] = (stats.upstreamErrors[backend] ?? 0) + v.value
  }
  return out
}

export function mergeRouteStats(parts: readonly Record<string, RouteStats>[]): Record<string, RouteStats> {
  const out: Record<string, RouteStats> = {}
  for (const part of parts) {
    for (const [route, s] of Object.entries(part)) {
      const into = (out[route] ??= { requests: {}, errors: 0, upstreamErrors: {} })
      for (const [b, n] of Object.entries(s.requests)) into.requests[b] = (into.requests[b] ?? 0) + n
      into.errors += s.errors
      for (const [b, n] of Object.entries(s.upstreamErrors ?? {})) into.upstreamErrors[b] = (into.upstreamErrors[b] ?? 0) + n
    }
  }
  return out
}
