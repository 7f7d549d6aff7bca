import { afterEach, describe, expect, it } from 'vitest'
import type { CutoverConfigInput } from '../../src/config/schema.ts'
import type { Gateway } from '../../src/gateway.ts'
import { call, gatewayFor, testConfig } from '../support/gateway.ts'
import { metricValue } from '../support/faults.ts'
import { startOrigin, type Origin } from '../support/origin.ts'

const ROUTES = [{ id: 'items', methods: ['GET', 'POST'] as ('GET' | 'POST')[], path: '/items', weight: 0, mirror: 'off' as const }]
const HEALTH = { failures: 2, ejectMs: 1500 }

let open: { close(): Promise<void> }[] = []
afterEach(async () => {
  await Promise.all(open.map((o) => o.close()))
  open = []
})

async function origin(name: string, port = 0): Promise<Origin> {
  const o = await startOrigin(name, undefined, port)
  open.push(o)
  return o
}

async function gateway(input: CutoverConfigInput): Promise<Gateway> {
  const gw = await gatewayFor(input)
  open.unshift(gw)
  return gw
}

/** n requests one after another, alternating reads and writes (a write's body names it). */
async function traffic(gw: Gateway, n: number): Promise<{ status: number; backend: unknown }[]> {
  const out: { status: number; backend: unknown }[] = []
  for (let i = 0; i < n; i++) {
    const a = i % 2 === 0 ? await call(`${gw.dataUrl}/items`) : await call(`${gw.dataUrl}/items`, { method: 'POST', body: `{"n":${i}}` })
    out.push({ status: a.status, backend: a.headers['x-cutover-backend'] })
  }
  return out
}

const endpoint = (o: { port: number }): string => `http://127.0.0.1:${o.port}`

