import { describe, expect, it } from 'vitest'
import { MetricSample } from '../../src/readiness/metric-sample.ts'
import { PhaseClock, phaseOf } from '../../src/readiness/phase-clock.ts'
import { DEFAULT_READINESS, latencyRatio, nextWeight, verdictFor, type BackendFacts, type RouteFacts } from '../../src/readiness/readiness.ts'
import { backendFacts } from '../../src/readiness/readiness-service.ts'

const T = { ...DEFAULT_READINESS, minRequests: 100 }
const idle: BackendFacts = { requests: 0, errors: 0, errorRate: null, p99Ms: null }
const ok = (requests: number, p99Ms = 10, errors = 0): BackendFacts => ({ requests, errors, errorRate: requests === 0 ? null : errors / requests, p99Ms })

function facts(over: Partial<RouteFacts>): RouteFacts {
  const weight = over.weight ?? 0
  const mirror = over.mirror ?? 'all'
  return { weight, mirror, phase: phaseOf(weight, mirror), cloud: idle, legacy: ok(500), compared: 0, mismatches: 0, topFields: [], guard: null, ramp: null, cloudBreaker: undefined, ...over }
}

describe('phaseOf', () => {
  it.each([
    [0, 'off', 'legacy'],
    [0, 'all', 'shadow'],
    [0, 'writes', 'shadow'],
    [1, 'writes', 'canary'],
    [99, 'off', 'canary'],
    [100, 'writes', 'cloud-primary'],
    [100, 'off', 'retired'],
  ] as const)('weight %i mirror %s is %s', (w, m, phase) => expect(phaseOf(w, m)).toBe(phase))
})

describe('nextWeight', () => {
  it('follows the default ladder 1, 5, 25, 50, 100', () => {
    expect([0, 1, 3, 5, 25, 49, 50, 99].map((w) => nextWeight(w, undefined))).toEqual([1, 5, 5, 25, 50, 50, 100, 100])
    expect(nextWeight(100, undefined)).toBeNull()
  })
  it("uses the route's ramp steps when it has a ramp, then 100", () => {
    expect(nextWeight(0, [10, 30, 60])).toBe(10)
    expect(nextWeight(30, [10, 30, 60])).toBe(60)
    expect(nextWeight(60, [10, 30, 60])).toBe(100)
  })
})

