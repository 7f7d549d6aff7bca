import type { IncomingMessage, ServerResponse } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Gateway } from '../../src/gateway.ts'
import { admin, call, gatewayFor, testConfig } from '../support/gateway.ts'
import { startOrigin, type Origin } from '../support/origin.ts'

let legacy: Origin
let cloud: Origin
let gw: Gateway
let delayMs = 0
let version = 1

function answer(side: string) {
  return (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? ''
    const cc = url.includes('no-store') ? 'no-store' : url.includes('private') ? 'private, max-age=60' : url.includes('cookie') ? 'max-age=60' : 'max-age=60'
    const text = JSON.stringify({ side, url, version })
    const headers: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': cc }
    if (url.includes('cookie')) headers['set-cookie'] = 'sid=1'
    setTimeout(() => {
      res.writeHead(200, headers)
      res.end(text)
    }, delayMs)
  }
}

beforeAll(async () => {
  legacy = await startOrigin('legacy', answer('legacy'))
  cloud = await startOrigin('cloud', answer('cloud'))
  gw = await gatewayFor(
    testConfig(legacy.url, cloud.url, {
      backends: { legacy: { url: legacy.url, timeoutMs: 1000 }, cloud: { url: cloud.url, timeoutMs: 1000 } },
      routes: [
        { id: 'items', methods: ['GET', 'HEAD'], path: '/items/:id', weight: 0, mirror: 'off', cache: { ttlMs: 200, staleIfErrorMs: 60_000 } },
        { id: 'items-write', methods: ['PUT', 'POST', 'DELETE'], path: '/items/*', weight: 0, mirror: 'off' },
        { id: 'lists', methods: ['GET'], path: '/items', weight: 0, mirror: 'off', cache: { ttlMs: 60_000 } },
      ],
    }),
  )
})
afterAll(async () => {
  await gw?.close()
  await Promise.all([legacy?.close(), cloud?.close()])
})

const count = () => legacy.requests.length + cloud.requests.length

describe('read cache through the gateway', () => {
  it('serves a hit without touching the backend', async () => {
    const first = await call(`${gw.dataUrl}/items/1`)
    expect(first.headers['x-cutover-cache']).toBe('miss')
    const before = count()
    const second = await call(`${gw.dataUrl}/items/1`)
    expect(second.headers['x-cutover-cache']).toBe('hit')
    expect(second.text).toBe(first.text)
    expect(second.headers['x-cutover-backend']).toBe('legacy')
    expect(second.headers.age).toMatch(/^\d+$/)
    expect(second.headers['x-request-id']).not.toBe(first.headers['x-request-id'])
    expect(count()).toBe(before)
    const head = await call(`${gw.dataUrl}/items/1`, { method: 'HEAD' })
    expect(head.headers['x-cutover-cache']).toBe('hit')
    expect(head.text).toBe('')
    expect(count()).toBe(before)
    const metrics = (await admin(gw, '/metrics')).text
    expect(metrics).toMatch(/cutover_cache_total\{route="items",result="hit"\} [2-9]/)
    expect(metrics).toMatch(/cutover_cache_total\{route="items",result="miss"\} 1/)
  })

  it('turns 100 concurrent misses for one key into one upstream call', async () => {
    delayMs = 150
    try {
      const before = count()
      const answers = await Promise.all(Array.from({ length: 100 }, () => call(`${gw.dataUrl}/items?concurrent=1`)))
      expect(count() - before).toBe(1)
      expect(new Set(answers.map((a) => a.text)).size).toBe(1)
      expect(answers.filter((a) => a.headers['x-cutover-cache'] === 'miss')).toHaveLength(1)
      expect(answers.filter((a) => a.headers['x-cutover-cache'] === 'hit')).toHaveLength(99)
    } finally {
      delayMs = 0
    }
  })

  it.each(['no-store', 'private', 'cookie'])('never caches a %s answer', async (kind) => {
    const before = count()
    for (let i = 0; i < 3; i++) expect((await call(`${gw.dataUrl}/items/${kind}`)).headers['x-cutover-cache']).toBe('miss')
    expect(count() - before).toBe(3)
  })

  it('serves the stale copy while the backend is down, within the stale-if-error window', async () => {
    const fresh = await call(`${gw.dataUrl}/items/stale-me`)
    expect(fresh.status).toBe(200)
    // let the 200 ms TTL pass, then kill the backend
    await expect.poll(async () => (await call(`${gw.dataUrl}/items/other-${Math.random()}`)).status).toBe(200)
    await new Promise((r) => setTimeout(r, 250))
    await legacy.close()
    try {
      const res = await call(`${gw.dataUrl}/items/stale-me`)
      expect(res.status).toBe(200)
      expect(res.headers['x-cutover-cache']).toBe('stale')
      expect(res.text).toBe(fresh.text)
      // something never cached is read from the other side instead (read failover)
      const uncached = await call(`${gw.dataUrl}/items/never-seen`)
      expect(uncached.status).toBe(200)
      expect(uncached.headers['x-cutover-backend']).toBe('cloud')
    } finally {
      legacy = await startOrigin('legacy', answer('legacy'), legacy.port)
    }
  })

  it('drops a cached item and its collection when a write to the item passes through', async () => {
    await call(`${gw.dataUrl}/items/7`)
    await call(`${gw.dataUrl}/items`)
    expect((await call(`${gw.dataUrl}/items/7`)).headers['x-cutover-cache']).toBe('hit')
    expect((await call(`${gw.dataUrl}/items`)).headers['x-cutover-cache']).toBe('hit')
    version = 2
    expect((await call(`${gw.dataUrl}/items/7`, { method: 'PUT', body: '{}' })).status).toBe(200)
    const item = await call(`${gw.dataUrl}/items/7`)
    expect(item.headers['x-cutover-cache']).toBe('miss')
    expect((item.json() as { version: number }).version).toBe(2)
    expect((await call(`${gw.dataUrl}/items`)).headers['x-cutover-cache']).toBe('miss')
  })

  it("flushes a route's entries when its weight changes: the serving side changed", async () => {
    await call(`${gw.dataUrl}/items`)
    expect((await call(`${gw.dataUrl}/items`)).headers['x-cutover-backend']).toBe('legacy')
    await admin(gw, '/routes/lists', { method: 'PATCH', body: { weight: 100 } })
    const after = await call(`${gw.dataUrl}/items`)
    expect(after.headers['x-cutover-cache']).toBe('miss')
    expect(after.headers['x-cutover-backend']).toBe('cloud')
  })
})
