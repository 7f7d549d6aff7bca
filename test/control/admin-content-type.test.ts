import { beforeAll, describe, expect, it } from 'vitest'
import type { Gateway } from '../../src/gateway.ts'
import { call, TOKEN } from '../support/gateway.ts'
import { withGateway } from '../support/setup.ts'

let gw: Gateway

beforeAll(async () => {
  ;({ gw } = await withGateway({ config: { routes: [{ id: 'orders', methods: ['GET'], path: '/orders/:id', weight: 30 }] } }))
})

const auth = { authorization: `Bearer ${TOKEN}` }
type ErrorBody = { error: { code: string; message: string } }

describe('admin API media types', () => {
  it.each([
    ['no content-type', {}],
    ['text/plain', { 'content-type': 'text/plain' }],
    ['form data', { 'content-type': 'application/x-www-form-urlencoded' }],
  ])('answers a PATCH with %s 415, naming what it wants', async (_what, headers: Record<string, string>) => {
    const res = await call(`${gw.adminUrl}/routes/orders`, { method: 'PATCH', headers: { ...auth, ...headers }, body: '{"weight":5}' })
    expect(res.status).toBe(415)
    const body = res.json() as ErrorBody
    expect(body.error.code).toBe('CUTOVER_UNSUPPORTED_MEDIA_TYPE')
    expect(body.error.message).toContain('content-type: application/json')
    // nothing changed
    expect(((await call(`${gw.adminUrl}/routes/orders`, { headers: auth })).json() as { weight: number }).weight).toBe(30)
  })

  it('answers a PATCH with no body and no content-type 415 too', async () => {
    const res = await call(`${gw.adminUrl}/routes/orders`, { method: 'PATCH', headers: auth })
    expect(res.status).toBe(415)
  })

  it('accepts JSON with a charset parameter', async () => {
    const res = await call(`${gw.adminUrl}/routes/orders`, { method: 'PATCH', headers: { ...auth, 'content-type': 'application/json; charset=utf-8' }, body: '{"weight":31}' })
    expect(res.status).toBe(200)
    expect((res.json() as { weight: number }).weight).toBe(31)
  })

  it('still says when a JSON body does not parse', async () => {
    const res = await call(`${gw.adminUrl}/routes/orders`, { method: 'PATCH', headers: { ...auth, 'content-type': 'application/json' }, body: '{"weight":' })
    expect(res.status).toBe(400)
    expect((res.json() as ErrorBody).error).toEqual({ code: 'CUTOVER_INVALID_INPUT', message: 'request body is not valid JSON' })
  })

  it.each([
    ['content-type: application/json and no body', { 'content-type': 'application/json' }],
    ['no content-type and no body', {}],
  ])('accepts a rollback with %s', async (_what, headers: Record<string, string>) => {
    await call(`${gw.adminUrl}/routes/orders`, { method: 'PATCH', headers: { ...auth, 'content-type': 'application/json' }, body: '{"weight":40}' })
    const res = await call(`${gw.adminUrl}/routes/orders/rollback`, { method: 'POST', headers: { ...auth, ...headers } })
    expect(res.status).toBe(200)
    expect((res.json() as { weight: number }).weight).toBe(0)
  })
})
