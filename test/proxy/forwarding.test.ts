import { beforeAll, describe, expect, it } from 'vitest'
import { connect } from 'node:net'
import type { Gateway } from '../../src/gateway.ts'
import { call, gatewayFor, rawHttp, testConfig } from '../support/gateway.ts'
import type { Origin } from '../support/origin.ts'
import { withGateway } from '../support/setup.ts'

let legacy: Origin
let cloud: Origin
let gw: Gateway

beforeAll(async () => {
  ;({ legacy, cloud, gw } = await withGateway({
    config: {
      routes: [
        { id: 'read', methods: ['GET', 'HEAD'], path: '/api/orders/:id', weight: 100, rewrite: { cloud: '/v2/orders/:id' } },
        { id: 'write', methods: ['POST', 'PUT', 'DELETE'], path: '/api/orders/*', weight: 0 },
        { id: 'tenant', methods: ['GET'], path: '/t', weight: 100, match: { headers: { 'x-tenant': 'acme' } } },
      ],
      fallback: 'legacy',
    },
  }))
})

const last = (o: Origin) => o.requests[o.requests.length - 1]!

describe('forwarding', () => {
  it("rewrites the path for the backend that has one, keeping the query string", async () => {
    const res = await call(`${gw.dataUrl}/api/orders/42?expand=items&x=%20`)
    expect(res.status).toBe(200)
    expect(res.headers['x-cutover-backend']).toBe('cloud')
    expect(last(cloud).url).toBe('/v2/orders/42?expand=items&x=%20')
  })

  it('covers the bare prefix with a trailing /* and sends writes to legacy at weight 0', async () => {
    const res = await call(`${gw.dataUrl}/api/orders`, { method: 'POST', body: '{"a":1}', headers: { 'content-type': 'application/json' } })
    expect(res.status).toBe(200)
    expect(res.headers['x-cutover-backend']).toBe('legacy')
    expect(last(legacy)).toMatchObject({ method: 'POST', url: '/api/orders' })
    expect(last(legacy).body.toString()).toBe('{"a":1}')
  })

  it('sets X-Forwarded-*, keeps a client x-request-id and Idempotency-Key, and returns x-request-id', async () => {
    const res = await call(`${gw.dataUrl}/api/orders/7`, {
      method: 'PUT',
      body: 'x',
      headers: { host: 'shop.example', 'x-request-id': 'req-123', 'idempotency-key': 'idem-9', 'x-forwarded-for': '203.0.113.9' },
    })
    expect(res.headers['x-request-id']).toBe('req-123')
    const h = last(legacy).headers
    expect(h['x-request-id']).toBe('req-123')
    expect(h['idempotency-key']).toBe('idem-9')
    expect(h['x-forwarded-for']).toBe('203.0.113.9, 127.0.0.1')
    expect(h['x-forwarded-proto']).toBe('http')
    expect(h['x-forwarded-host']).toBe('shop.example')
    expect(h.host).toBe(`127.0.0.1:${legacy.port}`)
  })

  it('replaces X-Forwarded-Proto/Host from an untrusted client, keeps them with listen.trustProxy', async () => {
    await call(`${gw.dataUrl}/api/orders/8`, { method: 'PUT', body: 'x', headers: { host: 'edge', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example' } })
    expect(last(legacy).headers['x-forwarded-proto']).toBe('http')
    expect(last(legacy).headers['x-forwarded-host']).toBe('edge')
    const trusting = await gatewayFor(testConfig(legacy.url, cloud.url, { listen: { host: '127.0.0.1', port: 0, trustProxy: true } }))
    try {
      await call(`${trusting.dataUrl}/x`, { headers: { host: 'edge', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'shop.example' } })
      expect(last(legacy).headers['x-forwarded-proto']).toBe('https')
      expect(last(legacy).headers['x-forwarded-host']).toBe('shop.example')
    } finally {
      await trusting.close()
    }
  })

  it('generates a request id for every request and an Idempotency-Key for writes only', async () => {
    const w = await call(`${gw.dataUrl}/api/orders/1`, { method: 'DELETE' })
    const sentW = last(legacy).headers
    expect(w.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/)
    expect(sentW['x-request-id']).toBe(w.headers['x-request-id'])
    expect(sentW['idempotency-key']).toMatch(/^[0-9a-f-]{36}$/)
    await call(`${gw.dataUrl}/api/orders/1`)
    expect(last(cloud).headers['idempotency-key']).toBeUndefined()
    expect(last(cloud).headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/)
  })

  it('strips hop-by-hop headers both ways, including those named in Connection', async () => {
    legacy.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 2, 'x-secret-hop': 'no', connection: 'x-secret-hop', 'keep-alive': 'timeout=5', 'x-kept': 'yes' })
      res.end('ok')
    }
    try {
      const res = await rawHttp(
        gw.dataUrl,
        'PUT /api/orders/5 HTTP/1.1\nHost: a\nContent-Length: 1\nX-Drop-Me: 1\nTE: trailers\nX-Keep: k\nConnection: close, X-Drop-Me\n\n',
        'b',
      )
      const h = last(legacy).headers
      expect(h['x-drop-me']).toBeUndefined()
      expect(h.te).toBeUndefined()
      expect(h['x-keep']).toBe('k')
      expect(res.raw.toLowerCase()).not.toContain('x-secret-hop')
      expect(res.raw.toLowerCase()).toContain('x-kept: yes')
      expect(res.body).toBe('ok')
    } finally {
      legacy.handler = (await import('../support/origin.ts')).echo('legacy')
    }
  })

  it('passes status, headers and body through byte for byte, including multiple Set-Cookie', async () => {
    const body = Buffer.from(Array.from({ length: 70_000 }, (_, i) => i % 251))
    cloud.handler = (_req, res) => {
      res.setHeader('set-cookie', ['a=1; Path=/', 'b=2; HttpOnly'])
      res.writeHead(418, { 'content-type': 'application/octet-stream', 'x-custom': 'v' })
      res.end(body)
    }
    try {
      const res = await fetch(`${gw.dataUrl}/api/orders/9`)
      expect(res.status).toBe(418)
      expect(res.headers.getSetCookie()).toEqual(['a=1; Path=/', 'b=2; HttpOnly'])
      expect(res.headers.get('x-custom')).toBe('v')
      expect(Buffer.from(await res.arrayBuffer()).equals(body)).toBe(true)
    } finally {
      cloud.handler = (await import('../support/origin.ts')).echo('cloud')
    }
  })

  it('answers HEAD without a body', async () => {
    const res = await call(`${gw.dataUrl}/api/orders/3`, { method: 'HEAD' })
    expect(res.status).toBe(200)
    expect(res.text).toBe('')
    expect(last(cloud).method).toBe('HEAD')
  })

  it('matches header rules and sends other requests to the fallback', async () => {
    expect((await call(`${gw.dataUrl}/t`, { headers: { 'x-tenant': 'acme' } })).headers['x-cutover-backend']).toBe('cloud')
    const other = await call(`${gw.dataUrl}/t`, { headers: { 'x-tenant': 'other' } })
    expect(other.headers['x-cutover-backend']).toBe('legacy')
    expect(last(legacy).url).toBe('/t')
  })

  it('answers malformed HTTP with a 400 in the gateway error shape', async () => {
    const port = Number(new URL(gw.dataUrl).port)
    const raw = await new Promise<string>((resolve) => {
      const s = connect(port, '127.0.0.1', () => s.write('GET /x HTTP/1.1\r\nHost: a\r\nBad Header\r\n\r\n'))
      let text = ''
      s.on('data', (c) => (text += c))
      s.on('close', () => resolve(text))
    })
    expect(raw.startsWith('HTTP/1.1 400')).toBe(true)
    expect(raw).toContain('"code":"CUTOVER_BAD_REQUEST"')
  })
})

