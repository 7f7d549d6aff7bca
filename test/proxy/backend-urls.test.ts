import { beforeAll, describe, expect, it } from 'vitest'
import type { Gateway } from '../../src/gateway.ts'
import { BackendUrls } from '../../src/proxy/backend-urls.ts'
import { call } from '../support/gateway.ts'
import type { Origin, OriginHandler } from '../support/origin.ts'
import { withGateway } from '../support/setup.ts'

let legacy: Origin
let cloud: Origin
let gw: Gateway

/** Answers the way a framework does behind a proxy: absolute URLs built from the Host it got. */
function urlsFromHost(name: string): OriginHandler {
  return (req, res) => {
    const self = `http://${req.headers.host}`
    const headers: Record<string, string | string[]> = {
      'content-type': 'application/json',
      location: `${self}/comments/46`,
      'content-location': `${self}/comments/46?v=1`,
      link: `<${self}/comments?page=2>; rel="next", <https://cdn.example.org/a.css>; rel="preload"`,
      'x-origin': name,
    }
    // a Set-Cookie alone would keep the answer out of the cache: /cached has none
    if (req.url !== '/cached') headers['set-cookie'] = [`sid=abc; Domain=${req.headers.host?.split(':')[0]}; Path=/; HttpOnly`, 'theme=dark; Domain=other.example; Path=/']
    res.writeHead(req.method === 'POST' ? 201 : 200, headers)
    res.end(JSON.stringify({ origin: name }))
  }
}

beforeAll(async () => {
  ;({ legacy, cloud, gw } = await withGateway({
    legacy: urlsFromHost('legacy'),
    cloud: urlsFromHost('cloud'),
    config: {
      routes: [
        { id: 'comments', path: '/comments', weight: 0, mirror: 'off' },
        { id: 'cached', methods: ['GET'], path: '/cached', weight: 100, mirror: 'off', cache: { ttlMs: 60_000 } },
        { id: 'kept-host', path: '/kept', weight: 100, mirror: 'off', preserveHost: true },
      ],
    },
  }))
})

describe('backend addresses in answers', () => {
  it('Location, Content-Location, Link and Set-Cookie Domain name the address the client used', async () => {
    const res = await call(`${gw.dataUrl}/comments`, { method: 'POST', headers: { host: 'shop.example:8443', 'content-type': 'application/json' }, body: '{}' })
    expect(res.status).toBe(201)
    expect(legacy.requests.at(-1)?.headers.host).toBe(new URL(legacy.url).host)
    expect(res.headers.location).toBe('http://shop.example:8443/comments/46')
    expect(res.headers['content-location']).toBe('http://shop.example:8443/comments/46?v=1')
    expect(res.headers.link).toBe('<http://shop.example:8443/comments?page=2>; rel="next", <https://cdn.example.org/a.css>; rel="preload"')
    expect(res.headers['set-cookie']).toEqual(['sid=abc; Domain=shop.example; Path=/; HttpOnly', 'theme=dark; Domain=other.example; Path=/'])
  })

  it('a client using the gateway address sees the gateway address', async () => {
    const res = await call(`${gw.dataUrl}/comments`)
    expect(res.headers.location).toBe(`${gw.dataUrl}/comments/46`)
    expect(String(res.headers.location)).not.toContain(legacy.url)
  })

  it('relative and foreign URLs pass unchanged', async () => {
    legacy.handler = (_req, res) => {
      res.writeHead(302, { location: '/login?next=%2Fcomments', link: '<https://cdn.example.org/a.css>; rel="preload"' })
      res.end()
    }
    try {
      const res = await call(`${gw.dataUrl}/comments`, { headers: { host: 'shop.example' } })
      expect(res.status).toBe(302)
      expect(res.headers.location).toBe('/login?next=%2Fcomments')
      expect(res.headers.link).toBe('<https://cdn.example.org/a.css>; rel="preload"')
    } finally {
      legacy.handler = urlsFromHost('legacy')
    }
  })

  it('an answer whose URLs were rewritten for one Host is not cached for another', async () => {
    const a = await call(`${gw.dataUrl}/cached`, { headers: { host: 'a.example' } })
    const b = await call(`${gw.dataUrl}/cached`, { headers: { host: 'b.example' } })
    expect(a.headers.location).toBe('http://a.example/comments/46')
    expect(b.headers.location).toBe('http://b.example/comments/46')
    expect(b.headers['x-cutover-cache']).toBe('miss')
  })

  it('preserveHost sends the client’s Host upstream, so the backend builds the client’s URLs', async () => {
    const before = cloud.requests.length
    const res = await call(`${gw.dataUrl}/kept`, { headers: { host: 'shop.example:8443' } })
    expect(res.status).toBe(200)
    expect(cloud.requests[before]?.headers.host).toBe('shop.example:8443')
    expect(res.headers['x-cutover-backend']).toBe('cloud')
    expect(res.headers.location).toBe('http://shop.example:8443/comments/46')
    expect(res.headers['set-cookie']).toEqual(['sid=abc; Domain=shop.example; Path=/; HttpOnly', 'theme=dark; Domain=other.example; Path=/'])
  })
})

describe('BackendUrls', () => {
  const urls = new BackendUrls('http://10.0.0.7/base')
  it('matches whole origins and path segments only, default port spelled or not', () => {
    expect(urls.rewriteUrl('http://10.0.0.7/base/x?y=1', 'https://shop.example')).toBe('https://shop.example/x?y=1')
    expect(urls.rewriteUrl('HTTP://10.0.0.7:80/base', 'https://shop.example')).toBe('https://shop.example/')
    expect(urls.rewriteUrl('http://10.0.0.7/other', 'https://shop.example')).toBe('https://shop.example/other')
    expect(urls.rewriteUrl('http://10.0.0.70/base', 'https://shop.example')).toBeNull()
    expect(urls.rewriteUrl('http://10.0.0.7:8080/base', 'https://shop.example')).toBeNull()
  })
  it('takes a single Set-Cookie as a string, as undici hands it over', () => {
    const headers = { 'set-cookie': 'sid=1; domain=.10.0.0.7; path=/' as unknown as string[] }
    expect(urls.rewrite(headers, 'https://shop.example', 'shop.example')).toBe(true)
    expect(headers['set-cookie']).toEqual(['sid=1; domain=shop.example; path=/'])
  })
})
