import { describe, expect, it } from 'vitest'
import { latencySlot, RouteGuard, slotMidpointMs, type GuardConfig, type GuardOptions } from '../../src/resilience/guard.ts'

/** A guard on a hand-driven clock: window 60 s in 20 slices of 3 s, minRequests 50. */
function guardAt(config: Partial<GuardConfig> = {}, options: GuardOptions = {}) {
  const clock = { t: 1_200_000 } // on a slice edge, so a slice's samples live exactly windowMs
  const guard = new RouteGuard({ windowMs: 60_000, minRequests: 50, safeWeight: 0, ...config }, { now: () => clock.t, ...options })
  return { guard, clock }
}

function feed(guard: RouteGuard, backend: 'legacy' | 'cloud', n: number, errors: number, latencyMs = 10): void {
  for (let i = 0; i < n; i++) guard.recordResponse(backend, i < errors ? 503 : 200, latencyMs)
}

/** Exact nearest-rank p99 of a sample. */
function exactP99(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.ceil(sorted.length * 0.99) - 1] as number
}

describe('RouteGuard: error-rate rule', () => {
  it('10 % cloud errors over minRequests breaches a 2 % threshold', () => {
    const { guard } = guardAt({ maxErrorRate: 0.02 })
    feed(guard, 'cloud', 100, 10)
    expect(guard.check()).toEqual({ breached: true, status: 'breached', reason: 'error-rate', value: 0.1, threshold: 0.02, requests: 100 })
  })

  it('never breaches below minRequests, however bad; breaches at minRequests', () => {
    const { guard } = guardAt({ maxErrorRate: 0.02 })
    feed(guard, 'cloud', 49, 49)
    expect(guard.check()).toEqual({ breached: false, status: 'insufficient-data', requests: 49, pending: ['error-rate'] })
    guard.recordResponse('cloud', 500, 10)
    expect(guard.check()).toMatchObject({ breached: true, reason: 'error-rate', value: 1, requests: 50 })
  })

  it('is strict (a rate equal to the threshold is green) and counts every status >= 500', () => {
    const { guard } = guardAt({ maxErrorRate: 0.04 })
    for (const status of [500, 502, 503, 504]) guard.recordResponse('cloud', status, 10)
    feed(guard, 'cloud', 96, 0)
    expect(guard.check()).toEqual({ breached: false, status: 'green', requests: 100, pending: [] })
    guard.recordResponse('cloud', 599, 10)
    expect(guard.check()).toMatchObject({ breached: true, reason: 'error-rate' })
  })

  it('4xx is not an error, and legacy errors do not count against cloud', () => {
    const { guard } = guardAt({ maxErrorRate: 0.02 })
    for (let i = 0; i < 100; i++) guard.recordResponse('cloud', 404, 10)
    feed(guard, 'legacy', 100, 100)
    expect(guard.check().status).toBe('green')
  })
})

