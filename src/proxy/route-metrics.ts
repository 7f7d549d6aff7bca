import type { Counter, Histogram } from 'prom-client'
import type { Metrics } from '../metrics/metrics.ts'
import type { RouteGuard } from '../resilience/guard.ts'

/**
 * Metric children for one (route, backend) pair, resolved once so the hot path does no label
 * lookups: prom-client hashes label values on every `labels()` call.
 */
export class RouteMetrics {
  readonly #route: string
  readonly #backend: string
  readonly #counter: Counter<'route' | 'backend' | 'code'>
  readonly #duration: Histogram.Internal<'route' | 'backend'>
  readonly #codes = new Map<number, Counter.Internal>()
  /** the route's guard, when it has one and this is legacy or cloud */
  readonly #guard: RouteGuard | null

  constructor(metrics: Metrics, route: string, backend: string, guard: RouteGuard | null = null) {
    this.#route = route
    this.#backend = backend
    this.#counter = metrics.requests
    this.#duration = metrics.duration.labels(route, backend)
    this.#guard = backend === 'legacy' || backend === 'cloud' ? guard : null
  }

  /** `at`: the performance.now() the duration was taken from (saves the guard a clock read). */
  record(status: number, seconds: number, at?: number): void {
    // 499: the client left; that says nothing about the backend
    if (this.#guard !== null && status !== 499) this.#guard.recordResponse(this.#backend as 'legacy' | 'cloud', status, seconds * 1000, at)
    let child = this.#codes.get(status)
    if (child === undefined) {
      child = this.#counter.labels(this.#route, this.#backend, String(status))
      this.#codes.set(status, child)
    }
    child.inc()
    this.#duration.observe(seconds)
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
