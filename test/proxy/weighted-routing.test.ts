import { beforeAll, describe, expect, it } from 'vitest'
import type { Gateway } from '../../src/gateway.ts'
import { admin, call } from '../support/gateway.ts'
import type { Origin } from '../support/origin.ts'
import { withGateway } from '../support/setup.ts'

let legacy: Origin
let cloud: Origin
let gw: Gateway

beforeAll(async () => {
  ;({ legacy, cloud, gw } = await withGateway({
    config: {
      routes: [
        { id: 'sticky', methods: ['GET'], path: '/s/:id', weight: 30, sticky: { header: 'x-user-id' } },
        { id: 'random', methods: ['GET'], path: '/r', weight: 0 },
        { id: 'by-cookie', methods: ['GET'], path: '/c', weight: 50, sticky: { cookie: 'sid' } },
      ],
    },
  }))
})

async function sideOf(path: string, headers: Record<string, string> = {}): Promise<string> {
  const res = await call(gw.dataUrl + path, { headers })
  expect(res.status).toBe(200)
  const side = res.headers['x-cutover-backend'] as string
  // the header must name the origin that actually answered
  expect((res.json() as { origin: string }).origin).toBe(side)
  return side
}

/** Runs fn over 0..n-1 with bounded concurrency. */
async function pool<T>(n: number, concurrency: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out = new Array<T>(n)
  let next = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++
        out[i] = await fn(i)
      }
    }),
  )
  return out
}

async function setWeight(route: string, weight: number): Promise<void> {
  const res = await admin(gw, `/routes/${route}`, { method: 'PATCH', body: { weight } })
  expect(res.status).toBe(200)
}

describe('weighted, sticky routing through real origins', () => {
  it('weight 0 sends every request to legacy and weight 100 every request to cloud', async () => {
    const before = { legacy: legacy.requests.length, cloud: cloud.requests.length }
    const at0 = await pool(200, 20, () => sideOf('/r'))
    expect(new Set(at0)).toEqual(new Set(['legacy']))
    await setWeight('random', 100)
    const at100 = await pool(200, 20, () => sideOf('/r'))
    expect(new Set(at100)).toEqual(new Set(['cloud']))
    expect(legacy.requests.length - before.legacy).toBe(200)
    expect(cloud.requests.length - before.cloud).toBe(200)
  })

  it('weight 30 over 10 000 distinct sticky keys lands within 30 % ± 2 % on cloud', async () => {
    const sides = await pool(10_000, 64, (i) => sideOf(`/s/${i}`, { 'x-user-id': `user-${i}` }))
    const share = sides.filter((s) => s === 'cloud').length / sides.length
    expect(share).toBeGreaterThanOrEqual(0.28)
    expect(share).toBeLessThanOrEqual(0.32)
  })

  it('keeps a sticky key on its side across 200 requests', async () => {
    for (const user of ['alice', 'bob', 'carol']) {
      const sides = await pool(200, 10, () => sideOf('/s/1', { 'x-user-id': user }))
      expect(new Set(sides).size).toBe(1)
    }
  })

  it('keeps a cookie-keyed client on its side', async () => {
    const sides = await pool(200, 10, () => sideOf('/c', { cookie: 'theme=dark; sid=session-42' }))
    expect(new Set(sides).size).toBe(1)
  })

  it('raising 30 → 40 moves no key that was already on cloud, and only ~10 % of the rest', async () => {
    const keys = Array.from({ length: 2000 }, (_, i) => `k-${i}`)
    const at30 = await pool(keys.length, 64, (i) => sideOf('/s/x', { 'x-user-id': keys[i]! }))
    await setWeight('sticky', 40)
    const at40 = await pool(keys.length, 64, (i) => sideOf('/s/x', { 'x-user-id': keys[i]! }))
    let moved = 0
    for (let i = 0; i < keys.length; i++) {
      if (at30[i] === 'cloud') expect(at40[i]).toBe('cloud')
      else if (at40[i] === 'cloud') moved++
    }
    expect(moved).toBeGreaterThan(keys.length * 0.07)
    expect(moved).toBeLessThan(keys.length * 0.13)
  })
})
