/**
 * One autocannon run. Latency is taken from autocannon's per-response event rather than its
 * histogram: the histogram's lowest discernible value is 1 ms, too coarse for loopback latencies
 * of a few milliseconds and for a p99 ratio gate.
 */
import autocannon from 'autocannon'
import type { RequestSpec } from '../scenarios/types.ts'
import { percentile } from './stats.ts'

export interface LoadOptions {
  readonly url: string
  readonly request: RequestSpec
  readonly seconds: number
  readonly connections: number
  readonly pipelining: number
}

export interface LoadResult {
  /** Responses received (any status). */
  readonly requests: number
  readonly seconds: number
  readonly rps: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly maxMs: number
  readonly non2xx: number
  readonly errors: number
  readonly timeouts: number
  readonly statusCodes: Readonly<Record<string, number>>
  /**
   * Open-loop runs: requests never sent (over the generator's in-flight bound) or never answered
   * by the drain deadline — the target fell behind the rate. 0 for saturated runs.
   */
  readonly unanswered: number
  /** Open-loop runs (open-loop.ts): the fixed rate asked for, req/s; null for a saturated run. */
  readonly rate: number | null
  /** Open-loop runs: latency from each request's due time rather than its send; NaN otherwise. */
  readonly p50FromDueMs: number
  readonly p99FromDueMs: number
}

export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  let latencies = new Float64Array(1 << 18)
  let n = 0
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: opts.url + opts.request.path,
        method: opts.request.method,
        headers: { ...opts.request.headers },
        body: opts.request.body,
        duration: opts.seconds,
        connections: opts.connections,
        pipelining: opts.pipelining,
        timeout: 10,
        // autocannon only checks for the end of a run when it takes a sample (every 1 s by
        // default), so a 0.3 s run would last 1 s; sampling every 100 ms keeps fractions honest
        sampleInt: 100,
      },
      (err: unknown, res: autocannon.Result) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(res)),
    )
    instance.on('response', (_client, _status, _bytes, ms) => {
      if (n === latencies.length) {
        const bigger = new Float64Array(latencies.length * 2)
        bigger.set(latencies)
        latencies = bigger
      }
      latencies[n++] = ms
    })
  })
  const sorted = latencies.subarray(0, n).sort()
  const statusCodes: Record<string, number> = {}
  for (const [code, v] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = v.count ?? 0
  return {
    requests: result.requests.total,
    seconds: result.duration,
    rps: result.requests.total / result.duration,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    maxMs: n > 0 ? (sorted[n - 1] as number) : Number.NaN,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCodes,
    unanswered: 0,
    rate: null,
    p50FromDueMs: Number.NaN,
    p99FromDueMs: Number.NaN,
  }
}
