import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Gateway } from '../../src/gateway.ts'
import { admin, gatewayFor, testConfig } from '../support/gateway.ts'
import { startOrigin, type Origin } from '../support/origin.ts'

type ErrorBody = { error: { code: string; message: string; details?: string[] } }
let origin: Origin
let gw: Gateway

beforeAll(async () => {
  origin = await startOrigin('legacy')
  gw = await gatewayFor(testConfig(origin.url, origin.url, { routes: [{ id: 'orders', path: '/orders/*', weight: 0 }] }))
})
afterAll(async () => {
  await gw.close()
  await origin.close()
})

describe('admin API input', () => {
  it('answers 413 for an oversized body, not "not valid JSON"; the route is unchanged', async () => {
    const body = JSON.stringify({ weight: 5, pad: 'x'.repeat(10 * 1024 * 1024) })
    const res = await admin(gw, '/routes/orders', { method: 'PATCH', body })
    expect(res.status).toBe(413)
    expect((res.json() as ErrorBody).error.code).toBe('CUTOVER_BODY_TOO_LARGE')
    expect((await admin(gw, '/routes/orders')).json()).toMatchObject({ weight: 0, version: 1 })
  })

  it.each([
    ['/audit?limit=-5', 'limit: must be an integer from 1 to 1000'],
    ['/audit?limit=0', 'limit: must be an integer from 1 to 1000'],
    ['/audit?limit=abc', 'limit: must be an integer from 1 to 1000'],
    ['/audit?limit=1001', 'limit: must be an integer from 1 to 1000'],
    ['/audit?limit=1&limit=2', 'limit: must be an integer from 1 to 1000'],
    ['/audit?limt=5', 'limt: unknown query parameter'],
    ['/diffs?limit=2.5', 'limit: must be an integer from 1 to 1000'],
    ['/diffs?route=orders&foo=1', 'foo: unknown query parameter'],
    ['/routes?verbose=1', 'verbose: unknown query parameter'],
    ['/routes/orders?x=1', 'x: unknown query parameter'],
    ['/metrics?name=cutover', 'name: unknown query parameter'],
  ])('%s → 400 naming the parameter', async (path, detail) => {
    const res = await admin(gw, path)
    expect(res.status).toBe(400)
    const err = (res.json() as ErrorBody).error
    expect(err.code).toBe('CUTOVER_INVALID_INPUT')
    expect(err.details).toEqual([detail])
  })

  it('checks the token before the query: 401 without it', async () => {
    expect((await admin(gw, '/audit?limit=-5', { token: null })).status).toBe(401)
  })

  it('accepts valid parameters', async () => {
    expect((await admin(gw, '/audit?limit=5')).status).toBe(200)
    expect((await admin(gw, '/diffs?route=orders&limit=1000')).status).toBe(200)
    expect((await admin(gw, '/diffs')).status).toBe(200)
    expect((await admin(gw, '/diffs?route=nope')).status).toBe(404)
  })
})
