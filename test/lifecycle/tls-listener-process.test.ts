import { writeFileSync } from 'node:fs'
import { connect as h2connect, type ClientHttp2Session } from 'node:http2'
import { join } from 'node:path'
import { connect as tlsConnect, type TLSSocket } from 'node:tls'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testCa, type TestCa } from '../support/certificates.ts'
import { runCli, until, writeConfig } from '../support/cli.ts'
import { replaceFile } from '../support/certificates.ts'
import { admin as adminCall, gatewayFor, tempDir, TOKEN, testConfig } from '../support/gateway.ts'
import { echo, startOrigin, type Origin } from '../support/origin.ts'
import { startCliGateway } from '../support/setup.ts'

let ca: TestCa
let files: { certFile: string; keyFile: string }
let origin: Origin
let release: () => void = () => undefined
let gate: Promise<void>

beforeAll(async () => {
  ca = testCa()
  const pair = ca.issue('1001')
  const dir = tempDir('cutover-tls-files-')
  files = { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') }
  writeFileSync(files.certFile, pair.cert)
  writeFileSync(files.keyFile, pair.key)
  gate = new Promise<void>((r) => (release = r))
  // `/held` is answered once the test releases it; everything else at once
  const plain = echo('origin')
  origin = await startOrigin('origin', (req, res, body) => {
    if (req.url !== '/held') return plain(req, res, body)
    void gate.then(() => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 4 })
      res.end('done')
    })
  })
})
afterAll(async () => {
  await origin.close()
})

function h2Get(session: ClientHttp2Session, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':path': path })
    let status = 0
    let body = ''
    req.setEncoding('utf8')
    req.on('response', (h) => (status = Number(h[':status'])))
    req.on('data', (c: string) => (body += c))
    req.on('end', () => resolve({ status, body }))
    req.on('error', reject)
  })
}

/** An HTTP/1.1 connection over TLS that has had one answer and is kept alive, idle. */
async function idleHttp1(url: string): Promise<TLSSocket> {
  const socket = await new Promise<TLSSocket>((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port: Number(new URL(url).port), ca: ca.cert, ALPNProtocols: ['http/1.1'] }, () => resolve(s))
    s.once('error', reject)
  })
  let raw = ''
  socket.setEncoding('latin1')
  socket.on('data', (c: string) => (raw += c))
  socket.write('GET /warm HTTP/1.1\r\nHost: localhost\r\n\r\n')
  await until(() => /\r\n\r\n[\s\S]*"origin"[\s\S]*\}$/.test(raw), 5_000, 'the first answer on the kept-alive connection')
  return socket
}

describe('drain on the HTTP/2 listener', () => {
  it('close() lets an open h2 stream finish, sends GOAWAY, closes idle HTTP/1.1 connections, and does not wait for the drain timeout', async () => {
    const gw = await gatewayFor(
      testConfig(origin.url, origin.url, { listen: { host: '127.0.0.1', port: 0, tls: { ...files, http2: true } }, shutdown: { drainTimeoutMs: 8000 } }),
    )
    const session = h2connect(gw.dataUrl, { ca: ca.cert })
    const goaway = new Promise<void>((resolve) => session.once('goaway', () => resolve()))
    session.on('error', () => undefined)
    const warm = await h2Get(session, '/before')
    expect(warm.status).toBe(200)
    const held = h2Get(session, '/held')
    await until(() => origin.requests.some((r) => r.url === '/held'), 5_000, 'the held request to reach the origin')
    const idle = await idleHttp1(gw.dataUrl)
    const idleClosed = new Promise<void>((resolve) => idle.once('close', () => resolve()))

    const closing = gw.close()
    await goaway
    await idleClosed
    const released = performance.now()
    release()
    expect(await held).toEqual({ status: 200, body: 'done' })
    await closing
    // the session ended with its last stream: nothing waited for drainTimeoutMs (8 s)
    expect(performance.now() - released).toBeLessThan(3000)
    session.destroy()
  })
})

describe('cutover with listen.tls', () => {
  it('`check` names an unreadable certificate file without a stack trace', async () => {
    const missing = join(tempDir(), 'absent.pem')
    const config = writeConfig(testConfig(origin.url, origin.url, { listen: { host: '127.0.0.1', port: 0, tls: { certFile: missing, keyFile: files.keyFile } } }))
    const run = runCli(['check', '--config', config])
    expect(await run.exited).toBe(1)
    expect(run.output()).toBe(`invalid configuration:\n  listen.tls.certFile: cannot read ${missing}: ENOENT\n`)
  })

  it('`start` serves HTTPS and logs the https:// address; SIGTERM stops it with an h2 session open', async () => {
    const { run, dataUrl } = await startCliGateway(testConfig(origin.url, origin.url, { listen: { host: '127.0.0.1', port: 0, tls: { ...files, http2: true } } }))
    expect(dataUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/)
    expect(run.output()).toContain(`"data":"${dataUrl}"`)
    const session = h2connect(dataUrl, { ca: ca.cert })
    session.on('error', () => undefined)
    expect((await h2Get(session, '/via-cli')).status).toBe(200)
    run.child.kill('SIGTERM')
    expect(await run.exited).toBe(0)
    session.destroy()
    expect(run.output()).not.toContain('PRIVATE KEY')
  })

  it('`start --workers 2`: every worker serves TLS and reloads the certificate itself', async () => {
    const dir = tempDir('cutover-tls-files-')
    const own = { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') }
    const pair = ca.issue('2001')
    writeFileSync(own.certFile, pair.cert)
    writeFileSync(own.keyFile, pair.key)
    const { run, gw, dataUrl: url } = await startCliGateway(testConfig(origin.url, origin.url, { listen: { host: '127.0.0.1', port: 0, tls: { ...own, http2: true, reloadIntervalMs: 50 } }, admin: { token: TOKEN } }), { args: ['--workers', '2'] })
    try {
      expect(new Set(await Promise.all(Array.from({ length: 10 }, () => servedSerial(url))))).toEqual(new Set(['2001']))
      const rotated = ca.issue('2002')
      replaceFile(own.keyFile, rotated.key)
      replaceFile(own.certFile, rotated.cert)
      // both workers reloaded: the counter adds up over them
      await until(async () => /^cutover_tls_reloads_total\{result="ok"\} 2$/m.test((await adminCall(gw, '/metrics')).text), 10_000, 'both workers to reload')
      expect(new Set(await Promise.all(Array.from({ length: 10 }, () => servedSerial(url))))).toEqual(new Set(['2002']))
    } finally {
      run.child.kill('SIGTERM')
      await run.exited
    }
  })
})

/** The serial of the certificate a new connection is shown. */
function servedSerial(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port: Number(new URL(url).port), ca: ca.cert }, () => {
      resolve(socket.getPeerCertificate().serialNumber)
      socket.destroy()
    })
    socket.once('error', reject)
  })
}
