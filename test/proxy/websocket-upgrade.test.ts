import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import type { Gateway } from '../../src/gateway.ts'
import { FrameBoundaries } from '../../src/proxy/websocket-frames.ts'
import { admin, call, gatewayFor, rawHttp, testConfig } from '../support/gateway.ts'
import { wsOrigin } from '../support/ws-origin.ts'

function open(url: string, headers: Record<string, string> = {}): Promise<{ ws: WebSocket; backend: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers })
    ws.once('upgrade', (res) => resolve({ ws, backend: String(res.headers['x-cutover-backend']) }))
    ws.once('unexpected-response', (_req, res) => reject(new Error(`status ${res.statusCode}`)))
    ws.once('error', reject)
  })
}

let legacy: Awaited<ReturnType<typeof wsOrigin>>
let cloud: Awaited<ReturnType<typeof wsOrigin>>
let gw: Gateway

beforeAll(async () => {
  legacy = await wsOrigin('legacy')
  cloud = await wsOrigin('cloud')
  gw = await gatewayFor(
    testConfig(legacy.url, cloud.url, {
      routes: [
        { id: 'live', methods: ['GET'], path: '/live', weight: 50, sticky: { header: 'x-user-id' }, mirror: 'all' },
        { id: 'no-ws', methods: ['GET'], path: '/no-ws', weight: 0 },
      ],
      shutdown: { drainTimeoutMs: 5000 },
    }),
  )
})
afterAll(async () => {
  await gw.close()
  await Promise.all([legacy.close(), cloud.close()])
})

const wsUrl = (): string => gw.dataUrl.replace(/^http/, 'ws') + '/live'

describe('WebSocket upgrades', () => {
  it('echo through the gateway survives 1,000 messages, on the sticky side, unmirrored', async () => {
    const sides = new Set<string>()
    for (let i = 0; i < 10; i++) {
      const { ws, backend } = await open(wsUrl(), { 'x-user-id': 'alice' })
      sides.add(backend)
      ws.close()
    }
    expect(sides.size).toBe(1)
    const [side] = [...sides] as [string]

    const before = legacy.hosts.length + cloud.hosts.length
    const { ws } = await open(wsUrl(), { 'x-user-id': 'alice' })
    const got: string[] = []
    const all = new Promise<void>((resolve) =>
      ws.on('message', (data) => {
        got.push(data.toString())
        if (got.length === 1000) resolve()
      }),
    )
    for (let i = 0; i < 1000; i++) ws.send(`m${i}`)
    await all
    expect(got).toEqual(Array.from({ length: 1000 }, (_, i) => `${side}:m${i}`))
    // one tunnel, to one backend: the other side never saw it
    expect(legacy.hosts.length + cloud.hosts.length - before).toBe(1)
    const metrics = (await admin(gw, '/metrics')).text
    expect(metrics).toMatch(new RegExp(`cutover_upgrades_total\\{route="live",backend="${side}",outcome="upgraded"\\} 11`))
    expect(metrics).toContain('cutover_upgrades_open{route="live"} 1')
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)))
    ws.close(1000)
    expect(await closed).toBe(1000)
  })

  it('a plain request to the same route still works', async () => {
    const res = await call(`${gw.dataUrl}/live`, { headers: { 'x-user-id': 'alice' } })
    expect(res.status).toBe(200)
    expect(res.text).toMatch(/^plain (legacy|cloud) -$/)
  })

  it('a backend that does not switch protocols gives the client 502, counted as refused', async () => {
    await expect(open(gw.dataUrl.replace(/^http/, 'ws') + '/no-ws')).rejects.toThrow('status 502')
    expect((await admin(gw, '/metrics')).text).toContain('cutover_upgrades_total{route="no-ws",backend="legacy",outcome="refused"} 1')
  })

  it('an Upgrade other than websocket (h2c) is answered as a plain request, then the connection closes', async () => {
    const res = await rawHttp(gw.dataUrl, `GET /no-ws HTTP/1.1\nHost: 127.0.0.1\nConnection: Upgrade, HTTP2-Settings\nUpgrade: h2c\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\n\n`)
    expect(res.status).toBe(200)
    expect(res.body).toContain('plain legacy -')
    expect(res.raw.toLowerCase()).toContain('connection: close')
  })

  it('a drain closes an open tunnel with a 1001 close frame', async () => {
    const { ws } = await open(wsUrl(), { 'x-user-id': 'bob' })
    // traffic in flight while the drain starts
    ws.send('before')
    await new Promise<void>((resolve) => ws.once('message', () => resolve()))
    const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })))
    const started = Date.now()
    await gw.close()
    expect(await closed).toEqual({ code: 1001, reason: 'gateway draining' })
    expect(Date.now() - started).toBeLessThan(4000)
    // a fresh gateway for afterAll
    gw = await gatewayFor(testConfig(legacy.url, cloud.url, { routes: [{ id: 'live', methods: ['GET'], path: '/live', weight: 50 }] }))
  })
})

describe('FrameBoundaries', () => {
  const frame = (len: number, masked: boolean): Buffer => {
    const ext = len < 126 ? 0 : len < 65536 ? 2 : 8
    const head = Buffer.alloc(2 + ext + (masked ? 4 : 0))
    head[0] = 0x82
    head[1] = (masked ? 0x80 : 0) | (ext === 0 ? len : ext === 2 ? 126 : 127)
    if (ext === 2) head.writeUInt16BE(len, 2)
    if (ext === 8) head.writeBigUInt64BE(BigInt(len), 2)
    return Buffer.concat([head, Buffer.alloc(len, 7)])
  }

  it('finds every boundary whatever the chunking', () => {
    const stream = Buffer.concat([frame(5, false), frame(300, true), frame(70_000, false), frame(0, false)])
    const ends = new Set([7, 7 + 308, 7 + 308 + 70_010, 7 + 308 + 70_010 + 2])
    for (const size of [1, 3, 13, 1000, stream.length]) {
      const f = new FrameBoundaries()
      for (let at = 0; at < stream.length; at += size) {
        const chunk = stream.subarray(at, Math.min(at + size, stream.length))
        const n = f.untilBoundary(chunk)
        if (!f.atBoundary && n < chunk.length) expect(ends.has(at + n), `size ${size} at ${at}+${n}`).toBe(true)
        f.feed(chunk)
        if (ends.has(at + chunk.length)) expect(f.atBoundary, `size ${size} end ${at + chunk.length}`).toBe(true)
      }
      expect(f.atBoundary).toBe(true)
    }
  })
})
