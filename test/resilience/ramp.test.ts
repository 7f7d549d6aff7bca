import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { GuardStatus } from '../../src/resilience/guard.ts'
import { RampController, rampStepsProblem } from '../../src/resilience/ramp.ts'

const T0 = Date.parse('2025-03-01T12:00:00.000Z')
const STEPS = [1, 5, 25, 50, 100]
const INTERVAL = 1_000

/** A route whose weight lives in `route.weight`, with every weight change logged. */
function rampedRoute(opts: { weight?: number; status?: GuardStatus; steps?: number[]; guardStatus?: () => Promise<GuardStatus> } = {}) {
  const route = {
    weight: opts.weight ?? 0,
    status: opts.status ?? ('green' as GuardStatus),
    changes: [] as { weight: number; reason: string }[],
    failNextSet: false,
  }
  const ramp = new RampController(
    { steps: opts.steps ?? STEPS, intervalMs: INTERVAL },
    {
      getWeight: () => route.weight,
      setWeight: async (weight, reason) => {
        if (route.failNextSet) {
          route.failNextSet = false
          throw new Error('version conflict')
        }
        route.weight = weight
        route.changes.push({ weight, reason })
      },
      guardStatus: opts.guardStatus ?? (async () => route.status),
    },
  )
  return { route, ramp }
}

const weights = (r: { changes: { weight: number }[] }) => r.changes.map((c) => c.weight)
const tick = (n = 1) => vi.advanceTimersByTimeAsync(n * INTERVAL)

beforeEach(() => {
  vi.useFakeTimers({ now: T0 })
})
afterEach(() => {
  vi.useRealTimers()
})