describe('RouteGuard: sliding window', () => {
  it('expires samples windowMs after their slice began', () => {
    const { guard, clock } = guardAt({ maxErrorRate: 0.02 })
    feed(guard, 'cloud', 100, 50)
    clock.t += 59_999
    expect(guard.check().status).toBe('breached')
    clock.t += 1
    expect(guard.check()).toEqual({ breached: false, status: 'insufficient-data', requests: 0, pending: ['error-rate'] })
    expect(guard.snapshot().cloud).toEqual({ requests: 0, errors: 0, errorRate: null, p99Ms: null })
  })

  it('slides: only the newer half of the traffic is left after a window', () => {
    const { guard, clock } = guardAt({ maxErrorRate: 0.02 })
    feed(guard, 'cloud', 100, 100) // all errors, at t0
    clock.t += 30_000
    feed(guard, 'cloud', 100, 1) // 1 %, half a window later
    expect(guard.check()).toMatchObject({ breached: true, value: 101 / 200 })
    clock.t += 30_000
    expect(guard.check()).toEqual({ breached: false, status: 'green', requests: 100, pending: [] })
    clock.t += 30_000
    expect(guard.snapshot().cloud.requests).toBe(0)
  })

  it('agrees with a naive model over thousands of random records and clock jumps', () => {
    const { guard, clock } = guardAt({}, { buckets: 7 })
    const bucketMs = 60_000 / 7
    const log: { epoch: number; backend: 'legacy' | 'cloud'; error: boolean; mirror?: 'match' | 'mismatch' | 'error' | 'skipped' }[] = []
    let seed = 42
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
    for (let i = 0; i < 5000; i++) {
      const r = rnd()
      clock.t += r < 0.01 ? 70_000 : r < 0.2 ? rnd() * 5_000 : 0
      const epoch = Math.floor(clock.t / bucketMs)
      const backend = rnd() < 0.5 ? 'cloud' : 'legacy'
      if (rnd() < 0.3) {
        const outcome = (['match', 'mismatch', 'error', 'skipped'] as const)[Math.floor(rnd() * 4)] as 'match'
        guard.recordMirror(outcome)
        log.push({ epoch, backend, error: false, mirror: outcome })
      } else {
        const error = rnd() < 0.2
        guard.recordResponse(backend, error ? 500 : 200, 5)
        log.push({ epoch, backend, error })
      }
      if (i % 97 === 0) {
        const now = Math.floor(clock.t / bucketMs)
        const live = log.filter((e) => now - e.epoch < 7)
        const responses = live.filter((e) => e.mirror === undefined)
        const mirrors = live.filter((e) => e.mirror !== undefined && e.mirror !== 'skipped')
        const s = guard.snapshot()
        expect(s.cloud.requests).toBe(responses.filter((e) => e.backend === 'cloud').length)
        expect(s.cloud.errors).toBe(responses.filter((e) => e.backend === 'cloud' && e.error).length)
        expect(s.legacy.requests).toBe(responses.filter((e) => e.backend === 'legacy').length)
        expect(s.legacy.errors).toBe(responses.filter((e) => e.backend === 'legacy' && e.error).length)
        expect(s.compared).toBe(mirrors.length)
        expect(s.mismatches).toBe(mirrors.filter((e) => e.mirror !== 'match').length)
        expect(s.mirrorFailures).toBe(mirrors.filter((e) => e.mirror === 'error').length)
      }
    }
  })

  it('takes the time from `at` when the caller has it, reading no clock', () => {
    let reads = 0
    const clock = { t: 1_200_000 }
    const guard = new RouteGuard({ windowMs: 60_000, minRequests: 50, safeWeight: 0 }, { now: () => (reads++, clock.t) })
    reads = 0
    for (let i = 0; i < 100; i++) guard.recordResponse('cloud', 500, 10, 1_200_000)
    guard.recordMirror('mismatch', 1_200_000)
    guard.recordResponse('cloud', 200, 10, 1_260_000) // a window later: the older records expire
    guard.recordMirror('match', 1_260_000)
    expect(reads).toBe(0)
    clock.t = 1_260_000
    expect(guard.snapshot()).toMatchObject({ cloud: { requests: 1, errors: 0 }, compared: 1, mismatches: 0 })
  })

  it('a jump of more than a window wipes everything', () => {
    const { guard, clock } = guardAt({ maxErrorRate: 0.02 })
    feed(guard, 'cloud', 100, 100)
    guard.recordMirror('mismatch')
    clock.t += 10 * 60_000
    const s = guard.snapshot()
    expect([s.cloud.requests, s.cloud.errors, s.compared, s.mismatches, s.cloud.p99Ms]).toEqual([0, 0, 0, 0, null])
  })
})