describe('several endpoints per backend, passive health', () => {
  it('ejects a killed endpoint after `failures` refused connections with no client error, spreads its traffic, and takes it back once it recovers', async () => {
    const [a, b, c, cloud] = [await origin('a'), await origin('b'), await origin('c'), await origin('cloud')]
    const gw = await gateway(
      testConfig(a.url, cloud.url, {
        backends: { legacy: { urls: [a.url, b.url, c.url], health: HEALTH, timeoutMs: 2000 }, cloud: { url: cloud.url, timeoutMs: 2000 } },
        routes: ROUTES,
      }),
    )
    const warm = await traffic(gw, 6)
    expect(warm.map((w) => w.status)).toEqual(Array.from({ length: 6 }, () => 200))
    expect([a.requests.length, b.requests.length, c.requests.length]).toEqual([2, 2, 2])
    expect(await metricValue(gw, 'cutover_endpoint_healthy', { backend: 'legacy', endpoint: endpoint(c) })).toBe(1)

    await c.close()
    const before = { a: a.requests.length, b: b.requests.length }
    const answers = await traffic(gw, 30)
    // no client error, no failover to the other backend: the refused attempts went to a or b
    expect(answers.filter((x) => x.status !== 200 || x.backend !== 'legacy')).toEqual([])
    expect(cloud.requests).toHaveLength(0)
    const got = { a: a.requests.length - before.a, b: b.requests.length - before.b }
    expect(got.a + got.b).toBe(30)
    expect(Math.min(got.a, got.b)).toBeGreaterThanOrEqual(12)
    // both reads and writes reached the live endpoints intact
    expect([...a.requests, ...b.requests].filter((r) => r.method === 'POST').length).toBe(1 + 1 + 15)
    // ejected after exactly `failures` refused connections, none since
    expect(await metricValue(gw, 'cutover_endpoint_requests_total', { backend: 'legacy', endpoint: endpoint(c), outcome: 'failed' })).toBe(HEALTH.failures)
    expect(await metricValue(gw, 'cutover_endpoint_healthy', { backend: 'legacy', endpoint: endpoint(c) })).toBe(0)

    // recovered on the same port: once the ejection time has passed, a probe brings it back
    const c2 = await origin('c', c.port)
    const deadline = Date.now() + 10_000
    const during: { status: number; backend: unknown }[] = []
    while (c2.requests.length === 0 && Date.now() < deadline) {
      during.push(...(await traffic(gw, 2)))
      await new Promise((r) => setTimeout(r, 50))
    }
    expect(c2.requests.length).toBeGreaterThan(0)
    expect(during.filter((x) => x.status !== 200)).toEqual([])
    expect(await metricValue(gw, 'cutover_endpoint_healthy', { backend: 'legacy', endpoint: endpoint(c) })).toBe(1)
    const after = { a: a.requests.length, b: b.requests.length, c: c2.requests.length }
    expect((await traffic(gw, 30)).filter((x) => x.status !== 200)).toEqual([])
    expect([a.requests.length - after.a, b.requests.length - after.b, c2.requests.length - after.c]).toEqual([10, 10, 10])
    expect(await metricValue(gw, 'cutover_endpoint_requests_total', { backend: 'legacy', endpoint: endpoint(c), outcome: 'response' })).toBeGreaterThanOrEqual(12)
  })

  it('retries a refused connection on another endpoint even before ejection, for concurrent writes too', async () => {
    const [a, b, cloud] = [await origin('a'), await origin('b'), await origin('cloud')]
    const dead = await origin('dead')
    await dead.close()
    const gw = await gateway(
      testConfig(a.url, cloud.url, {
        backends: { legacy: { urls: [a.url, b.url, dead.url], health: { failures: 1000, ejectMs: 60_000 }, timeoutMs: 2000 }, cloud: { url: cloud.url, timeoutMs: 2000 } },
        routes: ROUTES,
      }),
    )
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => call(`${gw.dataUrl}/items`, { method: 'POST', body: `{"n":${i}}` })))
    expect(answers.filter((x) => x.status !== 200 || x.headers['x-cutover-backend'] !== 'legacy')).toEqual([])
    const bodies = [...a.requests, ...b.requests].map((r) => (JSON.parse(r.body.toString()) as { n: number }).n).sort((x, y) => x - y)
    // each write applied exactly once
    expect(bodies).toEqual(Array.from({ length: 30 }, (_, i) => i))
    expect(await metricValue(gw, 'cutover_endpoint_requests_total', { backend: 'legacy', endpoint: endpoint(dead), outcome: 'failed' })).toBeGreaterThan(0)
    expect(await metricValue(gw, 'cutover_endpoint_healthy', { backend: 'legacy', endpoint: endpoint(dead) })).toBe(1)
  })

  it('counts a reset before any response byte toward ejection (not resent within the backend: the read fails over to the other side)', async () => {
    const [a, b, cloud] = [await origin('a'), await origin('b'), await origin('cloud')]
    const reset = await origin('reset')
    reset.handler = (req) => req.socket.destroy()
    const gw = await gateway(
      testConfig(a.url, cloud.url, {
        backends: { legacy: { urls: [reset.url, a.url, b.url], health: { failures: 2, ejectMs: 60_000 }, timeoutMs: 2000 }, cloud: { url: cloud.url, timeoutMs: 2000 } },
        routes: [{ ...ROUTES[0]!, methods: ['GET'] as 'GET'[] }],
      }),
    )
    const answers: { status: number; backend: unknown }[] = []
    for (let i = 0; i < 12; i++) {
      const x = await call(`${gw.dataUrl}/items`)
      answers.push({ status: x.status, backend: x.headers['x-cutover-backend'] })
    }
    expect(answers.filter((x) => x.status !== 200)).toEqual([])
    expect(reset.requests).toHaveLength(2)
    expect(cloud.requests).toHaveLength(2)
    expect(a.requests.length + b.requests.length).toBe(10)
    expect(await metricValue(gw, 'cutover_endpoint_requests_total', { backend: 'legacy', endpoint: endpoint(reset), outcome: 'failed' })).toBe(2)
    expect(await metricValue(gw, 'cutover_endpoint_healthy', { backend: 'legacy', endpoint: endpoint(reset) })).toBe(0)
  })

  it('balances mirrored calls (the mirror pool) over the healthy endpoints too', async () => {
    const [legacy, a, b] = [await origin('legacy'), await origin('a'), await origin('b')]
    const dead = await origin('dead')
    await dead.close()
    const gw = await gateway(
      testConfig(legacy.url, a.url, {
        backends: { legacy: { url: legacy.url, timeoutMs: 2000 }, cloud: { urls: [a.url, dead.url, b.url], health: HEALTH, timeoutMs: 2000 } },
        routes: [{ ...ROUTES[0]!, mirror: 'all' as const }],
      }),
    )
    const answers = await traffic(gw, 20)
    expect(answers.filter((x) => x.status !== 200 || x.backend !== 'legacy')).toEqual([])
    await gw.data.mirror.idle()
    expect(a.requests.length + b.requests.length).toBe(20)
    expect(Math.min(a.requests.length, b.requests.length)).toBeGreaterThanOrEqual(8)
    expect(await metricValue(gw, 'cutover_mirror_total', { route: 'items', outcome: 'error' })).toBe(0)
    expect(await metricValue(gw, 'cutover_endpoint_requests_total', { backend: 'cloud', endpoint: endpoint(dead), outcome: 'failed' })).toBe(HEALTH.failures)
    expect(await metricValue(gw, 'cutover_endpoint_healthy', { backend: 'cloud', endpoint: endpoint(dead) })).toBe(0)
  })
})
