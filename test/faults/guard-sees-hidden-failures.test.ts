import type { IncomingMessage, ServerResponse } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { admin, call } from '../support/gateway.ts'
import { faultBed, metricValue, type FaultBed } from '../support/faults.ts'
import { echo, type OriginHandler } from '../support/origin.ts'

const WINDOW_MS = 10_000
let bed: FaultBed
let resets = 0
let served = 0

// cloud cuts the connection on 3 requests out of every 10, without a byte of answer
function flakyCloud(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
  const n = resets + served
  if (n % 10 < 3) {
    resets++
    req.socket.destroy()
    return
  }
  served++
  echo('cloud')(req, res, body)
}

beforeAll(async () => {
  bed = await faultBed({
    cloud: flakyCloud,
    config: {
      routes: [
        {
          id: 'reads',
          methods: ['GET'],
          path: '/r/:id',
          weight: 50,
          mirror: 'off',
          guard: { maxErrorRate: 0.1, minRequests: 20, windowMs: WINDOW_MS, safeWeight: 0 },
        },
      ],
    },
  })
})
afterAll(async () => {
  await bed.close()
})

describe('the guard counts what cloud did, not what the client saw', () => {
  it('rolls a 50 % route back to its safe weight within the window while failover hides 30 % resets from clients', async () => {
    const started = performance.now()
    const answers: { status: number; backend: unknown }[] = []
    // keep reading until the guard has acted (it checks once a second), bounded by the window
    while (bed.gw.store.get('reads')?.weight !== 0) {
      expect(performance.now() - started).toBeLessThan(WINDOW_MS)
      const batch = await Promise.all(Array.from({ length: 20 }, (_, i) => call(`${bed.gw.dataUrl}/r/${answers.length + i}`)))
      answers.push(...batch.map((a) => ({ status: a.status, backend: a.headers['x-cutover-backend'] })))
    }
    const elapsed = performance.now() - started
    expect(elapsed).toBeLessThan(WINDOW_MS)

    // clients saw no error at all
    expect(answers.filter((a) => a.status !== 200)).toEqual([])
    // every reset was a cloud read that legacy answered instead
    expect(resets).toBeGreaterThanOrEqual(3)
    const legacyReads = bed.legacy.requests.length
    expect(served + legacyReads).toBe(answers.length)
    expect(answers.filter((a) => a.backend === 'cloud')).toHaveLength(served)
    expect(await metricValue(bed.gw, 'cutover_upstream_errors_total', { route: 'reads', backend: 'cloud', reason: 'reset' })).toBe(resets)
    expect(await metricValue(bed.gw, 'cutover_guard_trips_total', { route: 'reads' })).toBe(1)

    // the admin API shows the route back at 0, set by the guard, with cloud's hidden failures in its stats
    const route = (await admin(bed.gw, '/routes/reads')).json() as { weight: number; stats: { errors: number; upstreamErrors: Record<string, number> } }
    expect(route.weight).toBe(0)
    expect(route.stats.errors).toBe(0)
    expect(route.stats.upstreamErrors.cloud).toBe(resets)
    const audit = (await admin(bed.gw, '/audit')).json() as { who: string; action: string }[]
    expect(audit[0]).toMatchObject({ who: 'guard', action: 'guard-trip:error-rate' })
  })
})

describe('stale-if-error hides cloud 5xx from clients, not from the guard', () => {
  it('counts every 5xx that a stale copy covered as a cloud error and rolls the route back', async () => {
    let failing = false
    const cloud: OriginHandler = (req, res, body) => {
      if (!failing) return echo('cloud')(req, res, body)
      res.writeHead(500, { 'content-length': 0 })
      res.end()
    }
    const stale = await faultBed({
      cloud,
      config: {
        routes: [
          {
            id: 'items',
            methods: ['GET'],
            path: '/items/:id',
            weight: 100,
            mirror: 'off',
            cache: { ttlMs: 50, staleIfErrorMs: 60_000 },
            guard: { maxErrorRate: 0.5, minRequests: 10, windowMs: WINDOW_MS, safeWeight: 0 },
          },
        ],
      },
    })
    try {
      expect((await call(`${stale.gw.dataUrl}/items/1`)).headers['x-cutover-cache']).toBe('miss')
      failing = true
      const started = performance.now()
      const seen: { status: number; cache: unknown; backend: unknown }[] = []
      while (stale.gw.store.get('items')?.weight !== 0) {
        expect(performance.now() - started).toBeLessThan(WINDOW_MS)
        const a = await call(`${stale.gw.dataUrl}/items/1`)
        seen.push({ status: a.status, cache: a.headers['x-cutover-cache'], backend: a.headers['x-cutover-backend'] })
      }
      // every client got a 200 (fresh, hit, or stale), none the 500
      expect(seen.filter((a) => a.status !== 200)).toEqual([])
      const staleServed = seen.filter((a) => a.cache === 'stale').length
      expect(staleServed).toBeGreaterThanOrEqual(10)
      const cloud500 = (stale.cloud?.requests.length ?? 0) - 1
      expect(cloud500).toBe(staleServed)
      expect(await metricValue(stale.gw, 'cutover_upstream_errors_total', { route: 'items', backend: 'cloud', reason: '5xx' })).toBe(staleServed)
      expect(await metricValue(stale.gw, 'cutover_requests_total', { route: 'items', code: '500' })).toBe(0)
      expect(await metricValue(stale.gw, 'cutover_guard_trips_total', { route: 'items' })).toBe(1)
    } finally {
      await stale.close()
    }
  })
})

