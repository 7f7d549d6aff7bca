import { describe, expect, it } from 'vitest'
import { DEFAULT_DIFF_LOG_SIZE, DiffLog, MAX_SUMMARY_GROUPS, mergeDiffs, mergeSummaries } from '../../src/compare/diff-log.ts'
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
    differences: [{ path: 'body.total', kind: 'changed', legacy: 1, cloud: 2 }],
    fields: [{ path: 'body.total', kind: 'changed', count: 1 }],
    total: 1,
    noise: 0,
    truncated: false,
  }
}

const ids = (events: readonly DiffEvent[]): string[] => events.map((e) => e.id)

describe('DiffLog', () => {
  it('starts empty', () => {
    expect(new DiffLog().recent({}, 10)).toEqual([])
  })

  it('returns the newest first, up to the limit', () => {
    const log = new DiffLog(10)
    for (let i = 1; i <= 5; i++) log.add(event(i))
    expect(ids(log.recent({}, 10))).toEqual(['e5', 'e4', 'e3', 'e2', 'e1'])
    expect(ids(log.recent({}, 2))).toEqual(['e5', 'e4'])
    expect(log.recent({}, 0)).toEqual([])
  })

  it('keeps only the last `size` events', () => {
    const log = new DiffLog(3)
    for (let i = 1; i <= 10; i++) log.add(event(i))
    expect(ids(log.recent({}, 100))).toEqual(['e10', 'e9', 'e8'])
  })

  it('is bounded by DEFAULT_DIFF_LOG_SIZE by default', () => {
    const log = new DiffLog()
    for (let i = 0; i < DEFAULT_DIFF_LOG_SIZE + 25; i++) log.add(event(i))
    const all = log.recent({}, Number.MAX_SAFE_INTEGER)
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
    expect(ids(log.recent({ route: 'orders' }, 10))).toEqual(['e5', 'e3', 'e1'])
    expect(ids(log.recent({ route: 'users' }, 1))).toEqual(['e4'])
    expect(log.recent({ route: 'nope' }, 10)).toEqual([])
  })

  it('a route filter only sees what the ring still holds', () => {
    const log = new DiffLog(2)
    log.add(event(1, 'orders'))
    log.add(event(2, 'users'))
    log.add(event(3, 'users'))
    expect(log.recent({ route: 'orders' }, 10)).toEqual([])
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

/** A mismatch on GET /items/N whose differences are `diffs` (path, kind, legacy value, cloud value). */
function mismatch(n: number, diffs: [string, 'changed' | 'type' | 'missing' | 'extra' | 'length', unknown, unknown][], over: Partial<DiffEvent> = {}): DiffEvent {
  const fields = new Map<string, { path: string; kind: 'changed' | 'type' | 'missing' | 'extra' | 'length'; count: number }>()
  for (const [path, kind] of diffs) {
    const g = path.replace(/\[\d+\]/g, '[*]')
    const have = fields.get(`${kind} ${g}`)
    if (have) have.count++
    else fields.set(`${kind} ${g}`, { path: g, kind, count: 1 })
  }
  return {
    ...event(n, 'items'),
    path: `/items/${n}`,
    differences: diffs.map(([path, kind, legacy, cloud]) => ({ path, kind, legacy, cloud })),
    fields: [...fields.values()],
    total: diffs.length,
    ...over,
  }
}

describe('DiffLog filters', () => {
  const log = new DiffLog()
  log.add(mismatch(1, [['body.price', 'changed', 1, 2]]))
  log.add(mismatch(2, [['body.tags[0]', 'type', 1, '1']], { method: 'PUT' }))
  log.add({ ...event(3, 'orders'), kind: 'secondary-error', differences: [], fields: [], total: 0, reason: 'ECONNRESET' })
  log.add(mismatch(4, [['body.items[3].sku', 'missing', 'a', undefined]], { path: '/items/4?x=1' }))

  it('by route, method, event kind and difference kind', () => {
    expect(ids(log.recent({ route: 'orders' }, 10))).toEqual(['e3'])
    expect(ids(log.recent({ method: 'put' }, 10))).toEqual(['e2'])
    expect(ids(log.recent({ kind: 'secondary-error' }, 10))).toEqual(['e3'])
    expect(ids(log.recent({ kind: 'type' }, 10))).toEqual(['e2'])
    expect(ids(log.recent({ kind: 'mismatch' }, 10))).toEqual(['e4', 'e2', 'e1'])
  })

  it('by client path, exact or a prefix ending in / or *, the query left out', () => {
    expect(ids(log.recent({ path: '/items/4' }, 10))).toEqual(['e4'])
    expect(ids(log.recent({ path: '/items/' }, 10))).toEqual(['e4', 'e2', 'e1'])
    expect(ids(log.recent({ path: '/items/1*' }, 10))).toEqual(['e1'])
  })

  it('by field pattern, the way events report it or generalised', () => {
    expect(ids(log.recent({ field: 'body.items[*].sku' }, 10))).toEqual(['e4'])
    expect(ids(log.recent({ field: 'body.items' }, 10))).toEqual(['e4'])
    expect(ids(log.recent({ field: 'body.price' }, 10))).toEqual(['e1'])
    expect(ids(log.recent({ field: 'body.tags[*]', method: 'PUT' }, 10))).toEqual(['e2'])
  })
})

describe('DiffLog.summary', () => {
  it('groups every event by route, method, field and kind, with counts, first/last seen and one example', () => {
    const log = new DiffLog(2)
    const items = (n: number, price: number): DiffEvent =>
      mismatch(n, [
        ...Array.from({ length: 3 }, (_, i): [string, 'changed', unknown, unknown] => [`body.items[${i}].price`, 'changed', price, price + 1]),
        ['body.id', 'type', n, String(n)],
      ])
    for (let n = 1; n <= 5; n++) log.add(items(n, n * 10))
    log.add({ ...event(6, 'items'), kind: 'secondary-timeout', differences: [], fields: [], total: 0 })
    const s = log.summary(undefined)
    // the recent list holds 2 events, the summary all 6
    expect(log.recent({}, 10)).toHaveLength(2)
    expect(s.events).toBe(6)
    expect(s.groups).toEqual([
      {
        route: 'items', method: 'GET', field: 'body.items[*].price', kind: 'changed', count: 15,
        firstSeen: event(1).time, lastSeen: event(5).time,
        example: { requestId: 'r1', path: '/items/1', primary: 'legacy', secondary: 'cloud', values: { legacy: 10, cloud: 11 } },
      },
      {
        route: 'items', method: 'GET', field: 'body.id', kind: 'type', count: 5,
        firstSeen: event(1).time, lastSeen: event(5).time,
        example: { requestId: 'r1', path: '/items/1', primary: 'legacy', secondary: 'cloud', values: { legacy: 1, cloud: '1' } },
      },
      { route: 'items', method: 'GET', field: null, kind: 'secondary-timeout', count: 1, firstSeen: event(6).time, lastSeen: event(6).time, example: null },
    ])
    expect(log.summary('orders').groups).toEqual([])
  })

  it('is bounded: past MAX_SUMMARY_GROUPS new groups are counted as dropped', () => {
    const log = new DiffLog(1)
    for (let n = 0; n < MAX_SUMMARY_GROUPS + 5; n++) log.add(mismatch(n, [[`body.f${n}`, 'changed', 1, 2]]))
    const s = log.summary(undefined)
    expect(s.groups).toHaveLength(MAX_SUMMARY_GROUPS)
    expect(s.droppedGroups).toBe(5)
    expect(s.events).toBe(MAX_SUMMARY_GROUPS + 5)
  })

  it('merges workers: counts add, first/last seen widen', () => {
    const a = new DiffLog()
    const b = new DiffLog()
    a.add(mismatch(2, [['body.x', 'changed', 1, 2]]))
    b.add(mismatch(1, [['body.x', 'changed', 3, 4]]))
    b.add(mismatch(3, [['body.x', 'changed', 5, 6]]))
    const m = mergeSummaries([a.summary(undefined), b.summary(undefined)])
    expect(m.events).toBe(3)
    expect(m.groups).toHaveLength(1)
    expect(m.groups[0]).toMatchObject({ count: 3, firstSeen: event(1).time, lastSeen: event(3).time })
  })
})
