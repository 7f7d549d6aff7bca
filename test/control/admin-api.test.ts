import { beforeAll, describe, expect, it } from 'vitest'
import type { CutoverConfigInput } from '../../src/config/schema.ts'
import type { Gateway } from '../../src/gateway.ts'
import { admin, call, gatewayFor, testConfig } from '../support/gateway.ts'
import type { Origin } from '../support/origin.ts'
import { openGateway, withGateway } from '../support/setup.ts'

let legacy: Origin
let cloud: Origin
let gw: Gateway
let config: CutoverConfigInput

beforeAll(async () => {
  ;({ legacy, cloud, gw, config } = await withGateway({
    config: {
      routes: [
        { id: 'orders', methods: ['GET'], path: '/orders/:id', weight: 0 },
        { id: 'other', methods: ['GET'], path: '/other', weight: 0 },
      ],
    },
  }))
})

type ErrorBody = { error: { code: string; message: string; details?: string[] } }

describe('admin API', () => {
  it('answers 401 without a token or with a wrong one, but serves /healthz and /readyz openly', async () => {
    for (const token of [null, 'wrong-token-wrong-token']) {
      const res = await admin(gw, '/routes', { token })
      expect(res.status).toBe(401)
      expect((res.json() as ErrorBody).error.code).toBe('CUTOVER_UNAUTHORIZED')
      expect(res.headers['www-authenticate']).toBe('Bearer realm="cutover"')
    }
    expect((await admin(gw, '/healthz', { token: null })).status).toBe(200)
    const ready = await admin(gw, '/readyz', { token: null })
    expect(ready.status).toBe(200)
    expect(ready.json()).toEqual({ ready: true })
  })

  it('lists routes with their state and stats', async () => {
    await call(`${gw.dataUrl}/orders/1`)
    const res = await admin(gw, '/routes')
    expect(res.status).toBe(200)
    const routes = res.json() as { id: string; weight: number; version: number; stats: { requests: Record<string, number> } }[]
    expect(routes.map((r) => r.id)).toEqual(['orders', 'other'])
    expect(routes[0]).toMatchObject({ id: 'orders', methods: ['GET'], path: '/orders/:id', weight: 0, mirror: 'writes', readSample: 1, version: 1 })
    expect(routes[0]!.stats.requests.legacy).toBeGreaterThanOrEqual(1)
  })

  it('answers 404 for an unknown route on GET, PATCH and rollback', async () => {
    for (const [method, path] of [['GET', '/routes/nope'], ['PATCH', '/routes/nope'], ['POST', '/routes/nope/rollback']] as const) {
      const res = await admin(gw, path, { method, ...(method === 'PATCH' ? { body: { weight: 1 } } : {}) })
      expect(res.status).toBe(404)
      expect((res.json() as ErrorBody).error.code).toBe('CUTOVER_ROUTE_NOT_FOUND')
    }
  })

  it('answers 400 with the field path for invalid or unknown fields, and for bad JSON', async () => {
    const cases: [unknown, string][] = [
      [{ weight: 101 }, 'weight: must be an integer from 0 to 100'],
      [{ weight: 2.5 }, 'weight: must be an integer from 0 to 100'],
      [{ mirror: 'sometimes' }, "mirror: must be one of 'off', 'writes', 'all'"],
      [{ readSample: -1 }, 'readSample: must be a number from 0 to 1'],
      [{ weight: 5, wieght: 5 }, 'wieght: unknown option'],
      [{}, '(root): must change at least one of weight, mirror, readSample'],
    ]
    for (const [body, detail] of cases) {
      const res = await admin(gw, '/routes/orders', { method: 'PATCH', body })
      expect(res.status).toBe(400)
      const err = (res.json() as ErrorBody).error
      expect(err.code).toBe('CUTOVER_INVALID_INPUT')
      expect(err.details).toContain(detail)
    }
    const bad = await admin(gw, '/routes/orders', { method: 'PATCH', body: '{"weight":' })
    expect(bad.status).toBe(400)
    expect((bad.json() as ErrorBody).error.code).toBe('CUTOVER_INVALID_INPUT')
    // nothing above changed the route
    expect((await admin(gw, '/routes/orders')).json()).toMatchObject({ weight: 0, version: 1 })
  })

  it('answers 409 when If-Match is not the current version, and applies it when it is', async () => {
    const current = await admin(gw, '/routes/other')
    expect(current.headers.etag).toBe('"1"')
    const stale = await admin(gw, '/routes/other', { method: 'PATCH', body: { weight: 5 }, headers: { 'if-match': '"7"' } })
    expect(stale.status).toBe(409)
    expect((stale.json() as ErrorBody).error.code).toBe('CUTOVER_VERSION_CONFLICT')
    const ok = await admin(gw, '/routes/other', { method: 'PATCH', body: { weight: 5 }, headers: { 'if-match': '"1"' } })
    expect(ok.status).toBe(200)
    expect(ok.json()).toMatchObject({ weight: 5, version: 2 })
    expect(ok.headers.etag).toBe('"2"')
  })

  it('applies a PATCH on the very next request, audits it, and rollback sends traffic back', async () => {
    expect((await call(`${gw.dataUrl}/orders/1`)).headers['x-cutover-backend']).toBe('legacy')
    const res = await admin(gw, '/routes/orders', { method: 'PATCH', body: { weight: 100, mirror: 'off' } })
    expect(res.status).toBe(200)
    expect(res.json()).toMatchObject({ weight: 100, mirror: 'off' })
    expect((await call(`${gw.dataUrl}/orders/1`)).headers['x-cutover-backend']).toBe('cloud')

    const metrics = await admin(gw, '/metrics')
    expect(metrics.text).toContain('cutover_route_weight{route="orders"} 100')

    const rb = await admin(gw, '/routes/orders/rollback', { method: 'POST' })
    expect(rb.status).toBe(200)
    expect(rb.json()).toMatchObject({ weight: 0 })
    expect((await call(`${gw.dataUrl}/orders/1`)).headers['x-cutover-backend']).toBe('legacy')

    const audit = (await admin(gw, '/audit')).json() as { who: string; action: string; route: string; before: { weight: number }; after: { weight: number } }[]
    expect(audit[0]).toMatchObject({ action: 'rollback', route: 'orders', before: { weight: 100 }, after: { weight: 0 } })
    expect(audit[1]).toMatchObject({ action: 'patch', route: 'orders', before: { weight: 0 }, after: { weight: 100 } })
    expect(audit[0]!.who).toBe('token:admin@127.0.0.1')
  })

  it('serves Prometheus text with the request metrics', async () => {
    const res = await admin(gw, '/metrics')
    expect(res.headers['content-type']).toMatch(/^text\/plain/)
    expect(res.text).toMatch(/cutover_requests_total\{route="orders",backend="legacy",code="200"\} \d+/)
    expect(res.text).toMatch(/cutover_request_duration_seconds_count\{route="orders",backend="cloud"\} 1/)
  })

  it('keeps a changed weight across a restart (state file)', async () => {
    await admin(gw, '/routes/other', { method: 'PATCH', body: { weight: 42 } })
    await gw.close()
    gw = await openGateway(config)
    const res = await admin(gw, '/routes/other')
    expect(res.json()).toMatchObject({ weight: 42 })
    expect((res.json() as { version: number }).version).toBeGreaterThanOrEqual(3)
  })
})

describe('admin exposure', () => {
  it('refuses to start on a non-loopback address without a token', async () => {
    const cfg = testConfig(legacy.url, cloud.url, { admin: { host: '0.0.0.0', port: 0 } })
    await expect(gatewayFor(cfg)).rejects.toMatchObject({ code: 'CUTOVER_CONFIG_INVALID', details: ['admin.token: is required when admin.host (0.0.0.0) is not a loopback address'] })
  })
})