describe('RouteGuard: mismatch-rate rule', () => {
  it('breaches on mismatches ÷ compared once minRequests exchanges were compared, with no cloud traffic needed', () => {
    const { guard } = guardAt({ maxMismatchRate: 0.05 })
    for (let i = 0; i < 45; i++) guard.recordMirror('match')
    for (let i = 0; i < 4; i++) guard.recordMirror('mismatch')
    expect(guard.check()).toEqual({ breached: false, status: 'insufficient-data', requests: 0, pending: ['mismatch-rate'] })
    guard.recordMirror('mismatch')
    expect(guard.check()).toEqual({ breached: true, status: 'breached', reason: 'mismatch-rate', value: 0.1, threshold: 0.05, requests: 50 })
  })

  it('counts mirror errors and timeouts as mismatches, ignores skipped', () => {
    const { guard } = guardAt({ maxMismatchRate: 0.05 })
    for (let i = 0; i < 1000; i++) guard.recordMirror('skipped')
    for (let i = 0; i < 95; i++) guard.recordMirror('match')
    guard.recordMirror('error')
    guard.recordMirror('timeout')
    guard.recordMirror('mismatch')
    expect(guard.check().status).toBe('green') // 3 / 98 < 5 %
    guard.recordMirror('timeout')
    guard.recordMirror('error')
    expect(guard.check().status).toBe('green') // 5 / 100 is not over 5 %
    guard.recordMirror('error')
    expect(guard.check()).toMatchObject({ breached: true, reason: 'mismatch-rate', value: 6 / 101, requests: 101 })
    expect(guard.snapshot()).toMatchObject({ compared: 101, mismatches: 6, mirrorFailures: 5, mismatchRate: 6 / 101 })
  })
})

describe('RouteGuard: latency-ratio rule', () => {
  it('histogram slots: the midpoint is within 1/32 of any latency >= 16 µs, and within 0.5 µs below', () => {
    for (let us = 0; us < 16; us += 0.25) expect(Math.abs(slotMidpointMs(latencySlot(us / 1000)) - us / 1000)).toBeLessThanOrEqual(0.0005 + 1e-12)
    let prev = -1
    for (let ms = 0.016; ms < 130_000; ms *= 1.003) {
      const slot = latencySlot(ms)
      expect(slot).toBeGreaterThanOrEqual(prev)
      prev = slot
      expect(Math.abs(slotMidpointMs(slot) - ms) / ms).toBeLessThanOrEqual(1 / 32 + 1e-9)
    }
    expect(latencySlot(-5)).toBe(0)
    expect(latencySlot(Number.NaN)).toBe(0)
    expect(latencySlot(1e9)).toBe(latencySlot(Number.POSITIVE_INFINITY))
  })

  it('estimates p99 within the histogram resolution and breaches when cloud p99 > ratio × legacy p99', () => {
    const { guard } = guardAt({ maxLatencyRatio: 2 })
    let seed = 7
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
    const legacy: number[] = []
    const cloud: number[] = []
    for (let i = 0; i < 2000; i++) {
      const l = 5 + 40 * rnd() ** 3 // 5–45 ms, long tail
      legacy.push(l)
      cloud.push(l * 2.6)
      guard.recordResponse('legacy', 200, l)
      guard.recordResponse('cloud', 200, l * 2.6)
    }
    const s = guard.snapshot()
    expect(Math.abs((s.legacy.p99Ms as number) - exactP99(legacy)) / exactP99(legacy)).toBeLessThanOrEqual(1 / 32 + 1e-9)
    expect(Math.abs((s.cloud.p99Ms as number) - exactP99(cloud)) / exactP99(cloud)).toBeLessThanOrEqual(1 / 32 + 1e-9)
    const v = guard.check()
    expect(v).toMatchObject({ breached: true, reason: 'latency-ratio', threshold: 2, requests: 2000 })
    if (v.breached) expect(v.value).toBeCloseTo(2.6, 0)
  })

  it('a tail on cloud alone trips it; a ratio under the threshold is green', () => {
    const { guard } = guardAt({ maxLatencyRatio: 3 })
    feed(guard, 'legacy', 100, 0, 20)
    feed(guard, 'cloud', 100, 0, 50) // 2.5×
    expect(guard.check().status).toBe('green')
    feed(guard, 'cloud', 5, 0, 400) // 5 of 105 > 1 %: p99 is now 400 ms
    expect(guard.check()).toMatchObject({ breached: true, reason: 'latency-ratio' })
  })

  it('needs minRequests on legacy too (at weight 100 legacy has none)', () => {
    const { guard } = guardAt({ maxLatencyRatio: 1.5 })
    feed(guard, 'legacy', 49, 0, 1)
    feed(guard, 'cloud', 500, 0, 100)
    expect(guard.check()).toEqual({ breached: false, status: 'insufficient-data', requests: 500, pending: ['latency-ratio'] })
  })
})

