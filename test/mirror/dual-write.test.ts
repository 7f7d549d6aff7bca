import { beforeAll, describe, expect, it } from 'vitest'
import type { Gateway } from '../../src/gateway.ts'
import { call } from '../support/gateway.ts'
import { until } from '../support/cli.ts'
import type { Origin } from '../support/origin.ts'
import { withGateway } from '../support/setup.ts'

let legacy: Origin
let cloud: Origin
let gw: Gateway
let cloudDelayMs = 0

beforeAll(async () => {
  ;({ legacy, cloud, gw } = await withGateway({
    legacy: (_req, res, body) => {
      const text = JSON.stringify({ id: 'L-1', echo: body.toString() })
      res.writeHead(201, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
      res.end(text)
    },
    cloud: (req, res, body) => {
      setTimeout(() => {
        const text = JSON.stringify({ id: req.headers['x-cutover-entity-id'] ?? 'C-?', echo: body.toString() })
        res.writeHead(201, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
        res.end(text)
      }, cloudDelayMs)
    },
    config: ({ legacy, cloud }) => ({
      backends: { legacy: { url: legacy.url, timeoutMs: 5000 }, cloud: { url: cloud.url, timeoutMs: 5000 } },
      routes: [
        { id: 'orders-write', methods: ['POST', 'PUT'], path: '/orders/*', weight: 0, mirror: 'writes', propagate: [{ from: 'body.id', to: 'header.x-cutover-entity-id' }] },
        { id: 'orders-read', methods: ['GET'], path: '/orders/:id', weight: 0, mirror: 'writes' },
        { id: 'unmirrored', methods: ['POST'], path: '/plain', weight: 0, mirror: 'off' },
      ],
      limits: { bodyBytes: 1_048_576, mirrorBodyBytes: 1024, compareBodyBytes: 65536, mirrorInFlight: 64 },
    }),
  }))
})

describe('dual-write', () => {
  it('sends a write to both backends exactly once each, with the same request id and Idempotency-Key', async () => {
    const l0 = legacy.requests.length
    const c0 = cloud.requests.length
    const res = await call(`${gw.dataUrl}/orders`, { method: 'POST', body: '{"item":"book"}', headers: { 'content-type': 'application/json' } })
    expect(res.status).toBe(201)
    expect(res.headers['x-cutover-backend']).toBe('legacy')
    await until(() => cloud.requests.length > c0 && cloud.requests.at(-1)!.complete, 5000, 'the mirrored write')
    await gw.data.mirror.idle()
    const toLegacy = legacy.requests.slice(l0)
    const toCloud = cloud.requests.slice(c0)
    expect(toLegacy).toHaveLength(1)
    expect(toCloud).toHaveLength(1)
    const [l, c] = [toLegacy[0]!, toCloud[0]!]
    expect(c.method).toBe('POST')
    expect(c.url).toBe('/orders')
    expect(c.body.toString()).toBe('{"item":"book"}')
    expect(c.headers['idempotency-key']).toBe(l.headers['idempotency-key'])
    expect(l.headers['idempotency-key']).toMatch(/^[0-9a-f-]{36}$/)
    expect(c.headers['x-request-id']).toBe(l.headers['x-request-id'])
    expect(c.headers['x-request-id']).toBe(res.headers['x-request-id'])
    // the id the primary generated reaches the secondary
    expect(c.headers['x-cutover-entity-id']).toBe('L-1')
  })

  it('keeps a client Idempotency-Key on both calls', async () => {
    const c0 = cloud.requests.length
    await call(`${gw.dataUrl}/orders/5`, { method: 'PUT', body: 'x', headers: { 'idempotency-key': 'client-key-1' } })
    await gw.data.mirror.idle()
    expect(legacy.requests.at(-1)!.headers['idempotency-key']).toBe('client-key-1')
    expect(cloud.requests.slice(c0).map((r) => r.headers['idempotency-key'])).toEqual(['client-key-1'])
  })

  it("answers the client at the primary's speed while the secondary takes 2 s", async () => {
    cloudDelayMs = 2000
    try {
      const c0 = cloud.requests.length
      const t0 = performance.now()
      const res = await call(`${gw.dataUrl}/orders`, { method: 'POST', body: '{"item":"slow"}', headers: { 'content-type': 'application/json' } })
      const clientMs = performance.now() - t0
      expect(res.status).toBe(201)
      expect(clientMs).toBeLessThan(500)
      // the secondary really was called, and really took its time
      await until(() => cloud.requests.length > c0, 2000, 'the mirrored call to start')
      expect(gw.data.mirror.inFlight).toBe(1)
      const t1 = performance.now()
      await gw.data.mirror.idle()
      expect(performance.now() - t1).toBeGreaterThan(1000)
    } finally {
      cloudDelayMs = 0
    }
  })

  it('does not mirror reads on a writes-only route, nor anything on mirror: off', async () => {
    const c0 = cloud.requests.length
    await call(`${gw.dataUrl}/orders/1`)
    await call(`${gw.dataUrl}/plain`, { method: 'POST', body: 'p' })
    await gw.data.mirror.idle()
    expect(cloud.requests.length).toBe(c0)
  })

  it('proxies a write over limits.mirrorBodyBytes without mirroring it, and records a not-mirrored diff', async () => {
    const c0 = cloud.requests.length
    const big = 'x'.repeat(5000)
    const res = await call(`${gw.dataUrl}/orders`, { method: 'POST', body: big })
    expect(res.status).toBe(201)
    expect(legacy.requests.at(-1)!.body.toString()).toBe(big)
    await gw.data.mirror.idle()
    expect(cloud.requests.length).toBe(c0)
    const diffs = gw.data.diffs.recent({ route: 'orders-write' }, 1)
    expect(diffs[0]).toMatchObject({ kind: 'not-mirrored', route: 'orders-write', requestId: res.headers['x-request-id'] })
    const metric = await gw.metrics.registry.getSingleMetricAsString('cutover_mirror_total')
    expect(metric).toMatch(/cutover_mirror_total\{route="orders-write",outcome="skipped"\} [1-9]/)
  })
})
