import { beforeAll, describe, expect, it } from 'vitest'
import type { Gateway } from '../../src/gateway.ts'
import { admin, call, gatewayFor, testConfig } from '../support/gateway.ts'
import { startOrigin, type Origin } from '../support/origin.ts'
import { openOrigin, withGateway } from '../support/setup.ts'

const breaker = { errorThresholdPercentage: 50, volumeThreshold: 10, resetTimeoutMs: 300 }

describe('circuit breakers', () => {
  let cloud: Origin
  let gw: Gateway
  let cloudPort: number

  beforeAll(async () => {
    ;({ cloud, gw } = await withGateway({
      config: ({ legacy, cloud }) => ({
        backends: { legacy: { url: legacy.url, timeoutMs: 2000 }, cloud: { url: cloud.url, timeoutMs: 2000, breaker } },
        routes: [
          { id: 'reads', methods: ['GET'], path: '/r/:id', weight: 50, mirror: 'off' },
          { id: 'writes', methods: ['POST'], path: '/w', weight: 100, mirror: 'off' },
        ],
      }),
    }))
    cloudPort = cloud.port
  })

  const breakerState = async (): Promise<string> => ((await admin(gw, '/routes/reads')).json() as { breakers: Record<string, string> }).breakers.cloud ?? 'none'

  it('opens when cloud dies during a 50 % split; then every read is served by legacy; closes when cloud returns', async () => {
    const healthy = await Promise.all(Array.from({ length: 40 }, (_, i) => call(`${gw.dataUrl}/r/${i}`)))
    expect(healthy.every((r) => r.status === 200)).toBe(true)
    expect(new Set(healthy.map((r) => r.headers['x-cutover-backend']))).toEqual(new Set(['legacy', 'cloud']))
    expect(await breakerState()).toBe('closed')

    await cloud.close()
    // until the breaker has seen enough failures, some reads fail
    await expect
      .poll(async () => {
        await Promise.all(Array.from({ length: 10 }, (_, i) => call(`${gw.dataUrl}/r/${i}`)))
        return breakerState()
      }, { timeout: 10_000, interval: 10 })
      .toBe('open')
    const metrics = await admin(gw, '/metrics')
    expect(metrics.text).toContain('cutover_breaker_state{backend="cloud"} 2')

    // open: not one read fails; all of them come from legacy
    const during = await Promise.all(Array.from({ length: 200 }, (_, i) => call(`${gw.dataUrl}/r/${i}`)))
    expect(during.filter((r) => r.status !== 200)).toEqual([])
    expect(new Set(during.map((r) => r.headers['x-cutover-backend']))).toEqual(new Set(['legacy']))
    // a write meant for cloud (weight 100) fails over too: nothing was sent to cloud
    const write = await call(`${gw.dataUrl}/w`, { method: 'POST', body: '{}' })
    expect(write.status).toBe(200)
    expect(write.headers['x-cutover-backend']).toBe('legacy')

    cloud = await openOrigin('cloud', undefined, cloudPort)
    // after resetTimeout one probe goes to cloud; its success closes the breaker
    await expect
      .poll(async () => {
        await call(`${gw.dataUrl}/r/probe-${Math.random()}`)
        return breakerState()
      }, { timeout: 10_000, interval: 50 })
      .toBe('closed')
    const after = await Promise.all(Array.from({ length: 40 }, (_, i) => call(`${gw.dataUrl}/r/${i}`)))
    expect(after.every((r) => r.status === 200)).toBe(true)
    expect(after.some((r) => r.headers['x-cutover-backend'] === 'cloud')).toBe(true)
    expect((await admin(gw, '/metrics')).text).toContain('cutover_breaker_state{backend="cloud"} 0')
  })
})

describe('both breakers open', () => {
  it('answers 503 CUTOVER_BREAKER_OPEN with Retry-After', async () => {
    const legacy = await startOrigin('legacy')
    const cloud = await startOrigin('cloud')
    const gw = await gatewayFor(
      testConfig(legacy.url, cloud.url, {
        backends: { legacy: { url: legacy.url, breaker }, cloud: { url: cloud.url, breaker } },
        routes: [{ id: 'reads', methods: ['GET'], path: '/r/:id', weight: 50, mirror: 'off' }],
      }),
    )
    try {
      await Promise.all([legacy.close(), cloud.close()])
      await expect
        .poll(async () => (await Promise.all(Array.from({ length: 10 }, (_, i) => call(`${gw.dataUrl}/r/${i}`)))).map((r) => r.status).includes(503), { timeout: 10_000, interval: 10 })
        .toBe(true)
      const res = await call(`${gw.dataUrl}/r/1`)
      expect(res.status).toBe(503)
      expect(res.headers['retry-after']).toBe('5')
      expect(JSON.parse(res.text)).toEqual({ error: { code: 'CUTOVER_BREAKER_OPEN', message: 'upstream is unavailable (circuit open); retry later' } })
    } finally {
      await gw.close()
    }
  })
})
