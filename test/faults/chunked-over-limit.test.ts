import { Readable } from 'node:stream'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { faultBed, metricValue, type FaultBed } from '../support/faults.ts'

const LIMIT = 4096
let bed: FaultBed

beforeAll(async () => {
  bed = await faultBed({
    config: {
      limits: { bodyBytes: LIMIT, mirrorBodyBytes: 1024 },
      routes: [
        { id: 'mirrored', methods: ['POST'], path: '/m', weight: 0, mirror: 'writes' },
        { id: 'plain', methods: ['POST'], path: '/p', weight: 50, mirror: 'off' },
        { id: 'streamed', methods: ['POST'], path: '/s', weight: 0, mirror: 'off', streamBody: true },
      ],
    },
  })
})
afterAll(async () => {
  await bed.close()
})

/** A chunked body (no Content-Length) of `size` bytes in 1000-byte chunks. */
function chunked(size: number): Readable {
  const chunks: Buffer[] = []
  for (let left = size; left > 0; left -= 1000) chunks.push(Buffer.alloc(Math.min(1000, left), 7))
  return Readable.from(chunks)
}

async function post(path: string, body: Readable): Promise<{ status: number; code: string | undefined }> {
  const res = await request(`${bed.gw.dataUrl}${path}`, { method: 'POST', body })
  const text = await res.body.text()
  return { status: res.statusCode, code: res.statusCode === 413 ? (JSON.parse(text) as { error: { code: string } }).error.code : undefined }
}

describe('a chunked body over limits.bodyBytes', () => {
  it.each(['/m', '/p'])('1 byte over the limit on %s: 413, and no backend received anything', async (path) => {
    const before = { legacy: bed.legacy.requests.length, cloud: bed.cloud?.requests.length ?? 0 }
    for (let i = 0; i < 5; i++) expect(await post(path, chunked(LIMIT + 1))).toEqual({ status: 413, code: 'CUTOVER_BODY_TOO_LARGE' })
    expect(bed.legacy.requests.slice(before.legacy)).toEqual([])
    expect(bed.cloud?.requests.slice(before.cloud)).toEqual([])
  })

  it('exactly at the limit: forwarded whole, once', async () => {
    const before = bed.legacy.requests.length
    expect((await post('/m', chunked(LIMIT))).status).toBe(200)
    const got = bed.legacy.requests.slice(before)
    expect(got.map((r) => [r.url, r.body.length, r.headers['content-length']])).toEqual([['/m', LIMIT, String(LIMIT)]])
    await bed.gw.data.mirror.idle()
    // over limits.mirrorBodyBytes: proxied but not mirrored (a not-mirrored diff event)
    expect(bed.cloud?.requests.filter((r) => r.url === '/m')).toEqual([])
  })

  it('a mirrored chunked body under the mirror limit reaches both sides intact', async () => {
    const before = { legacy: bed.legacy.requests.length, cloud: bed.cloud?.requests.length ?? 0 }
    expect((await post('/m', chunked(900))).status).toBe(200)
    await bed.gw.data.mirror.idle()
    expect(bed.legacy.requests.slice(before.legacy).map((r) => r.body.length)).toEqual([900])
    expect(bed.cloud?.requests.slice(before.cloud).map((r) => r.body.length)).toEqual([900])
  })

  it('a route with streamBody streams it through and still answers 413 past the limit', async () => {
    expect((await post('/s', chunked(LIMIT - 1))).status).toBe(200)
    expect(await post('/s', chunked(LIMIT * 4))).toEqual({ status: 413, code: 'CUTOVER_BODY_TOO_LARGE' })
    // the streamed request never completed at the backend
    expect(bed.legacy.requests.filter((r) => r.url === '/s' && r.complete).map((r) => r.body.length)).toEqual([LIMIT - 1])
    expect(await metricValue(bed.gw, 'cutover_requests_total', { route: 'streamed', code: '413' })).toBe(1)
  })
})
