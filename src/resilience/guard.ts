/**
 * RouteGuard: one route's cloud SLO over a sliding window (docs/guards.md).
 *
 * API
 *   const guard = new RouteGuard(route.guard)          // config: see GuardConfig (schema.ts)
 *   guard.recordResponse('cloud', 502, 12.5, end)       // hot path: O(1), allocation-free
 *   guard.recordMirror('mismatch')                      // mirror outcome for the route
 *   const v = guard.check()                             // GuardVerdict, O(histogram slots)
 *   if (v.breached) { setWeight(guard.config.safeWeight, …); guard.reset(); ramp?.onRollback(…) }
 *   guard.snapshot()                                    // GuardSnapshot, for the admin API
 *
 * What to feed it
 * - recordResponse: every answer a backend gave on this route, with the status the client saw
 *   (gateway-made 502/503/504 included) and the time to that answer. Status >= 500 is an error.
 *   Latency is recorded for errors too: it is what the client lived through (a fast 503 from an
 *   open breaker lowers p99, but the error-rate rule sees it). A failure the client never saw
 *   (failover to the other side, a stale cached copy) is fed as a 502 from the backend that
 *   failed, and the failover's answer as the other side's: the guard judges what cloud did, not
 *   what the client finally got (RouteMetrics.upstreamError). Cache hits are not fed.
 * - recordMirror: the mirror's MirrorOutcome for the route. `error` and `timeout` count as
 *   mismatches: the secondary failed to give the primary's answer, and for a write that means
 *   the two stores now differ, which is what the mismatch SLO exists to catch. Leaving them out
 *   would make the guard go blind exactly when cloud is worst (every mirrored call failing reads
 *   as 0 % mismatch with too little data). `skipped` is our own back-pressure and says nothing
 *   about either backend, so it is ignored. When the secondary is legacy (weight 100), the caller
 *   should pass `skipped` for a failure, since it is not cloud's fault.
 *
 * Rules (a threshold left out turns its rule off; comparisons are strict `>`), in this order:
 *   error-rate     cloud errors ÷ cloud requests > maxErrorRate, once cloud has >= minRequests
 *   mismatch-rate  mismatches ÷ compared > maxMismatchRate, once compared >= minRequests
 *   latency-ratio  cloud p99 ÷ legacy p99 > maxLatencyRatio, once both have >= minRequests
 * An enabled rule without enough data is `pending`; the verdict is `green` only when no enabled
 * rule is pending, `insufficient-data` otherwise. A breach stays a breach until the window moves
 * past it or reset() is called: call reset() after acting on a trip, so one bad minute trips once.
 *
 * Window: a ring of `buckets` (default 20) slices of windowMs / buckets, rotated lazily when a
 * call notices the clock has moved past the current slice (no timer). A sample counts for
 * between windowMs − windowMs/buckets and windowMs. Running totals are kept alongside the ring
 * (added on record, subtracted when a slice expires), so check() never sums the ring.
 *
 * Latency histogram: HdrHistogram-style log-linear slots over integer microseconds, 16 linear
 * sub-slots per power of two (each slot is at most 1/16 of its lower bound wide; reporting the
 * slot midpoint puts p99 within ±3.2 % of the exact nearest-rank value for latencies >= 16 µs,
 * ±0.5 µs below). 384 slots cover 0 to 2^27 µs (134 s); anything longer is clamped into the last
 * slot. Memory: (2 × 384 + 7) × 4 B per slice → about 62 KB per route with 20 slices.
 *
 * Clock: `now` defaults to performance.now (monotonic, so NTP steps do not expire a window).
 * Reading a clock is most of the cost of a record (Node 20, 2 vCPU VM, 10 M calls: recordResponse
 * 13 ns with `at`, 65–75 ns without; performance.now() also boxes its result, ≈40 scavenges per
 * 10 M reads, while the guard itself allocates nothing), so both record methods take an optional
 * `at`: pass the performance.now() reading you computed latencyMs from and no clock is read.
 * `at` must come from the same clock as `now` (an out-of-order `at` lands in the newest slice).
 */
import type { RouteConfig } from '../config/schema.ts'

