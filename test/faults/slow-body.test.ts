import { connect } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { faultBed, metricValue, type FaultBed } from '../support/faults.ts'

let bed: FaultBed

beforeAll(async () => {
  bed = await faultBed({ backends: { legacy: { timeoutMs: 300 } }, config: { routes: [{ id: 'up', methods: ['POST'], path: '/up', weight: 0, mirror: 'writes' }] } })
})
afterAll(async () => {
  await bed.close()
})

describe('a request body that stops arriving', () => {
  it('gets 408 once the backend timeout has passed; no backend saw the request', async () => {
    const port = Number(new URL(bed.gw.dataUrl).port)
    const started = performance.now()
    // half of the announced body, then nothing
    const raw = await new Promise<string>((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => s.write('POST /up HTTP/1.1\r\nHost: gw\r\nContent-Length: 10\r\n\r\n12345'))
      let text = ''
      s.setEncoding('latin1')
      s.on('data', (c: string) => (text += c))
      s.on('error', reject)
      s.on('close', () => resolve(text))
    })
    const took = performance.now() - started
    expect(raw).toMatch(/^HTTP\/1\.1 408/)
    expect(raw).toContain('"code":"CUTOVER_BODY_TIMEOUT"')
    expect(took).toBeGreaterThanOrEqual(290)
    expect(took).toBeLessThan(2000)
    expect(bed.legacy.requests).toEqual([])
    expect(bed.cloud?.requests).toEqual([])
    expect(await metricValue(bed.gw, 'cutover_requests_total', { route: 'up', backend: 'legacy', code: '408' })).toBe(1)
  })
})