describe('RouteGuard: status, reset and snapshot', () => {
  it('is green only when every enabled rule had its data; with no thresholds it is always green', () => {
    expect(guardAt().guard.check()).toEqual({ breached: false, status: 'green', requests: 0, pending: [] })
    const { guard } = guardAt({ maxErrorRate: 0.5, maxMismatchRate: 0.5, maxLatencyRatio: 10 })
    feed(guard, 'cloud', 50, 0)
    expect(guard.check()).toMatchObject({ status: 'insufficient-data', pending: ['mismatch-rate', 'latency-ratio'] })
    for (let i = 0; i < 50; i++) guard.recordMirror('match')
    feed(guard, 'legacy', 50, 0)
    expect(guard.check()).toMatchObject({ status: 'green', pending: [] })
  })

  it('checks rules in order: error-rate is reported before mismatch-rate', () => {
    const { guard } = guardAt({ maxErrorRate: 0.01, maxMismatchRate: 0.01 })
    feed(guard, 'cloud', 50, 50)
    for (let i = 0; i < 50; i++) guard.recordMirror('mismatch')
    expect(guard.check()).toMatchObject({ reason: 'error-rate' })
  })

  it('reset() starts a fresh window so one bad minute trips once', () => {
    const { guard, clock } = guardAt({ maxErrorRate: 0.02 })
    feed(guard, 'cloud', 100, 10)
    expect(guard.check().breached).toBe(true)
    guard.reset()
    expect(guard.check()).toEqual({ breached: false, status: 'insufficient-data', requests: 0, pending: ['error-rate'] })
    clock.t += 1_000
    feed(guard, 'cloud', 100, 1)
    expect(guard.check().status).toBe('green')
    clock.t += 58_000 // the ring still rotates correctly after a reset
    expect(guard.snapshot().cloud.requests).toBe(100)
    clock.t += 1_000
    expect(guard.snapshot().cloud.requests).toBe(0)
  })

  it('snapshot() reports the window', () => {
    const { guard } = guardAt({ maxErrorRate: 0.05, maxMismatchRate: 0.5 })
    feed(guard, 'cloud', 80, 8, 40)
    feed(guard, 'legacy', 20, 1, 10)
    for (let i = 0; i < 3; i++) guard.recordMirror('match')
    guard.recordMirror('mismatch')
    expect(guard.snapshot()).toEqual({
      windowMs: 60_000,
      cloud: { requests: 80, errors: 8, errorRate: 0.1, p99Ms: slotMidpointMs(latencySlot(40)) },
      legacy: { requests: 20, errors: 1, errorRate: 0.05, p99Ms: slotMidpointMs(latencySlot(10)) },
      compared: 4,
      mismatches: 1,
      mirrorFailures: 0,
      mismatchRate: 0.25,
      status: 'breached',
      pending: [],
      breach: { reason: 'error-rate', value: 0.1, threshold: 0.05 },
    })
    expect(Math.abs((guard.snapshot().cloud.p99Ms as number) - 40) / 40).toBeLessThanOrEqual(1 / 32 + 1e-9)
  })

  it('rejects a ring it cannot build', () => {
    expect(() => guardAt({}, { buckets: 0 })).toThrow(/buckets must be an integer/)
    expect(() => guardAt({ windowMs: 0 })).toThrow(/windowMs must be positive/)
  })
})
