import { readdirSync, readFileSync } from 'node:fs'
import type { ServerResponse } from 'node:http'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Gateway } from '../../src/gateway.ts'
import type { DiffEvent, ReplayEvent } from '../../src/publish/events.ts'
import { call, gatewayFor, testConfig } from '../support/gateway.ts'
import { until } from '../support/cli.ts'
import { startOrigin, type Origin } from '../support/origin.ts'

/** limits.compareBodyBytes here: what the mirror keeps of an answer's body */
const CAP = 1024

let legacy: Origin
let cloud: Origin
let gw: Gateway
let spoolDir: string

/** The replay events on the spool's files (this process's folder). */
function spooledReplays(): ReplayEvent[] {
  return readdirSync(spoolDir)
    .filter((f) => f.endsWith('.ndjson'))
    .flatMap((f) => readFileSync(join(spoolDir, f), 'utf8').split('\n'))
    .filter((l) => l.includes('"topic":"replay"'))
    .map((l) => (JSON.parse(l) as { value: ReplayEvent }).value)
}

/** The order both sides agree on; `note` is where cloud differs when it does. */
function order(note: string, pad = 0): string {
  return JSON.stringify({ id: 7, items: Array.from({ length: 20 }, (_, i) => ({ sku: `s-${i}`, qty: i })), pad: 'p'.repeat(pad), note })
}

function sendJson(res: ServerResponse, text: string): void {
  res.writeHead(201, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

/** Writes `text` as a chunked answer, one piece per turn of the event loop, so that it reaches the gateway in several reads. */
function sendChunked(res: ServerResponse, text: string, pieces: number): void {
  res.writeHead(201, { 'content-type': 'application/json' })
  const size = Math.ceil(text.length / pieces)
  let at = 0
  const next = (): void => {
    if (at >= text.length) {
      res.end()
      return
    }
    res.write(text.slice(at, at + size))
    at += size
    setTimeout(next, 5)
  }
  next()
}

/** The diff event for this client answer, once the mirrored exchange is over. */
async function diffFor(requestId: string): Promise<DiffEvent | undefined> {
  await gw.data.mirror.idle()
  return gw.data.diffs.recent({}, 500).find((e) => e.requestId === requestId)
}

async function mirroredWrite(path: string): Promise<string> {
  const res = await call(`${gw.dataUrl}${path}`, { method: 'POST', body: '{"sku":"s-1"}', headers: { 'content-type': 'application/json' } })
  expect(res.status).toBe(201)
  expect(res.headers['x-cutover-backend']).toBe('legacy')
  return res.headers['x-request-id'] as string
}

beforeAll(async () => {
  legacy = await startOrigin('legacy', (req, res) => {
    const pad = req.url?.startsWith('/big') === true ? 4000 : 0
    sendJson(res, order('same', pad))
  })
  cloud = await startOrigin('cloud', (req, res) => {
    const url = req.url ?? ''
    if (url.startsWith('/big')) sendJson(res, order('cloud', 4000))
    else if (url.startsWith('/chunked-same')) sendChunked(res, order('same'), 6)
    else if (url.startsWith('/chunked-differs')) sendChunked(res, order('cloud'), 6)
    else if (url.startsWith('/reset')) {
      // a head promising 2000 bytes, 200 of them, then the connection is cut
      res.writeHead(201, { 'content-type': 'application/json', 'content-length': '2000' })
      res.write('{"id":7,"items":[' + ' '.repeat(183))
      setTimeout(() => res.socket?.destroy(), 20)
    } else if (url.startsWith('/silent')) {
      // never answers: the mirrored call's deadline ends it
    } else sendJson(res, order('same'))
  })
  const input = testConfig(legacy.url, cloud.url, {
    backends: { legacy: { url: legacy.url, timeoutMs: 2000 }, cloud: { url: cloud.url, timeoutMs: 400 } },
    routes: [{ id: 'orders', methods: ['POST'], path: '/*', weight: 0, mirror: 'writes' }],
    limits: { compareBodyBytes: CAP },
  })
  spoolDir = join(input.spool!.dir!, 'w0')
  gw = await gatewayFor(input)
})
afterAll(async () => {
  await gw.close()
  await Promise.all([legacy.close(), cloud.close()])
})

describe('the mirrored call', () => {
  it('keeps at most limits.compareBodyBytes of an answer over it, counts its whole length, and reports a too-large body difference', async () => {
    const requestId = await mirroredWrite('/big')
    const event = await diffFor(requestId)
    expect(event).toMatchObject({ kind: 'mismatch', route: 'orders', primary: 'legacy', secondary: 'cloud', status: { legacy: 201, cloud: 201 }, truncated: true })
    expect(event!.differences).toHaveLength(1)
    const [d] = event!.differences as unknown as { path: string; kind: string; legacy: { length: number }; cloud: { length: number } }[]
    expect(d).toMatchObject({ path: 'body', kind: 'too-large' })
    // the length is the whole answer's, though only CAP bytes of it were kept
    expect(d!.cloud.length).toBe(Buffer.byteLength(order('cloud', 4000)))
    expect(d!.legacy.length).toBe(Buffer.byteLength(order('same', 4000)))
  })

  it('collects a chunked answer whole: equal to the primary, no diff event', async () => {
    const before = cloud.requests.length
    const requestId = await mirroredWrite('/chunked-same')
    expect(await diffFor(requestId)).toBeUndefined()
    expect(cloud.requests.length).toBe(before + 1)
    const metric = await gw.metrics.registry.getSingleMetricAsString('cutover_mirror_total')
    expect(metric).toMatch(/cutover_mirror_total\{route="orders",outcome="match"\} [1-9]/)
  })

  it('collects a chunked answer whole: a difference in its last chunk is named with both values', async () => {
    const requestId = await mirroredWrite('/chunked-differs')
    const event = await diffFor(requestId)
    expect(event).toMatchObject({ kind: 'mismatch', total: 1, truncated: false })
    expect(event!.differences).toEqual([{ path: 'body.note', kind: 'changed', legacy: 'same', cloud: 'cloud' }])
  })

  it('a secondary that cuts the connection mid-body is a secondary-error, and the write goes to replay', async () => {
    const requestId = await mirroredWrite('/reset')
    const event = await diffFor(requestId)
    expect(event).toMatchObject({ kind: 'secondary-error', route: 'orders', status: { legacy: 201, cloud: null }, differences: [] })
    expect(event!.reason).toMatch(/closed|reset|socket/i)
    await until(() => spooledReplays().some((r) => r.requestId === requestId), 5000, 'the replay event on the spool')
    expect(spooledReplays().find((r) => r.requestId === requestId)).toMatchObject({ backend: 'cloud', method: 'POST', path: '/reset', reason: 'secondary-error', body: Buffer.from('{"sku":"s-1"}').toString('base64') })
  })

  it("a secondary that never answers is cut at its backend's timeoutMs: a secondary-timeout", async () => {
    const started = performance.now()
    const requestId = await mirroredWrite('/silent')
    const event = await diffFor(requestId)
    expect(performance.now() - started).toBeGreaterThanOrEqual(400)
    expect(event).toMatchObject({ kind: 'secondary-timeout', route: 'orders', status: { legacy: 201, cloud: null } })
    expect(event!.latencyMs.cloud).toBeGreaterThanOrEqual(390)
  })
})