describe('verdictFor', () => {
  it('shadow with enough clean comparisons: ready to raise to 1 %', () => {
    const v = verdictFor(facts({ compared: 150, mismatches: 1 }), T)
    expect(v).toMatchObject({ action: 'ready', summary: 'ready to raise to 1 %', nextWeight: 1, green: true, reasons: [] })
  })

  it('shadow with too few comparisons: hold, naming the count and the threshold', () => {
    const v = verdictFor(facts({ compared: 40 }), T)
    expect(v.action).toBe('hold')
    expect(v.summary).toBe('hold: too little traffic: 40 of 100 compared exchanges')
    expect(v.green).toBe(false)
  })

  it('mismatch rate above the threshold holds, with the top fields', () => {
    const v = verdictFor(facts({ compared: 200, mismatches: 20, topFields: [{ field: 'body.total', kind: 'changed', count: 18 }, { field: null, kind: 'secondary-error', count: 2 }] }), T)
    expect(v.action).toBe('hold')
    expect(v.summary).toBe('hold: mismatch rate 10.0 % > 1.00 % (top: body.total changed ×18, secondary-error ×2)')
  })

  it('exactly at the mismatch threshold is not above it', () => {
    expect(verdictFor(facts({ compared: 200, mismatches: 2 }), T).action).toBe('ready')
  })

  it('canary: evidence is cloud requests, and a clean canary is raised along the ladder', () => {
    expect(verdictFor(facts({ weight: 5, mirror: 'writes', cloud: ok(20), legacy: ok(400) }), T).summary).toBe('hold: too little traffic: 20 of 100 cloud requests')
    expect(verdictFor(facts({ weight: 5, mirror: 'writes', cloud: ok(120), legacy: ok(400) }), T).summary).toBe('ready to raise to 25 %')
  })

  it('canary with cloud errors well above legacy: roll back', () => {
    const v = verdictFor(facts({ weight: 25, mirror: 'writes', cloud: ok(200, 10, 30), legacy: ok(600, 10, 6) }), T)
    expect(v.action).toBe('roll-back')
    expect(v.summary).toBe('roll back: cloud error rate 15.0 % vs legacy 1.00 % (more than 1.00 % above)')
    expect(v.green).toBe(false)
  })

  it('cloud errors as high as legacy are not cloud’s fault', () => {
    expect(verdictFor(facts({ weight: 25, mirror: 'writes', cloud: ok(200, 10, 10), legacy: ok(600, 10, 30) }), T).action).toBe('ready')
  })

  it('p99 ratio above maxLatencyRatio rolls back; tiny p99s on both sides are not compared', () => {
    const slow = verdictFor(facts({ weight: 25, mirror: 'writes', cloud: ok(200, 90), legacy: ok(600, 20) }), T)
    expect(slow.action).toBe('roll-back')
    expect(slow.summary).toContain('4.50× legacy')
    // 2.4 ms vs 0.6 ms is a 4× ratio of noise: both are under the 5 ms floor
    expect(verdictFor(facts({ weight: 25, mirror: 'writes', cloud: ok(200, 2.4), legacy: ok(600, 0.6) }), T).action).toBe('ready')
    expect(latencyRatio({ cloud: ok(200, 2.4), legacy: ok(600, 0.6) }, 100)).toBe(1)
    expect(latencyRatio({ cloud: ok(200, 30), legacy: ok(50, 10) }, 100)).toBeNull()
  })

  it('a breached guard or an open cloud breaker says roll back while cloud serves', () => {
    const guard = { status: 'breached', breach: { reason: 'error-rate', value: 0.2, threshold: 0.05 } }
    expect(verdictFor(facts({ weight: 10, mirror: 'writes', cloud: ok(200), guard }), T).summary).toBe('roll back: guard breached: error-rate 0.2000 > 0.05')
    expect(verdictFor(facts({ weight: 10, mirror: 'writes', cloud: ok(200), cloudBreaker: 'open' }), T).summary).toBe('roll back: cloud circuit breaker is open')
    // at weight 0 there is nothing to roll back: the breach holds the route
    expect(verdictFor(facts({ compared: 200, guard }), T).summary).toBe('hold: guard breached: error-rate')
  })

  it('roll back wins over hold, and every finding is listed worst first', () => {
    const v = verdictFor(facts({ weight: 10, mirror: 'writes', cloud: ok(150, 10, 50), compared: 100, mismatches: 40, topFields: [{ field: 'body.id', kind: 'type', count: 40 }] }), T)
    expect(v.action).toBe('roll-back')
    expect(v.reasons).toHaveLength(2)
    expect(v.reasons[1]).toContain('mismatch rate 40.0 %')
  })

  it('a paused ramp holds the route, with the reason', () => {
    const ramp = { steps: [10, 50, 100], paused: true, pausedReason: 'change freeze', done: false }
    expect(verdictFor(facts({ weight: 10, mirror: 'writes', cloud: ok(200), ramp }), T).summary).toBe('hold: ramp paused: change freeze')
    expect(verdictFor(facts({ weight: 10, mirror: 'writes', cloud: ok(200), ramp: { ...ramp, paused: false } }), T).summary).toBe('ready to raise to 50 %')
  })

  it('legacy (mirror off at weight 0) holds; cloud-primary is ready to retire legacy; retired is done', () => {
    expect(verdictFor(facts({ mirror: 'off' }), T).summary).toMatch(/^hold: mirror is off/)
    expect(verdictFor(facts({ weight: 100, mirror: 'writes', cloud: ok(300), legacy: idle }), T)).toMatchObject({ action: 'ready', summary: 'ready to retire legacy: set mirror off', green: true })
    expect(verdictFor(facts({ weight: 100, mirror: 'off', cloud: ok(300), legacy: idle }), T)).toMatchObject({ action: 'done', green: true })
  })

  it('at cloud-primary, cloud failing with no legacy traffic to compare still rolls back', () => {
    expect(verdictFor(facts({ weight: 100, mirror: 'writes', cloud: ok(300, 10, 30), legacy: idle }), T).action).toBe('roll-back')
  })
})

