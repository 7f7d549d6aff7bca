import { Readable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { request } from 'undici'
import type { Gateway } from '../../src/gateway.ts'
import { gatewayFor, testConfig } from '../support/gateway.ts'
import { startOrigin, type Origin } from '../support/origin.ts'

let legacy: Origin
let gw: Gateway
const MB = 1024 * 1024

beforeAll(async () => {
  legacy = await startOrigin('legacy')
  gw = await gatewayFor(testConfig(legacy.url, legacy.url, { limits: { bodyBytes: MB, mirrorBodyBytes: 1024 } }))
})
afterAll(async () => {
  await gw.close()
  await legacy.close()
})

describe('request body limit', () => {
  it('refuses a 2 MB body with Content-Length over a 1 MB limit with 413; the backend never sees it', async () => {
    const before = legacy.requests.length
    const res = await request(`${gw.dataUrl}/upload`, { method: 'POST', body: Buffer.alloc(2 * MB, 1) })
    const body = JSON.parse(await res.body.text()) as { error: { code: string } }
    expect(res.statusCode).toBe(413)
    expect(body.error.code).toBe('CUTOVER_BODY_TOO_LARGE')
    expect(legacy.requests.length).toBe(before)
  })

  it('refuses a chunked 2 MB body with 413; the backend never receives a complete request', async () => {
    const before = legacy.requests.length
    const chunks = Array.from({ length: 32 }, () => Buffer.alloc(64 * 1024, 2))
    const res = await request(`${gw.dataUrl}/upload`, { method: 'POST', body: Readable.from(chunks) })
    const body = JSON.parse(await res.body.text()) as { error: { code: string } }
    expect(res.statusCode).toBe(413)
    expect(body.error.code).toBe('CUTOVER_BODY_TOO_LARGE')
    expect(legacy.requests.slice(before).filter((r) => r.complete)).toEqual([])
  })

  it('streams a body just under the limit through intact', async () => {
    const payload = Buffer.alloc(MB - 10, 3)
    const res = await request(`${gw.dataUrl}/upload`, { method: 'POST', body: payload })
    await res.body.text()
    expect(res.statusCode).toBe(200)
    expect(legacy.requests.at(-1)?.body.equals(payload)).toBe(true)
  })
})
