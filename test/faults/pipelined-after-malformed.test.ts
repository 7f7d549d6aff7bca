import { connect } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { faultBed, type FaultBed } from '../support/faults.ts'

let bed: FaultBed

beforeAll(async () => {
  bed = await faultBed({
    // the write takes a while, so the malformed request behind it is parsed while it is in flight
    legacy: (_req, res) => {
      setTimeout(() => {
        res.writeHead(201, { 'content-type': 'application/json', 'content-length': 11 })
        res.end('{"id":"w1"}')
      }, 150)
    },
    config: { routes: [{ id: 'orders', path: '/orders/*', weight: 0, mirror: 'off' }] },
  })
})
afterAll(async () => {
  await bed.close()
})

/** Writes `bytes` in one go and collects everything until the gateway closes the connection. */
function exchange(bytes: string): Promise<string> {
  const port = Number(new URL(bed.gw.dataUrl).port)
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write(bytes))
    let raw = ''
    s.setEncoding('latin1')
    s.on('data', (c: string) => (raw += c))
    s.on('error', reject)
    s.on('close', () => resolve(raw))
  })
}

const WRITE = (id: string): string => `POST /orders/${id} HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`

describe('a pipelined request followed by a malformed one', () => {
  it('answers the earlier write (201) before the 400, then closes', async () => {
    const raw = await exchange(WRITE('a') + 'GET /orders/b HTTP/1.1\r\nHost: gw\r\nBad Header Line\r\n\r\n')
    const statuses = [...raw.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]))
    expect(statuses).toEqual([201, 400])
    expect(raw).toContain('{"id":"w1"}')
    expect(raw).toContain('"code":"CUTOVER_BAD_REQUEST"')
    expect(bed.legacy.requests.map((r) => r.url)).toEqual(['/orders/a'])
  })

  it('answers two earlier writes, in order, before the 400', async () => {
    const before = bed.legacy.requests.length
    const raw = await exchange(WRITE('c') + WRITE('d') + '\x01\x02 garbage\r\n\r\n')
    expect([...raw.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]))).toEqual([201, 201, 400])
    expect(bed.legacy.requests.slice(before).map((r) => r.url)).toEqual(['/orders/c', '/orders/d'])
  })

  it('a malformed chunk inside the body being read gets its 400 at once; nothing forwarded', async () => {
    const before = bed.legacy.requests.length
    const started = performance.now()
    const raw = await exchange('POST /orders/e HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n')
    expect(raw).toMatch(/^HTTP\/1\.1 400/)
    expect(performance.now() - started).toBeLessThan(1000)
    expect(bed.legacy.requests.length).toBe(before)
  })

  it('a malformed request alone still gets its 400 at once', async () => {
    const raw = await exchange('NOT HTTP AT ALL\r\n\r\n')
    expect(raw).toMatch(/^HTTP\/1\.1 400/)
  })
})
