/**
 * Open-loop load at a fixed rate: request i is due at start + i ÷ rate whatever happened to the
 * earlier ones, the way independent users arrive. autocannon's `overallRate` / `connectionRate`
 * do not do this: each connection sends its per-second quota back to back as fast as answers come,
 * then idles until the next second (lib/httpClient.js, `reqsMadeThisSecond`), so the target runs
 * saturated for part of every second and the latency is the saturated one.
 *
 * Requests go out through an undici Pool of up to `connections` connections (it opens them as
 * needed); a request that finds them all busy waits in the pool. Two latencies per response:
 * from the request being handed to the pool (what autocannon measures, a client's view once it
 * sends; waiting for a connection included), and from its due time (also counts the generator's
 * own timer lag, ~1 ms on a busy box; free of coordinated omission).
 */
import { Pool, errors } from 'undici'
import type { LoadOptions, LoadResult } from './load.ts'
import { percentile } from './stats.ts'

export interface OpenLoopOptions extends LoadOptions {
  /** Requests per second, spread evenly over the run. */
  readonly rate: number
}

/** Requests in flight beyond which the generator stops sending (counted as `shed`: the target cannot keep up). */
const MAX_IN_FLIGHT = 4096
/**
 * After the last due request, how long answers still in flight may take: a loopback gateway that
 * has not answered by then fell behind (and a short wait keeps the bench's time bounded).
 */
const DRAIN_MS = 3_000
const TIMEOUT_MS = 10_000

export async function runOpenLoop(opts: OpenLoopOptions): Promise<LoadResult> {
  const total = Math.max(1, Math.round(opts.rate * opts.seconds))
  const intervalMs = 1000 / opts.rate
  const fromSend = new Float64Array(total)
  const fromDue = new Float64Array(total)
  const statusCodes: Record<string, number> = {}
  let sent = 0
  let done = 0
  let inFlight = 0
  let non2xx = 0
  let errorCount = 0
  let timeouts = 0
  let shed = 0
  /** set once the run is over: answers and failures after that (the pool being destroyed) are not counted */
  let closed = false
  const pool = new Pool(opts.url, { connections: opts.connections, pipelining: opts.pipelining, headersTimeout: TIMEOUT_MS, bodyTimeout: TIMEOUT_MS })
  const request = { path: opts.request.path, method: opts.request.method, headers: { ...opts.request.headers }, body: opts.request.body }

  const start = performance.now()
  await new Promise<void>((resolve) => {
    let drainTimer: NodeJS.Timeout | null = null
    const finishIfDone = (): void => {
      if (sent < total || inFlight > 0) return
      if (drainTimer !== null) clearTimeout(drainTimer)
      resolve()
    }
    const fire = async (due: number): Promise<void> => {
      inFlight++
      const t0 = performance.now()
      try {
        const res = await pool.request(request)
        await res.body.dump()
        if (closed) return
        const t1 = performance.now()
        fromSend[done] = t1 - t0
        fromDue[done] = t1 - due
        done++
        const code = String(res.statusCode)
        statusCodes[code] = (statusCodes[code] ?? 0) + 1
        if (res.statusCode < 200 || res.statusCode > 299) non2xx++
      } catch (err) {
        if (closed) return
        if (err instanceof errors.HeadersTimeoutError || err instanceof errors.BodyTimeoutError) timeouts++
        else errorCount++
      }
      inFlight--
      finishIfDone()
    }
    const timer = setInterval(() => {
      // every request due by now, including those a late tick owes
      const due = Math.min(total, Math.floor((performance.now() - start) / intervalMs) + 1)
      while (sent < due) {
        const dueAt = start + sent * intervalMs
        sent++
        if (inFlight >= MAX_IN_FLIGHT) shed++
        else void fire(dueAt)
      }
      if (sent < total) return
      clearInterval(timer)
      drainTimer = setTimeout(resolve, DRAIN_MS)
      finishIfDone()
    }, 1)
  })
  const seconds = (performance.now() - start) / 1000
  closed = true
  const unanswered = inFlight
  await pool.destroy()
  const bySend = fromSend.subarray(0, done).sort()
  const byDue = fromDue.subarray(0, done).sort()
  return {
    requests: done,
    seconds,
    // the rate achieved over the scheduled window (the drain of the last answers is not idle time)
    rps: done / opts.seconds,
    p50Ms: percentile(bySend, 0.5),
    p99Ms: percentile(bySend, 0.99),
    maxMs: done > 0 ? (bySend[done - 1] as number) : Number.NaN,
    non2xx,
    errors: errorCount,
    timeouts,
    // shed, or never answered before the drain deadline: both mean the target did not keep up
    unanswered: shed + unanswered,
    statusCodes,
    rate: opts.rate,
    p50FromDueMs: percentile(byDue, 0.5),
    p99FromDueMs: percentile(byDue, 0.99),
  }
}
