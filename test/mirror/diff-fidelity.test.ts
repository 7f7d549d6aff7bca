import { readFileSync } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { join } from 'node:path'
import { SCHEMA_FILES } from '../../scripts/event-schemas.ts'
import { diffEventSchema } from '../../src/publish/event-schemas.ts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { DiffGroup, DiffSummary } from '../../src/compare/diff-log.ts'
import type { Gateway } from '../../src/gateway.ts'
import type { DiffEvent } from '../../src/publish/events.ts'
import { admin, call, testConfig } from '../support/gateway.ts'
import { brokers, collect, topicsFor, type Collected } from '../support/kafka.ts'
import type { Origin } from '../support/origin.ts'
import { withGateway } from '../support/setup.ts'

/**
 * What an event says about differences, against real origins and the real broker: every
 * difference counted, kinds, normalisation, propagate into a body field, the filters and the
 * grouped summary of the admin API.
 */
let legacy: Origin
let cloud: Origin
let gw: Gateway
let diffs: Collected<DiffEvent>
const topics = topicsFor('diff-fidelity')

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

const items = (offset: number) => ({ items: Array.from({ length: 500 }, (_, i) => ({ id: i, price: i + offset })) })
const wide = (v: number) => Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`f${i}`, v]))
// the same order as two services spell it: a string id, epoch seconds, a trailing zero
const order = (side: 'legacy' | 'cloud') =>
  side === 'legacy' ? { id: 21, placedAt: '2026-01-01T10:00:00Z', price: '10.50', note: 'a' } : { id: '21', placedAt: 1767261600, price: '10.5', note: 'a' }

function answer(side: 'legacy' | 'cloud') {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? ''
    if (url.startsWith('/prices')) return sendJson(res, 200, items(side === 'legacy' ? 0 : 1))
    if (url.startsWith('/wide')) return sendJson(res, 200, wide(side === 'legacy' ? 0 : 1))
    if (url.startsWith('/orders') || url.startsWith('/strict')) return sendJson(res, 200, order(side))
    if (url.startsWith('/things')) return sendJson(res, 201, side === 'legacy' ? { id: 77, name: 'x' } : { id: 'ignored', name: 'x' })
    sendJson(res, 404, {})
  }
}

beforeAll(async () => {
  ;({ legacy, cloud, gw } = await withGateway({
    legacy: answer('legacy'),
    cloud: answer('cloud'),
    config: {
      routes: [
        { id: 'prices', methods: ['GET'], path: '/prices', mirror: 'all', compare: { learnNoise: false } },
        { id: 'wide', methods: ['GET'], path: '/wide', mirror: 'all', compare: { learnNoise: false, maxExamples: 10 } },
        { id: 'orders', methods: ['GET'], path: '/orders/:id', mirror: 'all', compare: { learnNoise: false, normalize: { numericStrings: true, timestamps: true, decimals: ['body.price'] } } },
        { id: 'strict', methods: ['GET'], path: '/strict/:id', mirror: 'all', compare: { learnNoise: false } },
        {
          id: 'things',
          methods: ['POST'],
          path: '/things',
          mirror: 'writes',
          propagate: [
            { from: 'body.id', to: 'body.id' },
            { from: 'body.id', to: 'body.meta.legacyId' },
            { from: 'body.id', to: 'header.x-entity-id' },
          ],
          compare: { ignore: ['body.id'] },
        },
      ],
      kafka: { brokers: brokers(), topics },
    },
  }))
  diffs = await collect<DiffEvent>(topics.diffs)
})
afterAll(async () => {
  await diffs?.stop()
})

async function eventOf(path: string, init: Parameters<typeof call>[1] = {}): Promise<DiffEvent> {
  const res = await call(`${gw.dataUrl}${path}`, init)
  const id = res.headers['x-request-id'] as string
  await gw.data.mirror.idle()
  await expect.poll(() => diffs.messages.filter((m) => m.value.requestId === id).length, { timeout: 15_000 }).toBe(1)
  return diffs.messages.find((m) => m.value.requestId === id)!.value
}

describe('every difference is counted', () => {
  it('500 differing prices: all 500 counted under one path, 50 examples kept, and the event says it truncated', async () => {
    const e = await eventOf('/prices')
    expect(e.total).toBe(500)
    expect(e.fields).toEqual([{ path: 'body.items[*].price', kind: 'changed', count: 500 }])
    expect(e.differences).toHaveLength(50)
    expect(e.differences[0]).toEqual({ path: 'body.items[0].price', kind: 'changed', legacy: 0, cloud: 1 })
    expect(e.truncated).toBe(true)
  })

  it('500 differing keys: each one counted by its own path, examples bounded by compare.maxExamples', async () => {
    const e = await eventOf('/wide')
    expect(e.total).toBe(500)
    expect(e.fields).toHaveLength(500)
    expect(e.fields.every((f) => f.count === 1 && f.kind === 'changed')).toBe(true)
    expect(new Set(e.fields.map((f) => f.path))).toEqual(new Set(Array.from({ length: 500 }, (_, i) => `body.f${i}`)))
    expect(e.differences).toHaveLength(10)
    expect(e.truncated).toBe(true)
  })
})

