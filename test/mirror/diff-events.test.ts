import type { IncomingMessage, ServerResponse } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Gateway } from '../../src/gateway.ts'
import type { DiffEvent } from '../../src/publish/events.ts'
import { admin, call } from '../support/gateway.ts'
import { brokers, collect, topicsFor, type Collected } from '../support/kafka.ts'
import { withGateway } from '../support/setup.ts'
import { NOISE_MIN_PAIRS } from '../../src/compare/noise-learner.ts'

let gw: Gateway
let diffs: Collected<DiffEvent>
const topics = topicsFor('diff-events')
let seq = 0

function json(body: unknown, extra: Record<string, string> = {}) {
  const text = JSON.stringify(body)
  return { text, headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...extra } }
}

beforeAll(async () => {
  // Both sides agree except: cloud's total is off by one for order 42, every answer carries
  // a fresh timestamp (noise), and an `etag` that differs.
  const answer = (side: 'legacy' | 'cloud') => (req: IncomingMessage, res: ServerResponse) => {
    const id = (req.url ?? '').split('/').pop()?.split('?')[0] ?? ''
    const total = side === 'cloud' && id === '42' ? 11 : 10
    const { text, headers } = json(
      { id, total, items: [{ sku: 'a', qty: 1, updatedAt: `${side}-${++seq}` }], generatedAt: `${Date.now()}-${++seq}`, authToken: `secret-${side}` },
      { etag: `"${side}"` },
    )
    res.writeHead(200, headers)
    res.end(text)
  }
  ;({ gw } = await withGateway({
    legacy: answer('legacy'),
    cloud: answer('cloud'),
    config: {
      routes: [
        // shadow: legacy serves, every read mirrored; timestamps inside items are ignored by rule
        { id: 'orders', methods: ['GET'], path: '/orders/:id', weight: 0, mirror: 'all', readSample: 1, compare: { ignore: ['body.items[*].updatedAt'], headers: ['etag'] }, redact: ['body.authToken'] },
        // same, but noise learning off: the fresh timestamp shows up as a mismatch every time
        { id: 'all-ignored', methods: ['GET'], path: '/same/:id', weight: 0, mirror: 'all', compare: { ignore: ['body.items[*].updatedAt', 'body.generatedAt', 'headers.etag', 'body.authToken'], headers: ['etag'], learnNoise: false } },
        { id: 'no-learning', methods: ['GET'], path: '/plain/:id', weight: 0, mirror: 'all', compare: { ignore: ['body.items[*].updatedAt', 'headers.etag', 'body.authToken'], learnNoise: false } },
      ],
      kafka: { brokers: brokers(), topics },
    },
  }))
  diffs = await collect<DiffEvent>(topics.diffs)
})
afterAll(async () => {
  await diffs?.stop()
})

const forRequest = (requestId: string) => diffs.messages.filter((m) => m.value.requestId === requestId)

