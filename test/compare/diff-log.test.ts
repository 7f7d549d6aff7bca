import { describe, expect, it } from 'vitest'
import { DEFAULT_DIFF_LOG_SIZE, DiffLog, mergeDiffs } from '../../src/compare/diff-log.ts'
import { DIFF_SCHEMA, type DiffEvent } from '../../src/publish/events.ts'

const T0 = Date.parse('2024-05-01T12:00:00.000Z')

function event(n: number, route = 'orders'): DiffEvent {
  return {
    schema: DIFF_SCHEMA,
    id: `e${n}`,
    time: new Date(T0 + n * 1000).toISOString(),
    route,
    method: 'GET',
    path: `/orders/${n}`,
    requestId: `r${n}`,
    primary: 'legacy',
    secondary: 'cloud',
    kind: 'mismatch',
    status: { legacy: 200, cloud: 200 },
    latencyMs: { legacy: 1, cloud: 2 },
    differences: [{ path: 'body.total', legacy: 1, cloud: 2 }],
    truncated: false,
  }
}

const ids = (events: readonly DiffEvent[]): string[] => events.map((e) => e.id)

describe('DiffLog', () => {
  it('starts empty', () => {
    expect(new DiffLog().recent(undefined, 10)).toEqual([])
  })

  it('returns the newest first, up to the limit', () => {
    const log = new DiffLog(10)
    for (let i = 1; i <= 5; i++) log.add(event(i))
    expect(ids(log.recent(undefined, 10))).toEqual(['e5', 'e4', 'e3', 'e2', 'e1'])
    expect(ids(log.recent(undefined, 2))).toEqual(['e5', 'e4'])
    expect(log.recent(undefined, 0)).toEqual([])
  })

  it('keeps only the last `size` events', () => {
    const log = new DiffLog(3)
    for (let i = 1; i <= 10; i++) log.add(event(i))
    expect(ids(log.recent(undefined, 100))).toEqual(['e10', 'e9', 'e8'])
  })

  it('is bounded by DEFAULT_DIFF_LOG_SIZE by default', () => {
    const log = new DiffLog()
    for (let i = 0; i < DEFAULT_DIFF_LOG_SIZE + 25; i++) log.add(event(i))
    const all = log.recent(undefined, Number.MAX_SAFE_INTEGER)
    expect(all).toHaveLength(DEFAULT_DIFF_LOG_SIZE)
    expect(all[0]?.id).toBe(`e${DEFAULT_DIFF_LOG_SIZE + 24}`)
    expect(all.at(-1)?.id).toBe('e25')
  })

  it('filters by route, the limit counting only that route', () => {
    const log = new DiffLog(10)
    log.add(event(1, 'orders'))
    log.add(event(2, 'users'))
    log.add(event(3, 'orders'))
    log.add(event(4, 'users'))
    log.add(event(5, 'orders'))
    expect(ids(log.recent('orders', 10))).toEqual(['e5', 'e3', 'e1'])
    expect(ids(log.recent('users', 1))).toEqual(['e4'])
    expect(log.recent('nope', 10)).toEqual([])
  })

  it('a route filter only sees what the ring still holds', () => {
    const log = new DiffLog(2)
    log.add(event(1, 'orders'))
    log.add(event(2, 'users'))
    log.add(event(3, 'users'))
    expect(log.recent('orders', 10)).toEqual([])
  })
})

describe('mergeDiffs', () => {
  it('merges several processes newest first and cuts at the limit', () => {
    const worker1 = [event(9), event(4), event(1)]
    const worker2 = [event(8), event(7), event(2)]
    const worker3: DiffEvent[] = []
    expect(ids(mergeDiffs([worker1, worker2, worker3], 10))).toEqual(['e9', 'e8', 'e7', 'e4', 'e2', 'e1'])
    expect(ids(mergeDiffs([worker1, worker2, worker3], 3))).toEqual(['e9', 'e8', 'e7'])
  })

  it('orders by time, not by the order the parts arrive in', () => {
    expect(ids(mergeDiffs([[event(1)], [event(3)], [event(2)]], 5))).toEqual(['e3', 'e2', 'e1'])
  })

  it('nothing in, nothing out', () => {
    expect(mergeDiffs([], 10)).toEqual([])
    expect(mergeDiffs([[event(1)]], 0)).toEqual([])
  })

  it('leaves its inputs unchanged', () => {
    const part = [event(1), event(2)]
    mergeDiffs([part], 10)
    expect(ids(part)).toEqual(['e1', 'e2'])
  })
})
