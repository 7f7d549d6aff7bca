import { connect } from 'node:net'
import { beforeAll, describe, expect, it } from 'vitest'
import { call, testConfig } from '../support/gateway.ts'
import { until } from '../support/cli.ts'
import type { Origin } from '../support/origin.ts'
import { openOrigin, startCliGateway } from '../support/setup.ts'

let slow: Origin
let release: (() => void) | null = null
let gate: Promise<void>

beforeAll(async () => {
  gate = new Promise<void>((r) => (release = r))
  // holds every answer until the test releases it
  slow = await openOrigin('slow', (_req, res) => {
    void gate.then(() => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 4 })
      res.end('done')
    })
  })
})

describe('SIGTERM', () => {
  it('turns /readyz false, completes in-flight requests, then exits 0', async () => {
    const { run, port, dataUrl: base, gw } = await startCliGateway(testConfig(slow.url, slow.url))
    const adminBase = gw.adminUrl

    const inflight = Array.from({ length: 5 }, (_, i) => call(`${base}/work/${i}`))
    await until(() => slow.requests.length === 5, 10_000, 'the origin to hold 5 requests')

    // a kept-alive connection opened before the drain, used during it
    const socket = connect(port, '127.0.0.1')
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
    let raw = ''
    socket.setEncoding('latin1')
    socket.on('data', (c: string) => (raw += c))
    const lateOnOpenConnection = new Promise<{ raw: string; body: string }>((resolve) => socket.on('close', () => resolve({ raw, body: raw.slice(raw.indexOf('\r\n\r\n') + 4) })))

    run.child.kill('SIGTERM')
    await run.waitFor('draining')
    await until(async () => (await call(`${adminBase}/readyz`)).status === 503, 5_000, '/readyz to turn false')
    socket.write('GET /late-on-open HTTP/1.1\r\nHost: a\r\n\r\n')
    expect((await call(`${adminBase}/readyz`)).json()).toEqual({ ready: false })
    // new connections are no longer accepted while the old requests finish
    await expect(call(`${base}/late`)).rejects.toThrow()
    // a request on a connection that was already open gets the gateway's own 503
    const late = await lateOnOpenConnection
    expect(late.raw).toMatch(/^HTTP\/1\.1 503/)
    expect(late.raw.toLowerCase()).toContain('retry-after: 5')
    expect(late.body).toContain('"code":"CUTOVER_DRAINING"')

    release?.()
    const answers = await Promise.all(inflight)
    expect(answers.map((a) => [a.status, a.text])).toEqual(Array.from({ length: 5 }, () => [200, 'done']))
    expect(await run.exited).toBe(0)
    expect(run.output()).toContain('stopped')
  })
})