describe('compare and publish', () => {
  it('learns a noisy timestamp from the first independent sampled reads: no mismatch for it after that', async () => {
    for (let i = 1; i <= NOISE_MIN_PAIRS; i++) {
      expect((await call(`${gw.dataUrl}/orders/${i}`)).status).toBe(200)
      await gw.data.mirror.idle()
    }
    const route = (await admin(gw, '/routes/orders')).json() as { noise: string[] }
    expect(route.noise).toContain('body.generatedAt')
    const res = await call(`${gw.dataUrl}/orders/7`)
    await gw.data.mirror.idle()
    // the learned field is not reported, but the etag rule still is
    await expect.poll(() => forRequest(res.headers['x-request-id'] as string).length, { timeout: 15_000 }).toBe(1)
    const event = forRequest(res.headers['x-request-id'] as string)[0]!.value
    expect(event.differences.map((d) => d.path).sort()).toEqual(['body.authToken', 'headers.etag'])
    // a configured secret field is named, never shown
    expect(event.differences).toContainEqual({ path: 'body.authToken', kind: 'changed', legacy: '[redacted]', cloud: '[redacted]' })
    // the hidden timestamp is still counted, as noise
    expect(event.noise).toBe(1)

    for (let i = 0; i < 20; i++) await call(`${gw.dataUrl}/orders/${100 + i}`)
    await gw.data.mirror.idle()
    await expect.poll(() => diffs.messages.filter((m) => m.value.route === 'orders').length, { timeout: 15_000 }).toBe(NOISE_MIN_PAIRS + 21)
    for (const m of diffs.messages.filter((x) => x.value.route === 'orders').slice(NOISE_MIN_PAIRS)) {
      expect(m.value.differences.map((d) => d.path)).not.toContain('body.generatedAt')
    }
  })

  it('publishes one mismatch event naming the exact field path, keyed by route, in the documented event shape', async () => {
    const res = await call(`${gw.dataUrl}/orders/42?x=1`, { headers: { authorization: 'Bearer top-secret', cookie: 'sid=1' } })
    const requestId = res.headers['x-request-id'] as string
    await gw.data.mirror.idle()
    await expect.poll(() => forRequest(requestId).length, { timeout: 15_000 }).toBe(1)
    const { key, value } = forRequest(requestId)[0]!
    expect(key).toBe('orders')
    expect(value).toMatchObject({
      schema: 'cutover.diff/v1',
      route: 'orders',
      method: 'GET',
      path: '/orders/42?x=1',
      requestId,
      primary: 'legacy',
      secondary: 'cloud',
      kind: 'mismatch',
      status: { legacy: 200, cloud: 200 },
      truncated: false,
    })
    expect(value.id).toMatch(/^[0-9a-f-]{36}$/)
    expect(new Date(value.time).toISOString()).toBe(value.time)
    expect(value.latencyMs.legacy).toBeGreaterThan(0)
    expect(value.latencyMs.cloud).toBeGreaterThan(0)
    expect(value.differences).toContainEqual({ path: 'body.total', kind: 'changed', legacy: 10, cloud: 11 })
    expect(value.differences).toContainEqual({ path: 'headers.etag', kind: 'changed', legacy: '"legacy"', cloud: '"cloud"' })
    expect(value.fields).toContainEqual({ path: 'body.total', kind: 'changed', count: 1 })
    expect(value.total).toBe(value.differences.length)
    // secrets never reach the topic
    const raw = JSON.stringify(value)
    expect(raw).not.toContain('top-secret')
    expect(raw).not.toContain('secret-legacy')
    expect(raw).not.toContain('secret-cloud')
    // also visible through the admin API, newest first
    const recent = (await admin(gw, '/diffs?route=orders&limit=1')).json() as DiffEvent[]
    expect(recent[0]!.requestId).toBe(requestId)
  })

  it('reports nothing for fields the route ignores, and counts the match', async () => {
    const matches = async () => (await gw.metrics.mirror.get()).values.find((v) => v.labels.route === 'all-ignored' && v.labels.outcome === 'match')?.value ?? 0
    const before = await matches()
    const quiet = (await call(`${gw.dataUrl}/same/1`)).headers['x-request-id'] as string
    await gw.data.mirror.idle()
    expect(await matches()).toBe(before + 1)
    expect(gw.data.diffs.recent({ route: 'all-ignored' }, 10)).toEqual([])
    // the topic has one partition: once a later mismatch has arrived, an earlier event would have too
    const marker = (await call(`${gw.dataUrl}/orders/42`)).headers['x-request-id'] as string
    await gw.data.mirror.idle()
    await expect.poll(() => forRequest(marker).length, { timeout: 15_000 }).toBe(1)
    expect(forRequest(quiet)).toEqual([])
  })

  it('without noise learning, the timestamp is a mismatch on every exchange', async () => {
    const ids: string[] = []
    for (let i = 0; i < 3; i++) ids.push((await call(`${gw.dataUrl}/plain/${i}`)).headers['x-request-id'] as string)
    await gw.data.mirror.idle()
    await expect.poll(() => ids.every((id) => forRequest(id).length === 1), { timeout: 15_000 }).toBe(true)
    for (const id of ids) expect(forRequest(id)[0]!.value.differences.map((d) => d.path)).toEqual(['body.generatedAt'])
  })
})
