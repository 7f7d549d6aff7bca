import type { Logger } from 'pino'
import type { CutoverConfig } from '../config/schema.ts'
import type { RouteState } from '../control/route-state.ts'
import type { Metrics } from '../metrics/metrics.ts'
import { RouteGuard, type GuardSnapshot, type GuardStatus, type GuardVerdict } from './guard.ts'

/** How often a data-plane process checks its guards. */
export const GUARD_CHECK_MS = 1000

export interface GuardTrip {
  readonly route: string
  readonly verdict: Extract<GuardVerdict, { breached: true }>
  readonly from: number
  readonly to: number
}

/**
 * The guards of one data-plane process: one RouteGuard per route that configures `guard`, fed by
 * the request path (RouteMetrics, Mirror) and checked on a timer, never per request. A breach with
 * the weight above the route's safe weight is a trip: the `onTrip` callback sets the weight back
 * (directly, or through the cluster primary), and the guard starts a fresh window.
 */
export class GuardSet {
  readonly #guards = new Map<string, RouteGuard>()
  readonly #states: ReadonlyMap<string, RouteState>
  readonly #metrics: Metrics
  readonly #log: Logger
  #onTrip: (trip: GuardTrip) => void = () => undefined
  #timer: NodeJS.Timeout | null = null

  constructor(config: CutoverConfig, states: ReadonlyMap<string, RouteState>, metrics: Metrics, log: Logger) {
    this.#states = states
    this.#metrics = metrics
    this.#log = log
    for (const route of config.routes) {
      if (route.guard === undefined) continue
      this.#guards.set(route.id, new RouteGuard(route.guard))
      metrics.guardTrips.labels(route.id)
    }
  }

  get(route: string): RouteGuard | undefined {
    return this.#guards.get(route)
  }

  /** Starts the periodic check; trips go to `onTrip`. */
  start(onTrip: (trip: GuardTrip) => void): void {
    this.#onTrip = onTrip
    this.#timer ??= setInterval(() => this.checkNow(), GUARD_CHECK_MS)
    this.#timer.unref()
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer)
    this.#timer = null
  }

  /** One round of checks (the timer's work; tests call it to avoid waiting). */
  checkNow(): GuardTrip[] {
    const trips: GuardTrip[] = []
    for (const [route, guard] of this.#guards) {
      const verdict = guard.check()
      if (!verdict.breached) continue
      guard.reset()
      const weight = this.#states.get(route)?.weight ?? 0
      const to = guard.config.safeWeight
      // a breach at or below the safe weight (a shadow route at 0) has nothing to roll back
      if (weight <= to) continue
      const trip: GuardTrip = { route, verdict, from: weight, to }
      this.#metrics.guardTrips.labels(route).inc()
      this.#log.warn({ route, reason: verdict.reason, value: verdict.value, threshold: verdict.threshold, from: weight, to }, `guard tripped on ${route}: ${verdict.reason}`)
      trips.push(trip)
      this.#onTrip(trip)
    }
    return trips
  }

  status(route: string): GuardStatus | undefined {
    return this.#guards.get(route)?.check().status
  }

  snapshots(): Record<string, GuardSnapshot> {
    const out: Record<string, GuardSnapshot> = {}
    for (const [route, guard] of this.#guards) out[route] = guard.snapshot()
    return out
  }
}

/** 'breached' beats 'insufficient-data' beats 'green': the ramp moves only when all agree. */
export function worstStatus(statuses: readonly (GuardStatus | undefined)[]): GuardStatus {
  if (statuses.includes('breached')) return 'breached'
  if (statuses.includes('insufficient-data')) return 'insufficient-data'
  return 'green'
}