describe('RampController', () => {
  it('ramps a clean route 0 → 1 → 5 → 25 → 50 → 100, one step per interval, then stops', async () => {
    const { route, ramp } = rampedRoute()
    ramp.start()
    expect(ramp.state()).toEqual({ steps: STEPS, intervalMs: INTERVAL, running: true, paused: false, done: false, nextStepAt: '2025-03-01T12:00:01.000Z' })
    await vi.advanceTimersByTimeAsync(INTERVAL - 1)
    expect(route.weight).toBe(0)
    await vi.advanceTimersByTimeAsync(1)
    expect(route.weight).toBe(1)
    await tick(4)
    expect(weights(route)).toEqual([1, 5, 25, 50, 100])
    expect(route.changes.map((c) => c.reason)).toEqual(['ramp step 1/5: 0 → 1', 'ramp step 2/5: 1 → 5', 'ramp step 3/5: 5 → 25', 'ramp step 4/5: 25 → 50', 'ramp step 5/5: 50 → 100'])
    expect(ramp.state()).toEqual({
      steps: STEPS,
      intervalMs: INTERVAL,
      running: false,
      paused: false,
      done: true,
      lastStep: { weight: 100, from: 50, at: '2025-03-01T12:00:05.000Z' },
    })
    expect(vi.getTimerCount()).toBe(0)
    await tick(10)
    expect(route.changes).toHaveLength(5)
  })

  it('a breached guard holds the weight; it moves again once green', async () => {
    const { route, ramp } = rampedRoute({ weight: 5, status: 'breached' })
    ramp.start()
    await tick(5)
    expect(route.weight).toBe(5)
    expect(ramp.state()).toMatchObject({ running: true, done: false, lastHold: { weight: 5, status: 'breached', at: '2025-03-01T12:00:05.000Z' } })
    route.status = 'green'
    await tick()
    expect(route.weight).toBe(25)
    expect(ramp.state().lastHold).toBeUndefined()
  })

  it('insufficient data may only take the first step (the canary), not the next ones', async () => {
    const { route, ramp } = rampedRoute({ status: 'insufficient-data' })
    ramp.start()
    await tick(5)
    expect(weights(route)).toEqual([1])
    expect(ramp.state().lastHold).toMatchObject({ weight: 1, status: 'insufficient-data' })
    route.status = 'green'
    await tick()
    expect(route.weight).toBe(5)
  })

  it('pause() holds it (with the reason) until resume(), which waits a full interval', async () => {
    const { route, ramp } = rampedRoute()
    ramp.start()
    await tick(2)
    expect(route.weight).toBe(5)
    ramp.pause('change freeze')
    expect(ramp.state()).toMatchObject({ running: true, paused: true, pausedReason: 'change freeze' })
    expect(ramp.state().nextStepAt).toBeUndefined()
    await tick(10)
    expect(route.weight).toBe(5)
    ramp.resume()
    expect(ramp.state()).toMatchObject({ paused: false, nextStepAt: '2025-03-01T12:00:13.000Z' })
    expect(ramp.state().pausedReason).toBeUndefined()
    await tick()
    expect(weights(route)).toEqual([1, 5, 25])
  })

  it('follows a manual weight change mid-ramp, holding the new weight a full interval', async () => {
    const { route, ramp } = rampedRoute()
    ramp.start()
    await tick(2)
    expect(route.weight).toBe(5)
    route.weight = 30 // ops, by hand
    await tick()
    expect(route.weight).toBe(30) // dwell restarted
    await tick()
    expect(route.weight).toBe(50) // the next step above 30
    route.weight = 2 // ops go back down
    await tick(2)
    expect(weights(route)).toEqual([1, 5, 50, 5])
  })

  it('a manual change to the last step (or above) finishes it', async () => {
    const { route, ramp } = rampedRoute({ steps: [1, 5, 25] })
    ramp.start()
    await tick()
    route.weight = 40
    await tick()
    expect(ramp.state()).toMatchObject({ done: true, running: false })
    expect(vi.getTimerCount()).toBe(0)
  })

  it('onRollback() pauses it; after resume it climbs again from the safe weight', async () => {
    const { route, ramp } = rampedRoute()
    ramp.start()
    await tick(4)
    expect(route.weight).toBe(50)
    // the lead's guard handler: weight back to safeWeight, then tell the ramp
    route.weight = 0
    ramp.onRollback('error-rate 0.1 > 0.02')
    expect(ramp.state()).toMatchObject({ paused: true, pausedReason: 'guard tripped: error-rate 0.1 > 0.02', running: true })
    await tick(10)
    expect(route.weight).toBe(0)
    route.status = 'insufficient-data' // fresh window after the trip
    ramp.resume()
    await tick(3)
    expect(weights(route)).toEqual([1, 5, 25, 50, 1])
  })

  it('a pause that lands while the guard is being asked stops the move', async () => {
    let answer: (s: GuardStatus) => void = () => {}
    const { route, ramp } = rampedRoute({ guardStatus: () => new Promise<GuardStatus>((resolve) => (answer = resolve)) })
    ramp.start()
    await tick()
    ramp.pause('operator')
    answer('green')
    await tick(3)
    expect(route.weight).toBe(0)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('a failed setWeight is recorded and retried on the next interval', async () => {
    const { route, ramp } = rampedRoute()
    route.failNextSet = true
    ramp.start()
    await tick()
    expect(route.weight).toBe(0)
    expect(ramp.state().lastError).toEqual({ message: 'version conflict', at: '2025-03-01T12:00:01.000Z' })
    await tick()
    expect(route.weight).toBe(1)
    expect(ramp.state().lastError).toBeUndefined()
  })

  it('stop() cancels the timer; start() picks up from the live weight', async () => {
    const { route, ramp } = rampedRoute()
    ramp.start()
    await tick()
    ramp.stop()
    expect(ramp.state()).toMatchObject({ running: false, done: false })
    expect(vi.getTimerCount()).toBe(0)
    await tick(5)
    expect(route.weight).toBe(1)
    ramp.start()
    await tick()
    expect(route.weight).toBe(5)
  })

  it('start() at or above the last step is done at once', () => {
    const { ramp } = rampedRoute({ weight: 100 })
    ramp.start()
    expect(ramp.state()).toMatchObject({ done: true, running: false })
  })

  it('rejects steps it cannot climb', () => {
    expect(rampStepsProblem([1, 5, 25])).toBeUndefined()
    expect(rampStepsProblem([])).toBe('must list at least one step')
    expect(rampStepsProblem([5, 1])).toBe('must be strictly increasing (5 then 1)')
    expect(rampStepsProblem([0, 5])).toBe('step 0 must be an integer from 1 to 100')
    expect(() => rampedRoute({ steps: [10, 10] })).toThrow(/ramp.steps must be strictly increasing/)
  })
})