describe('path normalisation at the edge', () => {
  it.each(['/..%2fapi/orders/1', '/api/orders/..%2f..%2fadmin', '/api%2forders/1', '/api/orders/1%5c..', '/../api/orders/1'])('refuses %s with 400 and sends nothing upstream', async (path) => {
    const before = legacy.requests.length + cloud.requests.length
    const res = await rawHttp(gw.dataUrl, `GET ${path} HTTP/1.1\nHost: a\nConnection: close\n\n`)
    expect(res.status).toBe(400)
    expect((JSON.parse(res.body) as { error: { code: string } }).error.code).toBe('CUTOVER_BAD_PATH')
    expect(legacy.requests.length + cloud.requests.length).toBe(before)
  })

  it('matches the normalised path and forwards that, never the raw spelling', async () => {
    // /api/orders/x/../1 is /api/orders/1: the read route (cloud), not the write route's wildcard
    const res = await rawHttp(gw.dataUrl, 'GET /api//orders/x/../1 HTTP/1.1\nHost: a\nConnection: close\n\n')
    expect(res.raw).toContain('x-cutover-backend: cloud')
    expect(last(cloud).url).toBe('/v2/orders/1')
    const enc = await rawHttp(gw.dataUrl, 'GET /api/orders/x/%2e%2e/2 HTTP/1.1\nHost: a\nConnection: close\n\n')
    expect(enc.raw).toContain('x-cutover-backend: cloud')
    expect(last(cloud).url).toBe('/v2/orders/2')
  })
})