export type GuardConfig = NonNullable<RouteConfig['guard']>
export type GuardBackend = 'legacy' | 'cloud'
export type GuardRule = 'error-rate' | 'mismatch-rate' | 'latency-ratio'
export type GuardStatus = 'green' | 'insufficient-data' | 'breached'
/**
 * How a mirrored exchange of the route ended, as the guard counts it: the mirror's MirrorOutcome
 * (src/mirror/mirror.ts), spelled here so that the guard does not import the mirror that imports it.
 */
export type GuardMirrorOutcome = 'match' | 'noise' | 'mismatch' | 'error' | 'timeout' | 'skipped'

export type GuardVerdict =
  | {
      readonly breached: false
      readonly status: 'green' | 'insufficient-data'
      /** cloud requests in the window */
      readonly requests: number
      /** enabled rules that lacked data this time (empty when green) */
      readonly pending: readonly GuardRule[]
    }
  | {
      readonly breached: true
      readonly status: 'breached'
      readonly reason: GuardRule
      /** the measured rate or ratio */
      readonly value: number
      readonly threshold: number
      /** the rule's denominator: cloud requests, or compared exchanges for mismatch-rate */
      readonly requests: number
    }

export interface GuardBackendSnapshot {
  readonly requests: number
  readonly errors: number
  /** null when there were no requests */
  readonly errorRate: number | null
  /** nearest-rank p99 estimate in ms (slot midpoint); null when there were no requests */
  readonly p99Ms: number | null
}

export interface GuardSnapshot {
  readonly windowMs: number
  readonly cloud: GuardBackendSnapshot
  readonly legacy: GuardBackendSnapshot
  /** mirrored exchanges that count for the mismatch rule (match + mismatch + error + timeout) */
  readonly compared: number
  /** mismatches, including mirrorFailures */
  readonly mismatches: number
  /** the part of `mismatches` that were secondary errors or timeouts */
  readonly mirrorFailures: number
  /** null when nothing was compared */
  readonly mismatchRate: number | null
  readonly status: GuardStatus
  /** the rules that lack data (status 'insufficient-data') */
  readonly pending: readonly GuardRule[]
  /** set when status is 'breached' */
  readonly breach?: { readonly reason: GuardRule; readonly value: number; readonly threshold: number }
}

export interface GuardOptions {
  /** ring slices covering windowMs (default 20) */
  readonly buckets?: number
  /** clock in ms (default performance.now); tests pass a fake */
  readonly now?: () => number
}

export const DEFAULT_GUARD_BUCKETS = 20

// counters per slice (and in the running totals)
const CLOUD_REQ = 0
const CLOUD_ERR = 1
const LEGACY_REQ = 2
const LEGACY_ERR = 3 // each *_ERR sits right after its *_REQ: recordResponse relies on it
const MATCH = 4
const MISMATCH = 5
const MIRROR_FAIL = 6
const FIELDS = 7

// latency histogram: v < 32 µs maps to slot v; above, slot = (shift << 4) + (v >>> shift)
const SUB_BITS = 4
const SUB = 1 << SUB_BITS
const MAX_EXP = 26
const SLOTS = (MAX_EXP - SUB_BITS + 2) << SUB_BITS // 384
const MAX_US = 2 ** (MAX_EXP + 1)

/** Histogram slot of a latency in ms. Exported for tests. */
export function latencySlot(ms: number): number {
  const us = ms * 1000
  if (!(us >= SUB)) return us > 0 ? us | 0 : 0 // also NaN and negatives → 0
  if (us >= MAX_US) return SLOTS - 1
  const v = us | 0
  const shift = 31 - Math.clz32(v) - SUB_BITS
  return (shift << SUB_BITS) + (v >>> shift)
}

/** The midpoint of a slot, in ms. Exported for tests. */
export function slotMidpointMs(slot: number): number {
  if (slot < 2 * SUB) return (slot + 0.5) / 1000
  const shift = (slot >>> SUB_BITS) - 1
  const lower = (slot - (shift << SUB_BITS)) * 2 ** shift
  return (lower + 2 ** shift / 2) / 1000
}

export class RouteGuard {
  readonly config: GuardConfig
  readonly #n: number
  readonly #bucketMs: number
  readonly #now: () => number
  // one row of FIELDS per slice; one row of 2 × SLOTS per slice (cloud, then legacy)
  readonly #counts: Uint32Array
  readonly #hist: Uint32Array
  // window totals: Float64 so they never wrap
  readonly #totals = new Float64Array(FIELDS)
  readonly #histTotals = new Float64Array(2 * SLOTS)
  #head = 0
  #headEpoch = 0
  #rotateAt = 0

