import CircuitBreaker from 'opossum'
import type { Gauge } from 'prom-client'
import type { Logger } from 'pino'
import type { BackendConfig } from '../config/schema.ts'

export type BreakerState = 'closed' | 'half-open' | 'open'

const STATE_VALUE: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2 }

/** What a breaker needs to know about one call's outcome. */
export interface BreakerTicket {
  /** The backend answered below 500. */
  success(): void
  /** The backend failed: transport error, timeout, or 5xx. */
  failure(err: Error): void
  /** The call said nothing about the backend (the client went away). */
  release(): void
}

const NOOP_TICKET: BreakerTicket = { success() {}, failure() {}, release() {} }

/**
 * One circuit breaker per backend, built at start (opossum). The data plane streams, so the
 * breaker does not wrap a function call: each request takes a ticket, and the exchange settles
 * it when the backend's answer (or failure) is known. Settings that keep the failure path cheap:
 * no opossum timeout (it does not cancel the call; undici owns time), no rolling percentiles
 * (opossum sorts the whole window on every failure; prom-client histograms do that job), no
 * snapshots.
 */
export class BackendBreaker {
  readonly name: string
  readonly #breaker: CircuitBreaker<[Promise<void>], void>

  constructor(name: string, config: NonNullable<BackendConfig['breaker']>, gauge: Gauge<'backend'>, log: Logger) {
    this.name = name
    this.#breaker = new CircuitBreaker((outcome: Promise<void>) => outcome, {
      name,
      timeout: false,
      errorThresholdPercentage: config.errorThresholdPercentage,
      volumeThreshold: config.volumeThreshold,
      resetTimeout: config.resetTimeoutMs,
      rollingCountTimeout: config.rollingCountTimeoutMs,
      rollingCountBuckets: 10,
      rollingPercentilesEnabled: false,
      enableSnapshots: false,
    })
    const child = gauge.labels(name)
    child.set(0)
    const on = (state: BreakerState) => () => {
      child.set(STATE_VALUE[state])
      log.warn({ backend: name, state }, `breaker ${name} ${state}`)
    }
    this.#breaker.on('open', on('open'))
    this.#breaker.on('halfOpen', on('half-open'))
    this.#breaker.on('close', on('closed'))
  }

  get state(): BreakerState {
    return this.#breaker.opened ? 'open' : this.#breaker.halfOpen ? 'half-open' : 'closed'
  }

  /**
   * True when a call may go to this backend now: closed, or half-open with no probe in flight
   * (opossum lets exactly one probe through, then closes or re-opens on its outcome).
   */
  allows(): boolean {
    return this.#breaker.closed || this.#breaker.pendingClose
  }

  /** Starts a call through the breaker; settle the ticket exactly once. */
  ticket(): BreakerTicket {
    let settle: BreakerTicket = NOOP_TICKET
    const outcome = new Promise<void>((resolve, reject) => {
      settle = { success: resolve, failure: reject, release: resolve }
    })
    // the breaker's own promise (rejected when it refuses the call) is only for its accounting
    this.#breaker.fire(outcome).catch(() => undefined)
    return settle
  }

  shutdown(): void {
    this.#breaker.shutdown()
  }
}

export function createBreakers(backends: Readonly<Record<string, BackendConfig>>, gauge: Gauge<'backend'>, log: Logger): Map<string, BackendBreaker> {
  const out = new Map<string, BackendBreaker>()
  for (const [name, cfg] of Object.entries(backends)) {
    if (cfg.breaker !== undefined) out.set(name, new BackendBreaker(name, cfg.breaker, gauge, log))
  }
  return out
}
