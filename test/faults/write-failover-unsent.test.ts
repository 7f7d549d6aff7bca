import type { IncomingMessage, ServerResponse } from 'node:http'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { call } from '../support/gateway.ts'
import { faultBed, inBatches, metricValue, type FaultBed } from '../support/faults.ts'

const ROUTES = [
  { id: 'orders', methods: ['POST'] as ('POST')[], path: '/orders', weight: 100, mirror: 'writes' as const },
  { id: 'plain', methods: ['PUT'] as ('PUT')[], path: '/plain/:id', weight: 100, mirror: 'off' as const },
]
let bed: FaultBed | null = null

afterEach(async () => {
  await bed?.close()
  bed = null
})
afterAll(async () => {
  await bed?.close()
})

describe('write failover only when nothing was sent', () => {
  it('sends a write cloud refused (connection refused: it never got it) to legacy; the mirror still owes cloud the copy', async () => {
    bed = await faultBed({ cloud: 'dead', config: { routes: ROUTES } })
    const n = 30
    const answers = await inBatches(n, 10, (i) => call(`${bed!.gw.dataUrl}/orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ n: i }) }))
    expect(answers.filter((a) => a.status !== 200)).toEqual([])
    expect(new Set(answers.map((a) => a.headers['x-cutover-backend']))).toEqual(new Set(['legacy']))
    // legacy applied each write once, body intact
    expect(bed.legacy.requests.map((r) => JSON.parse(r.body.toString()) as { n: number }).map((b) => b.n).sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i))
    // each write's copy for cloud failed (cloud is down) and went to replay: none silently dropped
    await bed.gw.data.mirror.idle()
    expect(await metricValue(bed.gw, 'cutover_mirror_total', { route: 'orders', outcome: 'error' })).toBe(n)
    expect(await metricValue(bed.gw, 'cutover_upstream_errors_total', { route: 'orders', backend: 'cloud', reason: 'refused' })).toBe(n)
  })

  it('does not resend a write whose connection was reset after it was sent: 502, and legacy never sees it', async () => {
    const cutAfterReading = (req: IncomingMessage, _res: ServerResponse): void => {
      req.socket.destroy()
    }
    bed = await faultBed({ cloud: cutAfterReading, config: { routes: ROUTES } })
    const n = 10
    const answers = await inBatches(n, 5, (i) => call(`${bed!.gw.dataUrl}/plain/${i}`, { method: 'PUT', body: `{"n":${i}}` }))
    expect(answers.map((a) => a.status)).toEqual(Array.from({ length: n }, () => 502))
    // cloud received (and may have applied) every write; legacy got none of them
    expect(bed.cloud?.requests.filter((r) => r.complete)).toHaveLength(n)
    expect(bed.legacy.requests).toHaveLength(0)
    expect(await metricValue(bed.gw, 'cutover_upstream_errors_total', { route: 'plain', backend: 'cloud', reason: 'reset' })).toBe(n)
  })
})
