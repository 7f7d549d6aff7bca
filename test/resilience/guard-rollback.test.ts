import type { ServerResponse } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AuditRecord } from '../../src/control/audit.ts'
import type { Gateway } from '../../src/gateway.ts'
import { admin, call } from '../support/gateway.ts'
import { brokers, collect, topicsFor, type Collected } from '../support/kafka.ts'
import { withGateway } from '../support/setup.ts'

function ok(res: ServerResponse, status = 200): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': 2 })
  res.end('{}')
}

let gw: Gateway
let audit: Collected<AuditRecord & { schema: string }>
const topics = topicsFor('guard')
let cloudCalls = 0

beforeAll(async () => {
  ;({ gw } = await withGateway({
    legacy: (_req, res) => ok(res),
    // every tenth answer is a 500: a 10 % error rate
    cloud: (_req, res) => ok(res, ++cloudCalls % 10 === 0 ? 500 : 200),
    config: {
      routes: [{ id: 'orders', methods: ['GET'], path: '/o/:id', weight: 50, mirror: 'off', guard: { maxErrorRate: 0.02, windowMs: 10_000, minRequests: 50 } }],
      kafka: { brokers: brokers(), topics },
    },
  }))
  audit = await collect(topics.audit)
})
afterAll(async () => {
  await audit?.stop()
})

describe('guard', () => {
  it('sets the weight from 50 to 0 within the window when cloud answers 500 to 10 % of requests, audited on cutover.audit', async () => {
    const started = Date.now()
    for (let i = 0; i < 300; i++) await call(`${gw.dataUrl}/o/${i}`)
    await expect.poll(async () => ((await admin(gw, '/routes/orders')).json() as { weight: number }).weight, { timeout: 10_000, interval: 100 }).toBe(0)
    expect(Date.now() - started).toBeLessThan(10_000)

    // every request after the trip goes to legacy
    const after = await Promise.all(Array.from({ length: 50 }, (_, i) => call(`${gw.dataUrl}/o/${i}`)))
    expect(new Set(after.map((r) => r.headers['x-cutover-backend']))).toEqual(new Set(['legacy']))

    const records = (await admin(gw, '/audit')).json() as AuditRecord[]
    expect(records[0]).toMatchObject({ who: 'guard', action: 'guard-trip:error-rate', route: 'orders', before: { weight: 50 }, after: { weight: 0 } })
    await expect.poll(() => audit.messages.length, { timeout: 15_000 }).toBe(1)
    expect(audit.messages[0]).toMatchObject({ key: 'orders', value: { schema: 'cutover.audit/v1', who: 'guard', action: 'guard-trip:error-rate', before: { weight: 50 }, after: { weight: 0 } } })

    const metrics = await admin(gw, '/metrics')
    expect(metrics.text).toContain('cutover_guard_trips_total{route="orders"} 1')
    const route = (await admin(gw, '/routes/orders')).json() as { guard: { status: string; windowMs: number } }
    expect(route.guard.windowMs).toBe(10_000)
  })
})
