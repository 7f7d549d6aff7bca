import { MetricSample, type MetricFamily } from './metric-sample.ts'
import { backendFacts } from './readiness-service.ts'

export const SERIES_INTERVAL_MS = 60_000
/** An hour of one-minute points. */
export const SERIES_POINTS = 60

export interface SeriesPoint {
  /** end of the interval, ms since the epoch */
  readonly t: number
  readonly legacy: { readonly requests: number; readonly errorRate: number | null; readonly p99Ms: number | null }
  readonly cloud: { readonly requests: number; readonly errorRate: number | null; readonly p99Ms: number | null }
}

export interface SeriesOptions {
  readonly intervalMs?: number
  readonly points?: number
  readonly now?: () => number
}

/**
 * Requests, error rate and p99 per backend and route over the last hour, for the console's
 * charts: the metrics are read every interval and each point is the difference from the one
 * before (histogram buckets subtract too, so a point's p99 is that minute's). The last point is
 * the interval still running, computed when asked.
 */
export class RouteSeries {
  readonly #metrics: () => Promise<readonly (readonly MetricFamily[])[]>
  readonly #interval: number
  readonly #max: number
  readonly #now: () => number
  /** samples, oldest first: one more than points, so that the oldest point has a start */
  readonly #samples: { t: number; m: MetricSample }[] = []
  #timer: NodeJS.Timeout | null = null

  constructor(metrics: () => Promise<readonly (readonly MetricFamily[])[]>, options: SeriesOptions = {}) {
    this.#metrics = metrics
    this.#interval = options.intervalMs ?? SERIES_INTERVAL_MS
    this.#max = options.points ?? SERIES_POINTS
    this.#now = options.now ?? Date.now
  }

  get intervalMs(): number {
    return this.#interval
  }

  start(): void {
    if (this.#timer !== null) return
    void this.#sample()
    this.#timer = setInterval(() => void this.#sample(), this.#interval)
    // the charts never keep the process alive
    this.#timer.unref()
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer)
    this.#timer = null
  }

  async #sample(): Promise<void> {
    try {
      const m = MetricSample.merge(await this.#metrics())
      this.#samples.push({ t: this.#now(), m })
      if (this.#samples.length > this.#max + 1) this.#samples.shift()
    } catch {
      // a missed sample leaves a wider point; the next one catches up
    }
  }

  /** The route's points, oldest first, the running interval last. */
  async points(route: string): Promise<SeriesPoint[]> {
    const now = { t: this.#now(), m: MetricSample.merge(await this.#metrics()) }
    const all = [...this.#samples, now]
    const out: SeriesPoint[] = []
    for (let i = 1; i < all.length; i++) {
      const prev = all[i - 1] as { t: number; m: MetricSample }
      const cur = all[i] as { t: number; m: MetricSample }
      const d = cur.m.minus(prev.m)
      const side = (backend: string) => {
        const f = backendFacts(d, route, backend)
        return { requests: f.requests, errorRate: f.errorRate, p99Ms: f.p99Ms }
      }
      out.push({ t: cur.t, legacy: side('legacy'), cloud: side('cloud') })
    }
    return out
  }
}
