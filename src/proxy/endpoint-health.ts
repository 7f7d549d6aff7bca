import { Counter, Gauge, type Registry } from 'prom-client'

export interface HealthOptions {
  /** consecutive connection failures that eject an endpoint */
  readonly failures: number
  /** how long an ejected endpoint gets no traffic before one request probes it */
  readonly ejectMs: number
}

/**
 * What one attempt on an endpoint came to: `response` (a status line arrived), `failed` (a
 * connection failure: refused, connect timeout, or reset before any response byte; counts toward
 * ejection), `error` (anything else before a response, e.g. a headers timeout or an abort: the
 * endpoint answered the connection, so it is neither healthier nor sicker for it).
 */
export type AttemptOutcome = 'response' | 'failed' | 'error'

/** Backoff cap: a probe that fails again ejects for at most this many times `ejectMs`. */
export const MAX_EJECT_FACTOR = 8

/** One endpoint's passive health. */
export class Endpoint {
  readonly origin: string
  readonly index: number
  /** consecutive connection failures since the last response */
  failures = 0
  /** consecutive ejections (a failed probe adds one): the backoff exponent */
  ejections = 0
  /** 0 while healthy; otherwise the time (ms since epoch) from which one probe may go */
  ejectedUntil = 0
  /** a probe is in flight: no other request goes here until it settles */
  probing = false

  constructor(origin: string, index: number) {
    this.origin = origin
    this.index = index
  }

  get healthy(): boolean {
    return this.ejectedUntil === 0
  }
}

interface EndpointMetrics {
  readonly requests: Counter<'backend' | 'endpoint' | 'outcome'>
  readonly healthy: Gauge<'backend' | 'endpoint'>
}

/** One registry holds both metrics, whichever backend registers first creates them. */
function endpointMetrics(registry: Registry): EndpointMetrics {
  const requests =
    (registry.getSingleMetric('cutover_endpoint_requests_total') as Counter<'backend' | 'endpoint' | 'outcome'> | undefined) ??
    new Counter({
      name: 'cutover_endpoint_requests_total',
      help: 'Attempts on each endpoint of a backend with several urls, by outcome: response, failed (refused, connect timeout, reset before any response byte), error (other, e.g. headers timeout)',
      labelNames: ['backend', 'endpoint', 'outcome'],
      registers: [registry],
    })
  const healthy =
    (registry.getSingleMetric('cutover_endpoint_healthy') as Gauge<'backend' | 'endpoint'> | undefined) ??
    new Gauge({
      name: 'cutover_endpoint_healthy',
      help: '1 while an endpoint takes traffic, 0 while it is ejected after consecutive connection failures',
      labelNames: ['backend', 'endpoint'],
      registers: [registry],
      // cluster mode: an endpoint counts as healthy only if every worker sees it so
      aggregator: 'min',
    })
  return { requests, healthy }
}

/**
 * The passive health of a backend's endpoints, shared by its client and mirror pools so that a
 * dead endpoint found by either is skipped by both. Healthy → (failures in a row) → ejected →
 * (ejection time passed) → one probe → healthy on a response, ejected again for twice as long on
 * a connection failure.
 */
export class EndpointHealth {
  readonly backend: string
  readonly endpoints: readonly Endpoint[]
  readonly #options: HealthOptions
  readonly #now: () => number
  /** cutover_endpoint_requests_total children, by endpoint index then outcome: bound once, not per attempt */
  readonly #requests: readonly Readonly<Record<AttemptOutcome, Counter.Internal>>[] | null
  readonly #healthy: Gauge<'backend' | 'endpoint'> | null

  constructor(backend: string, origins: readonly string[], options: HealthOptions, registry: Registry | null, now: () => number = Date.now) {
    this.backend = backend
    this.endpoints = origins.map((o, i) => new Endpoint(o, i))
    this.#options = options
    this.#now = now
    const metrics = registry === null ? null : endpointMetrics(registry)
    this.#healthy = metrics?.healthy ?? null
    for (const e of this.endpoints) this.#healthy?.labels(backend, e.origin).set(1)
    const requests = metrics?.requests ?? null
    this.#requests =
      requests === null
        ? null
        : this.endpoints.map((e) => ({
            response: requests.labels(backend, e.origin, 'response'),
            failed: requests.labels(backend, e.origin, 'failed'),
            error: requests.labels(backend, e.origin, 'error'),
          }))
  }

  /**
   * Whether `e` may take the next request: healthy, or due for its probe (which this call then
   * claims, so exactly one request probes).
   */
  admit(e: Endpoint): boolean {
    if (e.healthy) return true
    if (e.probing || this.#now() < e.ejectedUntil) return false
    e.probing = true
    return true
  }

  /** Settles one attempt; `probe` is what admit() claimed for it. */
  settle(e: Endpoint, outcome: AttemptOutcome, probe: boolean): void {
    this.#requests?.[e.index]?.[outcome].inc()
    if (probe) e.probing = false
    if (outcome === 'response') {
      e.failures = 0
      if (!e.healthy) {
        e.ejectedUntil = 0
        e.ejections = 0
        this.#healthy?.labels(this.backend, e.origin).set(1)
      }
      return
    }
    if (outcome !== 'failed') return
    e.failures++
    if (probe) this.#eject(e)
    else if (e.healthy && e.failures >= this.#options.failures) this.#eject(e)
  }

  #eject(e: Endpoint): void {
    e.ejections++
    const factor = Math.min(MAX_EJECT_FACTOR, 2 ** (e.ejections - 1))
    e.ejectedUntil = this.#now() + this.#options.ejectMs * factor
    this.#healthy?.labels(this.backend, e.origin).set(0)
  }
}
