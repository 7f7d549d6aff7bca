import { describe, expect, it } from 'vitest'
import { validateConfig } from '../../src/config/validate.ts'
import { chooseCloud, compileRoute } from '../../src/routing/route-table.ts'
import { bucketOf, cookieValue, groupSeed } from '../../src/routing/sticky.ts'

const cfg = validateConfig({
  backends: { legacy: { url: 'http://127.0.0.1:1' }, cloud: { url: 'http://127.0.0.1:2' } },
  routes: [{ id: 'r', path: '/x', sticky: { header: 'x-user-id' } }],
})

function routeAt(weight: number) {
  return compileRoute(cfg.routes[0]!, { weight, mirror: 'writes', readSample: 1, version: 1 })
}

describe('weighted sticky choice', () => {
  it('puts 30 % ± 2 % of 10 000 distinct keys on cloud at weight 30', () => {
    const route = routeAt(30)
    let cloud = 0
    for (let i = 0; i < 10_000; i++) if (chooseCloud(route, `user-${i}`)) cloud++
    expect(cloud / 10_000).toBeGreaterThanOrEqual(0.28)
    expect(cloud / 10_000).toBeLessThanOrEqual(0.32)
  })

  it('spreads sequential numeric keys evenly across buckets', () => {
    const seed = groupSeed('r')
    const deciles = new Array<number>(10).fill(0)
    for (let i = 0; i < 10_000; i++) deciles[Math.floor(bucketOf(String(i), seed) / 1000)]!++
    for (const d of deciles) expect(Math.abs(d - 1000)).toBeLessThan(120)
  })

  it('moves no key off cloud when the weight rises from 30 to 40', () => {
    const r30 = routeAt(30)
    const r40 = routeAt(40)
    let moved = 0
    for (let i = 0; i < 10_000; i++) {
      const key = `user-${i}`
      const before = chooseCloud(r30, key)
      const after = chooseCloud(r40, key)
      expect(before && !after).toBe(false)
      if (!before && after) moved++
    }
    expect(moved / 10_000).toBeGreaterThan(0.08)
    expect(moved / 10_000).toBeLessThan(0.12)
  })

  it('gives the same key different buckets in different sticky groups', () => {
    const same = Array.from({ length: 200 }, (_, i) => bucketOf(`k${i}`, groupSeed('a')) === bucketOf(`k${i}`, groupSeed('b'))).filter(Boolean)
    expect(same.length).toBeLessThan(5)
  })

  it('sends everything to one side at weights 0 and 100, with or without a key', () => {
    for (let i = 0; i < 1000; i++) {
      expect(chooseCloud(routeAt(0), i % 2 ? `u${i}` : undefined)).toBe(false)
      expect(chooseCloud(routeAt(100), i % 2 ? `u${i}` : undefined)).toBe(true)
    }
  })

  it('reads one cookie out of a Cookie header', () => {
    expect(cookieValue('a=1; sid=abc; b=2', 'sid')).toBe('abc')
    expect(cookieValue('sid=abc', 'sid')).toBe('abc')
    expect(cookieValue('xsid=1; sid = q ', 'sid')).toBe('q')
    expect(cookieValue('a=1', 'sid')).toBeUndefined()
    expect(cookieValue(undefined, 'sid')).toBeUndefined()
  })
})