describe('MetricSample', () => {
  const family = (name: string, values: { value: number; labels: Record<string, string | number>; metricName?: string }[]) => ({ name, values })

  it('sums the same series across processes and selects by labels', () => {
    const w1 = [family('cutover_requests_total', [{ value: 3, labels: { route: 'a', backend: 'cloud', code: 200 } }, { value: 2, labels: { route: 'a', backend: 'cloud', code: 500 } }])]
    const w2 = [family('cutover_requests_total', [{ value: 4, labels: { route: 'a', backend: 'cloud', code: 200 } }])]
    const m = MetricSample.merge([w1, w2])
    expect(m.sum('cutover_requests_total', { route: 'a' })).toBe(9)
    expect(m.sum('cutover_requests_total', { route: 'a', code: '200' })).toBe(7)
    expect(m.has('cutover_upstream_errors_total')).toBe(false)
  })

  it('minus gives what happened between two samples, and a counter that restarted counts from zero', () => {
    const at = (a: number, b: number) => MetricSample.merge([[family('c', [{ value: a, labels: { route: 'a' } }, { value: b, labels: { route: 'b' } }])]])
    const d = at(30, 4).minus(at(10, 9))
    expect(d.sum('c', { route: 'a' })).toBe(20)
    expect(d.sum('c', { route: 'b' })).toBe(4)
    expect(d.has('c')).toBe(true)
  })

  it('p99 from cumulative buckets, interpolated inside the bucket; null without observations', () => {
    const bucket = (le: string, value: number) => ({ value, labels: { le, route: 'a', backend: 'cloud' }, metricName: 'cutover_request_duration_seconds_bucket' })
    const m = MetricSample.merge([[family('cutover_request_duration_seconds', [bucket('0.01', 90), bucket('0.1', 100), bucket('+Inf', 100)])]])
    // rank 99 of 100 lies 9/10 of the way through the 0.01–0.1 bucket
    expect(m.quantile('cutover_request_duration_seconds', 0.99, { route: 'a', backend: 'cloud' })).toBeCloseTo(0.091, 6)
    expect(m.quantile('cutover_request_duration_seconds', 0.99, { route: 'b', backend: 'cloud' })).toBeNull()
  })

  it("toFamilies sends one route's series, histogram buckets included, and plus adds another replica's to a sample", () => {
    const bucket = (le: string, value: number, route = 'a') => ({ value, labels: { le, route, backend: 'cloud' }, metricName: 'cutover_request_duration_seconds_bucket' })
    const replica1 = MetricSample.merge([
      [
        family('cutover_requests_total', [{ value: 3, labels: { route: 'a', backend: 'cloud', code: 200 } }, { value: 5, labels: { route: 'b', backend: 'cloud', code: 200 } }]),
        family('cutover_request_duration_seconds', [bucket('0.01', 90), bucket('+Inf', 100), bucket('0.01', 1, 'b'), bucket('+Inf', 1, 'b')]),
        family('cutover_upstream_errors_total', []),
      ],
    ])
    const sent = JSON.parse(JSON.stringify(replica1.toFamilies(['cutover_requests_total', 'cutover_request_duration_seconds', 'cutover_upstream_errors_total'], { route: 'a' })))
    const replica2 = MetricSample.merge([[family('cutover_requests_total', [{ value: 4, labels: { route: 'a', backend: 'cloud', code: 200 } }]), family('cutover_request_duration_seconds', [bucket('0.01', 10), bucket('+Inf', 100)])]])
    const fleet = replica2.plus([sent])
    expect(fleet.sum('cutover_requests_total', { route: 'a' })).toBe(7)
    // route b stayed on replica 1: only route a was sent
    expect(fleet.sum('cutover_requests_total', { route: 'b' })).toBe(0)
    expect(fleet.sum('cutover_request_duration_seconds_bucket', { route: 'a', le: '+Inf' })).toBe(200)
    expect(fleet.has('cutover_upstream_errors_total')).toBe(true)
    // plus leaves the sample it was called on as it was
    expect(replica2.sum('cutover_requests_total', { route: 'a' })).toBe(4)
    expect(replica2.has('cutover_upstream_errors_total')).toBe(false)
  })

  it('backendFacts counts failover-hidden failures once cutover_upstream_errors_total exists', () => {
    const req = family('cutover_requests_total', [
      { value: 90, labels: { route: 'a', backend: 'cloud', code: 200 } },
      { value: 10, labels: { route: 'a', backend: 'cloud', code: 502 } },
    ])
    expect(backendFacts(MetricSample.merge([[req]]), 'a', 'cloud')).toMatchObject({ requests: 100, errors: 10, errorRate: 0.1 })
    // 25 cloud failures, of which 10 reached the client as 502s: 15 were answered by legacy instead
    const upstream = family('cutover_upstream_errors_total', [{ value: 25, labels: { route: 'a', backend: 'cloud', reason: 'refused' } }])
    expect(backendFacts(MetricSample.merge([[req, upstream]]), 'a', 'cloud')).toMatchObject({ requests: 115, errors: 25 })
  })
})

describe('PhaseClock', () => {
  it('restarts only when the phase changes, and flags phases that began before the process', () => {
    let now = 1_000_000
    const clock = new PhaseClock({ a: { weight: 0, mirror: 'all', readSample: 1, version: 1 } }, () => now)
    expect(clock.get('a')).toEqual({ phase: 'shadow', since: 1_000_000, sinceStart: true })
    now += 5000
    clock.onState('a', { weight: 0, mirror: 'writes', readSample: 1, version: 2 })
    expect(clock.get('a')?.since).toBe(1_000_000)
    now += 5000
    clock.onState('a', { weight: 5, mirror: 'writes', readSample: 1, version: 3 })
    expect(clock.get('a')).toEqual({ phase: 'canary', since: 1_010_000, sinceStart: false })
    now += 5000
    clock.onState('a', { weight: 25, mirror: 'writes', readSample: 1, version: 4 })
    expect(clock.get('a')?.since).toBe(1_010_000)
  })
})
