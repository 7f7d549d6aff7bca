import { beforeAll, describe, expect, it } from 'vitest'
import { CONSOLE_CSP } from '../../src/console/console-routes.ts'
import type { Gateway } from '../../src/gateway.ts'
import { admin, call, testConfig, TOKEN } from '../support/gateway.ts'
import type { Origin } from '../support/origin.ts'
import { openGateway, withGateway } from '../support/setup.ts'

let legacy: Origin
let cloud: Origin
let gw: Gateway
let open: Gateway

beforeAll(async () => {
  const routes = [{ id: 'orders', methods: ['GET' as const], path: '/orders/:id', weight: 10 }]
  ;({ legacy, cloud, gw } = await withGateway({ config: { routes } }))
  // no token: allowed because the admin API is on loopback
  open = await openGateway(testConfig(legacy.url, cloud.url, { routes, admin: { host: '127.0.0.1', port: 0 } }))
})

type ErrorBody = { error: { code: string; message: string } }

function page(g: Gateway, path: string, headers: Record<string, string> = {}) {
  return call(g.adminUrl + path, { headers })
}

async function login(token = TOKEN): Promise<{ status: number; cookie: string | undefined; setCookie: string | undefined }> {
  const res = await call(`${gw.adminUrl}/console/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }) })
  const setCookie = res.headers['set-cookie'] as string | undefined
  return { status: res.status, setCookie, cookie: setCookie?.split(';', 1)[0] }
}

async function csrfOf(cookie: string): Promise<string> {
  const html = (await page(gw, '/', { cookie })).text
  const m = /<meta name="cutover-csrf" content="([^"]+)">/.exec(html)
  if (m === null) throw new Error('no CSRF token on the page')
  return m[1] as string
}

function expectSecurityHeaders(headers: Record<string, unknown>): void {
  expect(headers['content-security-policy']).toBe(CONSOLE_CSP)
  expect(headers['x-frame-options']).toBe('DENY')
  expect(headers['referrer-policy']).toBe('no-referrer')
  expect(headers['x-content-type-options']).toBe('nosniff')
}

describe('ops console over HTTP', () => {
  it('without a session shows the login form and no route data, with strict security headers', async () => {
    const res = await page(gw, '/')
    expect(res.status).toBe(200)
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8')
    expectSecurityHeaders(res.headers)
    expect(res.text).toContain('<label for="token">Admin token</label>')
    expect(res.text).not.toContain('orders')
    expect((await page(gw, '/console/route/orders')).text).not.toContain('/orders/:id')
    // the poller is told the session is gone
    expect((await page(gw, '/', { 'x-cutover-fragment': '1' })).status).toBe(401)
  })

  it('ships no inline script or style: one module and one stylesheet from the package', async () => {
    const { cookie } = await login()
    for (const path of ['/', '/console/route/orders']) {
      const html = (await page(gw, path, { cookie: cookie as string })).text
      expect([...html.matchAll(/<script\b[^>]*>/g)].map((m) => m[0])).toEqual(['<script type="module" src="/console/app.js">'])
      expect(html).not.toMatch(/<style\b|\sstyle=|\son[a-z]+=/i)
    }
    const js = await page(gw, '/console/app.js')
    expect(js.status).toBe(200)
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8')
    expect(js.text).toContain('x-cutover-csrf')
    expect((await page(gw, '/console/app.css')).headers['content-type']).toBe('text/css; charset=utf-8')
    expect((await page(gw, '/console/nope.js')).status).toBe(404)
  })

  it('a wrong token gets 401 and no cookie; the right one an HttpOnly SameSite=Strict session cookie', async () => {
    const wrong = await login('wrong-token-wrong-token')
    expect(wrong.status).toBe(401)
    expect(wrong.setCookie).toBeUndefined()
    const right = await login()
    expect(right.status).toBe(204)
    const attrs = (right.setCookie as string).split(';').map((s) => s.trim())
    expect(attrs[0]).toMatch(/^cutover_session=[A-Za-z0-9_-]{43}$/)
    expect(attrs).toEqual(expect.arrayContaining(['Path=/', 'HttpOnly', 'SameSite=Strict']))
    expect(attrs).not.toContain('Secure') // plain http on loopback; https adds it
    const res = await page(gw, '/', { cookie: right.cookie as string })
    expect(res.text).toContain('<a href="/console/route/orders">orders</a>')
    expect(res.text).not.toContain(TOKEN)
  })

  it('state changes with a session need its CSRF header; the bearer token alone still works for API clients', async () => {
    const { cookie } = await login()
    const c = cookie as string
    const noCsrf = await admin(gw, '/routes/orders', { method: 'PATCH', token: null, headers: { cookie: c }, body: { weight: 20 } })
    expect(noCsrf.status).toBe(403)
    expect((noCsrf.json() as ErrorBody).error.code).toBe('CUTOVER_FORBIDDEN')
    const wrongCsrf = await admin(gw, '/routes/orders', { method: 'PATCH', token: null, headers: { cookie: c, 'x-cutover-csrf': 'x'.repeat(43) }, body: { weight: 20 } })
    expect(wrongCsrf.status).toBe(403)
    expect(gw.store.get('orders')?.weight).toBe(10)

    const csrf = await csrfOf(c)
    const ok = await admin(gw, '/routes/orders', { method: 'PATCH', token: null, headers: { cookie: c, 'x-cutover-csrf': csrf }, body: { weight: 20 } })
    expect(ok.status).toBe(200)
    expect(gw.store.get('orders')?.weight).toBe(20)
    const audit = (await admin(gw, '/audit?limit=1')).json() as { who: string }[]
    expect(audit[0]?.who).toMatch(/^token:admin@/)

    // reads with the cookie need no CSRF header
    expect((await admin(gw, '/readiness', { token: null, headers: { cookie: c } })).status).toBe(200)
    // an API client with the bearer token needs neither cookie nor CSRF
    expect((await admin(gw, '/routes/orders', { method: 'PATCH', body: { weight: 10 } })).status).toBe(200)
  })

  it('refuses a state change sent from another origin, even with the session and its CSRF token', async () => {
    const { cookie } = await login()
    const c = cookie as string
    const csrf = await csrfOf(c)
    const res = await admin(gw, '/routes/orders/rollback', { method: 'POST', token: null, headers: { cookie: c, 'x-cutover-csrf': csrf, origin: 'http://attacker.example' } })
    expect(res.status).toBe(403)
    expect((res.json() as ErrorBody).error.message).toBe('cross-origin request refused')
    expect(gw.store.get('orders')?.weight).toBe(10)
  })

  it('logging out ends the session', async () => {
    const { cookie } = await login()
    const c = cookie as string
    const csrf = await csrfOf(c)
    const out = await call(`${gw.adminUrl}/console/logout`, { method: 'POST', headers: { cookie: c, 'x-cutover-csrf': csrf } })
    expect(out.status).toBe(204)
    expect(out.headers['set-cookie']).toContain('Max-Age=0')
    expect((await admin(gw, '/routes', { token: null, headers: { cookie: c } })).status).toBe(401)
    expect((await page(gw, '/', { cookie: c })).text).toContain('Admin token')
  })

  it('serves the chart series per route to a session, and uPlot from the installed package', async () => {
    const { cookie } = await login()
    expect((await page(gw, '/console/series/orders')).status).toBe(401)
    const res = await page(gw, '/console/series/orders', { cookie: cookie as string })
    expect(res.status).toBe(200)
    const body = res.json() as { route: string; intervalMs: number; points: { t: number; legacy: { requests: number } }[] }
    expect(body).toMatchObject({ route: 'orders', intervalMs: 60_000 })
    expect(body.points.length).toBeGreaterThanOrEqual(1)
    expect((await page(gw, '/console/series/nope', { cookie: cookie as string })).status).toBe(404)
    const uplot = await page(gw, '/console/vendor/uPlot.esm.js')
    expect(uplot.status).toBe(200)
    expect(uplot.text).toContain('export { uPlot as default }')
    expect((await page(gw, '/console/vendor/uPlot.min.css')).headers['content-type']).toBe('text/css; charset=utf-8')
  })

  it('is never served on the data port: / and /console/* go to the backends like any request', async () => {
    for (const path of ['/', '/console/app.js', '/console/route/orders']) {
      const res = await call(gw.dataUrl + path)
      expect(res.headers['x-origin']).toBe('legacy')
      expect(res.headers['content-security-policy']).toBeUndefined()
      expect(res.text).not.toContain('Cutover console')
    }
  })

  it('without an admin token (loopback only) works without login, but refuses a non-loopback Host (DNS rebinding) and other origins', async () => {
    const res = await page(open, '/')
    expect(res.status).toBe(200)
    expectSecurityHeaders(res.headers)
    expect(res.text).toContain('<a href="/console/route/orders">orders</a>')
    expect(res.text).not.toContain('cutover-csrf')
    const rebound = await page(open, '/', { host: `attacker.example:${new URL(open.adminUrl).port}` })
    expect(rebound.status).toBe(403)
    const cross = await admin(open, '/routes/orders/rollback', { method: 'POST', token: null, headers: { origin: 'http://attacker.example' } })
    expect(cross.status).toBe(403)
    expect(open.store.get('orders')?.weight).toBe(10)
    // curl and scripts (no Origin) are unaffected
    expect((await admin(open, '/routes/orders', { method: 'PATCH', token: null, body: { weight: 15 } })).status).toBe(200)
  })
})
