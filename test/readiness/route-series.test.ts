import { describe, expect, it } from 'vitest'
import type { MetricFamily } from '../../src/readiness/metric-sample.ts'
import { RouteSeries } from '../../src/readiness/route-series.ts'

/** Counters as one process would report them: `ok` 200s and `bad` 500s from cloud on route a. */
function metrics(ok: number, bad: number): MetricFamily[] {
  return [
    {
      name: 'cutover_requests_total',
      values: [
        { value: ok, labels: { route: 'a', backend: 'cloud', code: 200 } },
        { value: bad, labels: { route: 'a', backend: 'cloud', code: 500 } },
      ],
    },
  ]
}

describe('RouteSeries', () => {
  it('makes one point per interval from the difference of two readings, the running interval last, and keeps only `points` of them', async () => {
    let now = 0
    let current = metrics(0, 0)
    const series = new RouteSeries(async () => [current], { intervalMs: 60_000, points: 2, now: () => now })
    /** start() reads the metrics at once: a way to take a reading at a chosen time */
    const reading = async (t: number, ok: number, bad: number): Promise<void> => {
      now = t
      current = metrics(ok, bad)
      series.start()
      series.stop()
      await new Promise((r) => setImmediate(r))
    }
    await reading(0, 0, 0)
    await reading(1000, 90, 10)
    now = 1500
    current = metrics(95, 15)
    const points = await series.points('a')
    expect(points.map((p) => [p.t, p.cloud.requests, p.cloud.errorRate])).toEqual([
      [1000, 100, 0.1],
      [1500, 10, 0.5],
    ])
    expect(points[0]?.legacy).toEqual({ requests: 0, errorRate: null, p99Ms: null })

    await reading(2000, 95, 15)
    await reading(3000, 195, 15)
    // two points kept (plus the running one): the oldest reading is gone
    expect((await series.points('a')).map((p) => [p.t, p.cloud.requests])).toEqual([
      [2000, 10],
      [3000, 100],
      [3000, 0],
    ])
  })
})