describe('difference kinds and compare.normalize', () => {
  it('without normalize: a number against a numeric string is a type difference, and so is a timestamp format', async () => {
    const e = await eventOf('/strict/21')
    expect(e.differences).toEqual([
      { path: 'body.id', kind: 'type', legacy: 21, cloud: '21' },
      { path: 'body.placedAt', kind: 'type', legacy: '2026-01-01T10:00:00Z', cloud: 1767261600 },
      { path: 'body.price', kind: 'changed', legacy: '10.50', cloud: '10.5' },
    ])
  })

  it('with normalize: the same answers match, and the exchange counts as a match', async () => {
    const matches = async () => (await gw.metrics.mirror.get()).values.find((v) => v.labels.route === 'orders' && v.labels.outcome === 'match')?.value ?? 0
    const before = await matches()
    const res = await call(`${gw.dataUrl}/orders/21`)
    await gw.data.mirror.idle()
    expect(await matches()).toBe(before + 1)
    expect(gw.data.diffs.recent({ route: 'orders' }, 10)).toEqual([])
    expect(res.status).toBe(200)
  })
})

describe('propagate', () => {
  it('sets body fields of the mirrored request (the field itself and a nested one) and a header', async () => {
    const c0 = cloud.requests.length
    const res = await call(`${gw.dataUrl}/things`, { method: 'POST', body: '{"name":"x","id":"client"}', headers: { 'content-type': 'application/json' } })
    expect(res.status).toBe(201)
    await gw.data.mirror.idle()
    const sent = cloud.requests.slice(c0)
    expect(sent).toHaveLength(1)
    expect(JSON.parse(sent[0]!.body.toString())).toEqual({ name: 'x', id: 77, meta: { legacyId: 77 } })
    expect(sent[0]!.headers['x-entity-id']).toBe('77')
    expect(Number(sent[0]!.headers['content-length'])).toBe(sent[0]!.body.length)
  })
})

describe('GET /diffs filters and GET /diffs/summary', () => {
  it('filters by route, kind, method, path and field; answers 400 naming an unknown or bad filter', async () => {
    await eventOf('/strict/5')
    const get = async (q: string) => (await admin(gw, `/diffs?${q}`)).json() as DiffEvent[]
    expect((await get('kind=type')).every((e) => e.route === 'strict')).toBe(true)
    expect((await get('kind=type')).length).toBeGreaterThan(0)
    expect((await get('field=body.items[*].price')).map((e) => e.route)).toEqual(['prices'])
    expect((await get('field=body.items[3].price&kind=changed')).map((e) => e.route)).toEqual(['prices'])
    expect((await get('path=/strict/5')).map((e) => e.path)).toEqual(['/strict/5'])
    expect((await get('path=/strict/')).length).toBeGreaterThanOrEqual(2)
    expect(await get('method=POST')).toEqual([])
    expect((await get('route=wide&limit=1')).map((e) => e.route)).toEqual(['wide'])

    const unknown = await admin(gw, '/diffs?rout=prices')
    expect(unknown.status).toBe(400)
    expect(unknown.text).toContain('rout')
    const badKind = await admin(gw, '/diffs?kind=weird')
    expect(badKind.status).toBe(400)
    expect(badKind.text).toContain('kind')
    const badField = await admin(gw, '/diffs?field=bodyy.x')
    expect(badField.status).toBe(400)
    expect(badField.text).toContain('field')
    expect((await admin(gw, '/diffs?limit=0')).status).toBe(400)
    expect((await admin(gw, '/diffs?route=nope')).status).toBe(404)
  })

  it('groups every event by route, method, field and kind, with counts, first/last seen and a redacted example pair', async () => {
    await eventOf('/prices')
    const summary = (await admin(gw, '/diffs/summary?route=prices')).json() as DiffSummary
    const g = summary.groups.find((x: DiffGroup) => x.field === 'body.items[*].price')!
    expect(g).toMatchObject({ route: 'prices', method: 'GET', kind: 'changed' })
    // two events of 500 each so far (this file sent /prices twice)
    expect(g.count).toBe(1000)
    expect(g.firstSeen <= g.lastSeen).toBe(true)
    expect(g.example).toMatchObject({ primary: 'legacy', secondary: 'cloud', values: { legacy: 0, cloud: 1 } })
    expect((await admin(gw, '/diffs/summary?kind=x')).status).toBe(400)
  })
})

describe('the event schema', () => {
  it('every event on the topic fits the published JSON Schema, and docs/schemas is current', async () => {
    expect(diffs.messages.length).toBeGreaterThanOrEqual(5)
    for (const m of diffs.messages) expect(diffEventSchema.safeParse(m.value).error).toBeUndefined()
    for (const [file, make] of Object.entries(SCHEMA_FILES)) {
      expect(JSON.parse(readFileSync(join('docs', 'schemas', file), 'utf8')), `docs/schemas/${file} is stale: npm run schemas`).toEqual(make())
    }
  })
})

describe('config accepts what events report', () => {
  it('every path reported above can be pasted into compare.ignore', async () => {
    const reported = [...new Set(diffs.messages.flatMap((m) => [...m.value.differences.map((d) => d.path), ...m.value.fields.map((f) => f.path)]))]
    expect(reported.length).toBeGreaterThan(500)
    const { validateConfig } = await import('../../src/config/validate.ts')
    expect(() => validateConfig(testConfig(legacy.url, cloud.url, { routes: [{ id: 'r', path: '/r', compare: { ignore: reported } }] }))).not.toThrow()
  })
})
