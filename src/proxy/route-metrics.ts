import type { Counter, Histogram } from 'prom-client'
import type { HotCount, Metrics } from '../metrics/metrics.ts'
import type { RouteGuard } from '../resilience/guard.ts'
import type { UpstreamErrorReason } from './upstream-error.ts'

/**
 * Metric children for one (route, backend) pair, resolved once so the hot path does no label
 * lookups: prom-client hashes label values on every `labels()` call. The request counts are
 * HotCounts (summed here, added to prom-client at scrape); the latency histogram's bound child
 * still hashes its label set on each observe (prom-client has no bulk observe to defer it to).
 */
export class RouteMetrics {
  readonly #route: string
  readonly #backend: string
  readonly #metrics: Metrics
  readonly #duration: Histogram.Internal<'route' | 'backend'>
  readonly #codes = new Map<number, HotCount>()
  readonly #upstreamErrors: Counter<'route' | 'backend' | 'reason'>
  readonly #reasons = new Map<UpstreamErrorReason, Counter.Internal>()
  /** the route's guard, when it has one and this is legacy or cloud */
  readonly #guard: RouteGuard | null

  constructor(metrics: Metrics, route: string, backend: string, guard: RouteGuard | null = null) {
    this.#route = route
    this.#backend = backend
    this.#metrics = metrics
    this.#duration = metrics.duration.labels(route, backend)
    this.#upstreamErrors = metrics.upstreamErrors
    this.#guard = backend === 'legacy' || backend === 'cloud' ? guard : null
  }

  /** `at`: the performance.now() the duration was taken from (saves the guard a clock read). */
  record(status: number, seconds: number, at?: number): void {
    // 499: the client left; that says nothing about the backend
    if (this.#guard !== null && status !== 499) this.#guard.recordResponse(this.#backend as 'legacy' | 'cloud', status, seconds * 1000, at)
    this.#count(status, seconds)
  }

  /**
   * An answer the client got on this backend's behalf that the backend did not give now (a cache
   * hit, or a stale copy served because it failed): counted for the client, not fed to the guard,
   * which judges what the backend itself did.
   */
  recordServed(status: number, seconds: number): void {
    this.#count(status, seconds)
  }

  #count(status: number, seconds: number): void {
    let child = this.#codes.get(status)
    if (child === undefined) {
      child = this.#metrics.hotCount('requests', [this.#route, this.#backend, String(status)])
      this.#codes.set(status, child)
    }
    child.inc()
    this.#duration.observe(seconds)
  }

  /**
   * The backend failed this exchange (transport error, deadline, 5xx answer), whether or not the
   * client saw it. `hidden`: the client got an answer from elsewhere (failover, stale-if-error), so
   * no record() carries this failure to the guard: it is counted as a 502 from this backend here,
   * taking `seconds` (until the failure) as its latency.
   */
  upstreamError(reason: UpstreamErrorReason, hidden: boolean, seconds = 0, at?: number): void {
    let child = this.#reasons.get(reason)
    if (child === undefined) {
      child = this.#upstreamErrors.labels(this.#route, this.#backend, reason)
      this.#reasons.set(reason, child)
    }
    child.inc()
    if (hidden && this.#guard !== null) this.#guard.recordResponse(this.#backend as 'legacy' | 'cloud', 502, seconds * 1000, at)
  }
}

/** Every (route, backend) pair's children, built at start. */
export class MetricsTable {
  /** route → backend → children: two Map lookups per request, no key string built */
  readonly #byRoute = new Map<string, Map<string, RouteMetrics>>()
  readonly #metrics: Metrics

  constructor(metrics: Metrics, routes: readonly string[], backends: readonly string[], guards?: { get(route: string): RouteGuard | undefined }) {
    this.#metrics = metrics
    for (const r of routes) {
      const byBackend = new Map<string, RouteMetrics>()
      for (const b of backends) byBackend.set(b, new RouteMetrics(metrics, r, b, guards?.get(r) ?? null))
      this.#byRoute.set(r, byBackend)
    }
  }

  get(route: string, backend: string): RouteMetrics {
    let byBackend = this.#byRoute.get(route)
    if (byBackend === undefined) this.#byRoute.set(route, (byBackend = new Map()))
    let m = byBackend.get(backend)
    if (m === undefined) byBackend.set(backend, (m = new RouteMetrics(this.#metrics, route, backend)))
    return m
  }
}
