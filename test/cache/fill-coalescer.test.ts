import { afterEach, describe, expect, it, vi } from 'vitest'
import { FillCoalescer, type FollowerFill, type LeaderFill } from '../../src/cache/fill-coalescer.ts'

afterEach(() => {
  vi.useRealTimers()
})

describe('FillCoalescer', () => {
  it('makes one leader per key and shares its value with every follower', async () => {
    const c = new FillCoalescer<string>(1000)
    const fills = Array.from({ length: 100 }, () => c.begin('k'))
    const leaders = fills.filter((f): f is LeaderFill<string> => f.leader)
    expect(leaders).toHaveLength(1)
    expect(c.begin('other').leader).toBe(true)
    leaders[0]?.complete('v')
    const values = await Promise.all(fills.filter((f): f is FollowerFill<string> => !f.leader).map((f) => f.wait))
    expect(values).toEqual(Array(99).fill('v'))
    expect(c.begin('k').leader).toBe(true)
  })

  it('frees the key when the leader completes with null', async () => {
    const c = new FillCoalescer<string>(1000)
    const leader = c.begin('k') as LeaderFill<string>
    const follower = c.begin('k') as FollowerFill<string>
    leader.complete(null)
    expect(await follower.wait).toBeNull()
    expect(c.size).toBe(0)
  })

  it('releases followers at the deadline and ignores a late leader', async () => {
    vi.useFakeTimers()
    const c = new FillCoalescer<string>(500)
    const stuck = c.begin('k') as LeaderFill<string>
    const follower = c.begin('k') as FollowerFill<string>
    vi.advanceTimersByTime(499)
    expect(c.size).toBe(1)
    vi.advanceTimersByTime(1)
    expect(await follower.wait).toBeNull()
    const next = c.begin('k') as LeaderFill<string>
    expect(next.leader).toBe(true)
    const second = c.begin('k') as FollowerFill<string>
    stuck.complete('late') // must not settle the new flight
    expect(c.size).toBe(1)
    next.complete('fresh')
    expect(await second.wait).toBe('fresh')
  })
})
