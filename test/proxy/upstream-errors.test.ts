import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { call, gatewayFor, testConfig } from '../support/gateway.ts'
import { deadPort, startOrigin, type Origin } from '../support/origin.ts'

let stalled: Origin
let closed: Origin

beforeAll(async () => {
  // accepts the request, never answers
  stalled = await startOrigin('stalled', () => undefined)
  // answers with a cut connection
  closed = await startOrigin('closed', (req) => req.socket.destroy())
})
afterAll(async () => {
  await Promise.all([stalled.close(), closed.close()])
})

function expectCleanError(res: { status: number; text: string; headers: Record<string, unknown> }, status: number, code: string, port: number): void {
  expect(res.status).toBe(status)
  expect(res.headers['content-type']).toMatch(/^application\/json/)
  const body = JSON.parse(res.text) as { error: { code: string; message: string } }
  expect(body.error.code).toBe(code)
  // nothing about the upstream leaks: no address, no port, no error text, no stack
  expect(res.text).not.toContain('127.0.0.1')
  expect(res.text).not.toContain(String(port))
  expect(res.text).not.toMatch(/ECONN|UND_ERR|at .*\.ts/)
}

describe('upstream failures', () => {
  it('an unreachable backend gives 502 with a clean body', async () => {
    const port = await deadPort()
    const gw = await gatewayFor(testConfig(`http://127.0.0.1:${port}`, `http://127.0.0.1:${port}`, { routes: [] }))
    try {
      const res = await call(`${gw.dataUrl}/anything`)
      expectCleanError(res, 502, 'CUTOVER_UPSTREAM_UNAVAILABLE', port)
      expect(res.headers['x-request-id']).toBeTruthy()
      const metrics = await gw.metrics.registry.getSingleMetricAsString('cutover_requests_total')
      expect(metrics).toContain('cutover_requests_total{route="fallback",backend="legacy",code="502"} 1')
    } finally {
      await gw.close()
    }
  })

  it('a backend that resets the connection gives 502', async () => {
    const gw = await gatewayFor(testConfig(closed.url, closed.url))
    try {
      expectCleanError(await call(`${gw.dataUrl}/x`), 502, 'CUTOVER_UPSTREAM_UNAVAILABLE', closed.port)
    } finally {
      await gw.close()
    }
  })

  it('a stalled backend gives 504 after its timeout', async () => {
    const cfg = testConfig(stalled.url, stalled.url)
    cfg.backends.legacy = { url: stalled.url, timeoutMs: 300 }
    const gw = await gatewayFor(cfg)
    try {
      const t0 = performance.now()
      const res = await call(`${gw.dataUrl}/slow`)
      const took = performance.now() - t0
      expectCleanError(res, 504, 'CUTOVER_UPSTREAM_TIMEOUT', stalled.port)
      expect(took).toBeGreaterThanOrEqual(290)
      expect(took).toBeLessThan(2000)
    } finally {
      await gw.close()
    }
  })

  it('no route and no fallback gives 404 CUTOVER_NO_ROUTE', async () => {
    const gw = await gatewayFor(testConfig(stalled.url, stalled.url, { fallback: 404, routes: [{ id: 'a', path: '/a' }] }))
    try {
      const res = await call(`${gw.dataUrl}/b`)
      expect(res.status).toBe(404)
      expect(JSON.parse(res.text)).toEqual({ error: { code: 'CUTOVER_NO_ROUTE', message: 'no route matches this request' } })
    } finally {
      await gw.close()
    }
  })
})
