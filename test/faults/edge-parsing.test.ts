import { connect } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rawHttp } from '../support/gateway.ts'
import { faultBed, type FaultBed } from '../support/faults.ts'

const LIMIT = 1024
let bed: FaultBed

beforeAll(async () => {
  bed = await faultBed({ config: { limits: { bodyBytes: LIMIT }, routes: [{ id: 'all', path: '/*', weight: 0, mirror: 'off' }] } })
})
afterAll(async () => {
  await bed.close()
})

describe('edge parsing', () => {
  it.each(['/a/..;/b', '/..;x/', '/a/.;/admin', '/a/%2e%2e;jsessionid=1/b'])('refuses %s with 400; nothing forwarded', async (path) => {
    const before = bed.legacy.requests.length
    const res = await rawHttp(bed.gw.dataUrl, `GET ${path} HTTP/1.1\nHost: gw\nConnection: close\n\n`)
    expect(res.status).toBe(400)
    expect(res.body).toContain('"code":"CUTOVER_BAD_PATH"')
    expect(bed.legacy.requests.length).toBe(before)
  })

  it('refuses two Host headers with 400 (RFC 9112 §3.2); nothing forwarded', async () => {
    const before = bed.legacy.requests.length
    const res = await rawHttp(bed.gw.dataUrl, 'GET /x HTTP/1.1\nHost: gw\nHost: internal.example\n\n')
    expect(res.status).toBe(400)
    expect(res.body).toContain('"code":"CUTOVER_BAD_REQUEST"')
    expect(bed.legacy.requests.length).toBe(before)
  })

  it('answers Expect: 100-continue with a Content-Length over the limit with 413, never 100', async () => {
    const before = bed.legacy.requests.length
    // the client sends no body: it waits for 100 Continue, which must not come
    const res = await rawHttp(bed.gw.dataUrl, `POST /up HTTP/1.1\nHost: gw\nContent-Length: ${LIMIT + 1}\nExpect: 100-continue\n\n`)
    expect(res.raw).not.toContain('100 Continue')
    expect(res.status).toBe(413)
    expect(res.raw.toLowerCase()).toContain('connection: close')
    expect(bed.legacy.requests.length).toBe(before)
  })

  it('sends 100 Continue for a body that fits, then forwards it', async () => {
    const port = Number(new URL(bed.gw.dataUrl).port)
    const raw = await new Promise<string>((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => s.write(`POST /up HTTP/1.1\r\nHost: gw\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`))
      let text = ''
      s.setEncoding('latin1')
      s.on('data', (c: string) => {
        text += c
        if (text.startsWith('HTTP/1.1 100') && text.includes('\r\n\r\n') && !text.includes('hello-sent')) {
          text += 'hello-sent'
          s.write('hello')
        }
      })
      s.on('error', reject)
      s.on('close', () => resolve(text))
    })
    expect(raw).toMatch(/^HTTP\/1\.1 100 Continue/)
    expect(raw).toContain('HTTP/1.1 200')
    expect(bed.legacy.requests.at(-1)?.body.toString()).toBe('hello')
  })
})
