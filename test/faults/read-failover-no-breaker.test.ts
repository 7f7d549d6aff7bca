import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { call } from '../support/gateway.ts'
import { faultBed, inBatches, metricValue, type FaultBed } from '../support/faults.ts'

// cloud is down (nothing listens on its port), the route sends half of its reads there, and no
// backend has a breaker: every read must still be answered, by legacy
let bed: FaultBed

beforeAll(async () => {
  bed = await faultBed({
    cloud: 'dead',
    config: { routes: [{ id: 'reads', methods: ['GET', 'HEAD'], path: '/r/:id', weight: 50, mirror: 'off' }] },
  })
})
afterAll(async () => {
  await bed.close()
})

describe('read failover without a breaker', () => {
  it('answers every read at weight 50 with cloud down: 0 client errors, legacy served them all', async () => {
    const n = 200
    const answers = await inBatches(n, 20, (i) => call(`${bed.gw.dataUrl}/r/${i}`))
    expect(answers.filter((a) => a.status !== 200)).toEqual([])
    expect(new Set(answers.map((a) => a.headers['x-cutover-backend']))).toEqual(new Set(['legacy']))
    // legacy got each read exactly once
    expect(bed.legacy.requests.filter((r) => r.url.startsWith('/r/'))).toHaveLength(n)
    expect(new Set(bed.legacy.requests.map((r) => r.url)).size).toBe(n)

    // what cloud did still shows: about half the reads went to cloud first and were refused
    const refused = await metricValue(bed.gw, 'cutover_upstream_errors_total', { route: 'reads', backend: 'cloud', reason: 'refused' })
    expect(refused).toBeGreaterThan(n * 0.3)
    expect(refused).toBeLessThan(n * 0.7)
    expect(await metricValue(bed.gw, 'cutover_requests_total', { route: 'reads', backend: 'legacy', code: '200' })).toBe(n)
    expect(await metricValue(bed.gw, 'cutover_requests_total', { route: 'reads', backend: 'cloud' })).toBe(0)
  })

  it('fails over HEAD too', async () => {
    const answers = await inBatches(40, 20, (i) => call(`${bed.gw.dataUrl}/r/h${i}`, { method: 'HEAD' }))
    expect(answers.map((a) => a.status)).toEqual(Array.from({ length: 40 }, () => 200))
  })
})
