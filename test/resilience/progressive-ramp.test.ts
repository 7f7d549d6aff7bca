import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AuditRecord } from '../../src/control/audit.ts'
import type { Gateway } from '../../src/gateway.ts'
import { admin, call } from '../support/gateway.ts'
import { withGateway } from '../support/setup.ts'

let gw: Gateway
let traffic = true
let loops: Promise<void>[] = []

beforeAll(async () => {
  ;({ gw } = await withGateway({
    config: {
      routes: [
        {
          id: 'ramped',
          methods: ['GET'],
          path: '/r/:id',
          weight: 0,
          mirror: 'off',
          guard: { maxErrorRate: 0.05, windowMs: 1000, minRequests: 3 },
          ramp: { steps: [1, 5, 25, 50, 100], intervalMs: 400 },
        },
      ],
    },
  }))
  // steady traffic, so the guard has cloud requests to judge at every step
  loops = Array.from({ length: 8 }, async () => {
    let i = 0
    while (traffic) await call(`${gw.dataUrl}/r/${i++}`)
  })
})
afterAll(async () => {
  traffic = false
  await Promise.all(loops)
})

type RampView = { weight: number; ramp: { paused: boolean; done: boolean; pausedReason?: string } }

describe('progressive ramp', () => {
  it('ramps a clean cloud 1 → 5 → 25 → 50 → 100 while the guard stays green, pausable through the admin API', async () => {
    await expect.poll(async () => ((await admin(gw, '/routes/ramped')).json() as RampView).weight, { timeout: 10_000, interval: 50 }).toBeGreaterThanOrEqual(5)

    const paused = await admin(gw, '/routes/ramped/ramp/pause', { method: 'POST' })
    expect(paused.status).toBe(200)
    expect(paused.json()).toMatchObject({ paused: true, pausedReason: 'paused by token:admin@127.0.0.1' })
    const held = ((await admin(gw, '/routes/ramped')).json() as RampView).weight
    // two intervals pass with no step while paused
    await expect.poll(async () => ((await admin(gw, '/routes/ramped')).json() as RampView).ramp.paused, { timeout: 1000 }).toBe(true)
    await new Promise((r) => setTimeout(r, 900))
    expect(((await admin(gw, '/routes/ramped')).json() as RampView).weight).toBe(held)

    expect((await admin(gw, '/routes/ramped/ramp/resume', { method: 'POST' })).json()).toMatchObject({ paused: false })
    await expect.poll(async () => ((await admin(gw, '/routes/ramped')).json() as RampView).ramp.done, { timeout: 20_000, interval: 100 }).toBe(true)

    const steps = ((await admin(gw, '/audit')).json() as AuditRecord[])
      .filter((r) => r.action === 'ramp')
      .reverse()
      .map((r) => [r.before.weight, r.after.weight])
    expect(steps).toEqual([
      [0, 1],
      [1, 5],
      [5, 25],
      [25, 50],
      [50, 100],
    ])
    const last = await call(`${gw.dataUrl}/r/final`)
    expect(last.headers['x-cutover-backend']).toBe('cloud')
  })
})