  constructor(config: GuardConfig, options: GuardOptions = {}) {
    const n = options.buckets ?? DEFAULT_GUARD_BUCKETS
    if (!Number.isInteger(n) || n < 1 || n > 1000) throw new RangeError(`guard buckets must be an integer from 1 to 1000 (got ${n})`)
    if (!(config.windowMs > 0)) throw new RangeError(`guard.windowMs must be positive (got ${config.windowMs})`)
    if (!(config.minRequests >= 1)) throw new RangeError(`guard.minRequests must be at least 1 (got ${config.minRequests})`)
    this.config = config
    this.#n = n
    this.#bucketMs = config.windowMs / n
    this.#now = options.now ?? (() => performance.now())
    this.#counts = new Uint32Array(n * FIELDS)
    this.#hist = new Uint32Array(n * 2 * SLOTS)
    this.#startAt(this.#now())
  }

  /**
   * One backend answer on this route. Hot path: no allocation, no loop (unless a slice expired).
   * `at`: when it ended, on the guard's clock (saves reading it).
   */
  recordResponse(backend: GuardBackend, status: number, latencyMs: number, at?: number): void {
    const t = at === undefined ? this.#now() : at
    if (t >= this.#rotateAt) this.#rotate(t)
    const b = backend === 'cloud' ? CLOUD_REQ : LEGACY_REQ
    const row = this.#head * FIELDS + b
    const counts = this.#counts
    const totals = this.#totals
    counts[row] = (counts[row] as number) + 1
    totals[b] = (totals[b] as number) + 1
    if (status >= 500) {
      counts[row + 1] = (counts[row + 1] as number) + 1
      totals[b + 1] = (totals[b + 1] as number) + 1
    }
    const h = (b === CLOUD_REQ ? 0 : SLOTS) + latencySlot(latencyMs)
    const cell = this.#head * 2 * SLOTS + h
    this.#hist[cell] = (this.#hist[cell] as number) + 1
    this.#histTotals[h] = (this.#histTotals[h] as number) + 1
  }

  /** One mirror outcome on this route (see the top comment for how error/timeout count). */
  recordMirror(outcome: GuardMirrorOutcome, at?: number): void {
    if (outcome === 'skipped') return
    const t = at === undefined ? this.#now() : at
    if (t >= this.#rotateAt) this.#rotate(t)
    if (outcome === 'match' || outcome === 'noise') this.#bump(MATCH)
    else {
      this.#bump(MISMATCH)
      if (outcome !== 'mismatch') this.#bump(MIRROR_FAIL)
    }
  }

  /** Evaluates the rules over the current window. */
  check(): GuardVerdict {
    const t = this.#now()
    if (t >= this.#rotateAt) this.#rotate(t)
    const c = this.config
    const totals = this.#totals
    const cloudReq = totals[CLOUD_REQ] as number
    const pending: GuardRule[] = []
    if (c.maxErrorRate !== undefined) {
      if (cloudReq < c.minRequests) pending.push('error-rate')
      else {
        const rate = (totals[CLOUD_ERR] as number) / cloudReq
        if (rate > c.maxErrorRate) return breach('error-rate', rate, c.maxErrorRate, cloudReq)
      }
    }
    if (c.maxMismatchRate !== undefined) {
      const mismatches = totals[MISMATCH] as number
      const compared = (totals[MATCH] as number) + mismatches
      if (compared < c.minRequests) pending.push('mismatch-rate')
      else {
        const rate = mismatches / compared
        if (rate > c.maxMismatchRate) return breach('mismatch-rate', rate, c.maxMismatchRate, compared)
      }
    }
    if (c.maxLatencyRatio !== undefined) {
      if (cloudReq < c.minRequests || (totals[LEGACY_REQ] as number) < c.minRequests) pending.push('latency-ratio')
      else {
        const ratio = (this.#p99(0) as number) / (this.#p99(SLOTS) as number)
        if (ratio > c.maxLatencyRatio) return breach('latency-ratio', ratio, c.maxLatencyRatio, cloudReq)
      }
    }
    return { breached: false, status: pending.length === 0 ? 'green' : 'insufficient-data', requests: cloudReq, pending }
  }

  /** Forgets everything: the next window starts now. */
  reset(): void {
    this.#counts.fill(0)
    this.#hist.fill(0)
    this.#totals.fill(0)
    this.#histTotals.fill(0)
    this.#startAt(this.#now())
  }

  /** The window's numbers and the verdict, for the admin API and the ops page. */
  snapshot(): GuardSnapshot {
    const verdict = this.check() // rotates
    const totals = this.#totals
    const compared = (totals[MATCH] as number) + (totals[MISMATCH] as number)
    const mismatches = totals[MISMATCH] as number
    return {
      windowMs: this.config.windowMs,
      cloud: this.#backend(CLOUD_REQ, CLOUD_ERR, 0),
      legacy: this.#backend(LEGACY_REQ, LEGACY_ERR, SLOTS),
      compared,
      mismatches,
      mirrorFailures: totals[MIRROR_FAIL] as number,
      mismatchRate: compared === 0 ? null : mismatches / compared,
      status: verdict.status,
      pending: verdict.breached ? [] : verdict.pending,
      ...(verdict.breached ? { breach: { reason: verdict.reason, value: verdict.value, threshold: verdict.threshold } } : {}),
    }
  }

  #backend(reqField: number, errField: number, histBase: number): GuardBackendSnapshot {
    const requests = this.#totals[reqField] as number
    const errors = this.#totals[errField] as number
    return { requests, errors, errorRate: requests === 0 ? null : errors / requests, p99Ms: this.#p99(histBase) }
  }

  /** Nearest-rank p99 from the window histogram at histBase (0: cloud, SLOTS: legacy). */
  #p99(histBase: number): number | null {
    const h = this.#histTotals
    let total = 0
    for (let i = 0; i < SLOTS; i++) total += h[histBase + i] as number
    if (total === 0) return null
    // walk down from the top: at most 1 % of the samples lie above the answer
    const above = total - Math.ceil(total * 0.99)
    let seen = 0
    for (let i = SLOTS - 1; i >= 0; i--) {
      seen += h[histBase + i] as number
      if (seen > above) return slotMidpointMs(i)
    }
    return slotMidpointMs(0)
  }

  #bump(field: number): void {
    const row = this.#head * FIELDS + field
    this.#counts[row] = (this.#counts[row] as number) + 1
    this.#totals[field] = (this.#totals[field] as number) + 1
  }

  #startAt(t: number): void {
    this.#head = 0
    this.#headEpoch = Math.floor(t / this.#bucketMs)
    this.#rotateAt = (this.#headEpoch + 1) * this.#bucketMs
  }

  /** The clock passed the current slice: expire the slices it skipped over and move the head. */
  #rotate(t: number): void {
    const epoch = Math.floor(t / this.#bucketMs)
    const steps = epoch - this.#headEpoch
    if (steps >= this.#n) {
      // the whole window is stale: cheaper to wipe than to subtract
      this.#counts.fill(0)
      this.#hist.fill(0)
      this.#totals.fill(0)
      this.#histTotals.fill(0)
    } else {
      for (let s = 0; s < steps; s++) {
        this.#head = this.#head + 1 === this.#n ? 0 : this.#head + 1
        this.#expire(this.#head)
      }
    }
    if (steps > 0) this.#headEpoch = epoch
    // steps <= 0: float rounding at a slice edge (or a clock that went back); keep the head
    this.#rotateAt = (this.#headEpoch + 1) * this.#bucketMs
  }

  #expire(slice: number): void {
    const counts = this.#counts
    const totals = this.#totals
    const row = slice * FIELDS
    for (let f = 0; f < FIELDS; f++) {
      const v = counts[row + f] as number
      if (v !== 0) {
        totals[f] = (totals[f] as number) - v
        counts[row + f] = 0
      }
    }
    const hist = this.#hist
    const histTotals = this.#histTotals
    const base = slice * 2 * SLOTS
    for (let i = 0; i < 2 * SLOTS; i++) {
      const v = hist[base + i] as number
      if (v !== 0) {
        histTotals[i] = (histTotals[i] as number) - v
        hist[base + i] = 0
      }
    }
  }
}

function breach(reason: GuardRule, value: number, threshold: number, requests: number): GuardVerdict {
  return { breached: true, status: 'breached', reason, value, threshold, requests }
}
