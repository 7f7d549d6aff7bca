import type { IncomingHttpHeaders } from 'node:http'
import { connect as h2connect, type ClientHttp2Session, type IncomingHttpHeaders as H2Headers } from 'node:http2'
import { request as httpsRequest } from 'node:https'
import { mkdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { connect as tlsConnect, type TLSSocket } from 'node:tls'
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import type { CutoverConfigInput } from '../../src/config/schema.ts'
import { validateConfig } from '../../src/config/validate.ts'
import { CutoverError } from '../../src/errors.ts'
import { startGateway, type Gateway } from '../../src/gateway.ts'
import { replaceFile, testCa, type Pem, type TestCa } from '../support/certificates.ts'
import { until } from '../support/cli.ts'
import { admin, gatewayFor, tempDir, testConfig } from '../support/gateway.ts'
import { startOrigin, type Origin } from '../support/origin.ts'
import { wsOrigin } from '../support/ws-origin.ts'

interface Answer {
  status: number
  headers: IncomingHttpHeaders | H2Headers
  body: string
}

/** One HTTPS request on a fresh connection (HTTP/1.1; ALPN offers only http/1.1). */
function httpsCall(url: string, ca: string, init: { method?: string; path?: string; headers?: Record<string, string>; body?: string; cert?: Pem; alpn?: string[] } = {}): Promise<Answer & { protocol: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url + (init.path ?? '/'),
      {
        method: init.method ?? 'GET',
        ca,
        agent: false,
        headers: init.headers,
        ...(init.alpn === undefined ? {} : { ALPNProtocols: init.alpn }),
        ...(init.cert === undefined ? {} : { cert: init.cert.cert, key: init.cert.key }),
      },
      (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => (body += c))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, protocol: (res.socket as TLSSocket).alpnProtocol || 'none' }))
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end(init.body)
  })
}

/** One request on an HTTP/2 session; `body` undefined sends HEADERS with END_STREAM. */
function h2Call(session: ClientHttp2Session, headers: Record<string, string | string[]>, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = session.request(headers, { endStream: body === undefined })
    let status = 0
    let got: H2Headers = {}
    let text = ''
    req.setEncoding('utf8')
    req.on('response', (h) => {
      got = h
      status = Number(h[':status'])
    })
    req.on('data', (c: string) => (text += c))
    req.on('end', () => resolve({ status, headers: got, body: text }))
    req.on('error', reject)
    if (body !== undefined) req.end(body)
  })
}

/** An HTTP/2 session that has the server's SETTINGS (which come after 'connect'). */
function h2Session(url: string, ca: string): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = h2connect(url, { ca })
    session.once('remoteSettings', () => resolve(session))
    session.once('error', reject)
  })
}

/** Opens a TLS connection and reads the serial of the certificate the listener presented. */
function tlsSocket(url: string, ca: string): Promise<TLSSocket> {
  const { port } = new URL(url)
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port: Number(port), ca, ALPNProtocols: ['http/1.1'] }, () => resolve(socket))
    socket.once('error', reject)
  })
}

async function servedSerial(url: string, ca: string): Promise<string> {
  const socket = await tlsSocket(url, ca)
  const serial = socket.getPeerCertificate().serialNumber
  socket.destroy()
  return serial
}

/** A plain HTTP/1.1 request written on an already open TLS connection; resolves with the raw answer. */
function requestOn(socket: TLSSocket, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let raw = ''
    socket.setEncoding('latin1')
    socket.on('data', (c: string) => (raw += c))
    socket.once('error', reject)
    socket.once('close', () => resolve(raw))
    socket.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`)
  })
}

/** The certificate and key files of one listener, in a folder of their own. */
function writePair(pair: Pem, dir = tempDir('cutover-tls-files-')): { certFile: string; keyFile: string } {
  const certFile = join(dir, 'tls.crt')
  const keyFile = join(dir, 'tls.key')
  writeFileSync(certFile, pair.cert)
  writeFileSync(keyFile, pair.key)
  return { certFile, keyFile }
}

function tlsConfig(legacy: Origin, cloudUrl: string, tls: NonNullable<NonNullable<CutoverConfigInput['listen']>['tls']>, extra: Partial<CutoverConfigInput> = {}): CutoverConfigInput {
  return testConfig(legacy.url, cloudUrl, { listen: { host: '127.0.0.1', port: 0, tls: { reloadIntervalMs: 50, ...tls } }, ...extra })
}

/** A gateway whose log lines are kept (JSON, one per line) for the test to read. */
async function loggedGateway(input: CutoverConfigInput): Promise<{ gw: Gateway; lines: string[] }> {
  const lines: string[] = []
  const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) })
  return { gw: await startGateway(validateConfig(input), { log, processMetrics: false }), lines }
}

async function reloads(gw: Gateway, result: 'ok' | 'error'): Promise<number> {
  const text = (await admin(gw, '/metrics')).text
  const m = new RegExp(`^cutover_tls_reloads_total\\{result="${result}"\\} (\\d+)$`, 'm').exec(text)
  return Number(m?.[1] ?? 0)
}

let ca: TestCa
let first: Pem
let legacy: Origin
let cloud: Origin

beforeAll(async () => {
  ca = testCa()
  first = ca.issue('1001')
  legacy = await startOrigin('legacy')
  cloud = await startOrigin('cloud')
})
afterAll(async () => {
  await Promise.all([legacy.close(), cloud.close()])
})

describe('HTTPS listener (HTTP/1.1)', () => {
  let gw: Gateway
  beforeAll(async () => {
    gw = await gatewayFor(tlsConfig(legacy, cloud.url, writePair(first)))
  })
  afterAll(async () => {
    await gw.close()
  })

  it('serves HTTPS: the GET reaches legacy, told the client came over https, and the client gets its body', async () => {
    expect(gw.dataUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/)
    const before = legacy.requests.length
    const res = await httpsCall(gw.dataUrl, ca.cert, { path: '/api/orders/7' })
    expect(res.status).toBe(200)
    expect(res.headers['x-cutover-backend']).toBe('legacy')
    expect(JSON.parse(res.body)).toMatchObject({ origin: 'legacy', method: 'GET', url: '/api/orders/7' })
    const seen = legacy.requests.slice(before)
    expect(seen).toHaveLength(1)
    expect(seen[0]?.headers['x-forwarded-proto']).toBe('https')
  })

  it('a POST body over HTTPS reaches the backend whole', async () => {
    const before = legacy.requests.length
    const res = await httpsCall(gw.dataUrl, ca.cert, { method: 'POST', path: '/api/orders', headers: { 'content-type': 'application/json' }, body: '{"item":"pen"}' })
    expect(res.status).toBe(200)
    expect(legacy.requests.slice(before).map((r) => r.body.toString())).toEqual(['{"item":"pen"}'])
  })

  it('refuses plain HTTP on the TLS port (no request reaches a backend)', async () => {
    const before = legacy.requests.length
    const { port } = new URL(gw.dataUrl)
    const res = await fetch(`http://127.0.0.1:${port}/api/orders/1`).then(
      (r) => r.status,
      () => 'failed',
    )
    expect(res).toBe('failed')
    expect(legacy.requests.length).toBe(before)
  })
})

describe('HTTP/2 listener (http2: true)', () => {
  let gw: Gateway
  let ws: Awaited<ReturnType<typeof wsOrigin>>
  beforeAll(async () => {
    ws = await wsOrigin('ws')
    gw = await gatewayFor(
      tlsConfig(legacy, ws.url, { ...writePair(first), http2: true }, {
        routes: [
          { id: 'live', methods: ['GET'], path: '/live', weight: 100 },
          { id: 'small', methods: ['POST'], path: '/small', weight: 0 },
        ],
        limits: { bodyBytes: 1024 },
      }),
    )
  })
  afterAll(async () => {
    await gw.close()
    await ws.close()
  })

  it('an h2 client (ALPN h2) gets 200 and the body; the backend saw the request over HTTP/1.1 with Host from :authority', async () => {
    const session = await h2Session(gw.dataUrl, ca.cert)
    try {
      expect(session.alpnProtocol).toBe('h2')
      // bounded, not Node's default of 2^32-1 streams per connection
      expect(session.remoteSettings.maxConcurrentStreams).toBe(128)
      const before = legacy.requests.length
      const res = await h2Call(session, { ':path': '/api/orders/9?x=1', 'x-user-id': 'carol' })
      expect(res.status).toBe(200)
      expect(res.headers['x-cutover-backend']).toBe('legacy')
      expect(JSON.parse(res.body)).toMatchObject({ origin: 'legacy', method: 'GET', url: '/api/orders/9?x=1', bodyLength: 0 })
      const seen = legacy.requests.slice(before)
      expect(seen).toHaveLength(1)
      const { port } = new URL(gw.dataUrl)
      expect(seen[0]?.headers['x-forwarded-host']).toBe(`127.0.0.1:${port}`)
      expect(seen[0]?.headers['x-forwarded-proto']).toBe('https')
      expect(seen[0]?.headers['x-user-id']).toBe('carol')
      expect(seen[0]?.rawHeaders.filter((_, i) => i % 2 === 0 && seen[0]?.rawHeaders[i]?.startsWith(':'))).toEqual([])
    } finally {
      session.close()
    }
  })

  it('request bodies over h2 reach the backend whole, with and without Content-Length', async () => {
    const session = await h2Session(gw.dataUrl, ca.cert)
    try {
      const before = legacy.requests.length
      const body = JSON.stringify({ item: 'ink', note: 'x'.repeat(300) })
      const withLength = await h2Call(session, { ':method': 'POST', ':path': '/api/orders', 'content-type': 'application/json', 'content-length': String(body.length) }, body)
      const withoutLength = await h2Call(session, { ':method': 'POST', ':path': '/api/orders', 'content-type': 'application/json' }, body)
      expect([withLength.status, withoutLength.status]).toEqual([200, 200])
      expect(legacy.requests.slice(before).map((r) => [r.method, r.body.toString()])).toEqual([
        ['POST', body],
        ['POST', body],
      ])
    } finally {
      session.close()
    }
  })

  it('Cookie pieces of an h2 request reach the backend as one Cookie line', async () => {
    const session = await h2Session(gw.dataUrl, ca.cert)
    try {
      const before = legacy.requests.length
      const res = await h2Call(session, { ':path': '/api/orders/1', cookie: ['a=1', 'b=2'] })
      expect(res.status).toBe(200)
      const raw = legacy.requests.slice(before)[0]?.rawHeaders ?? []
      expect(raw.filter((_, i) => i % 2 === 0 && raw[i]?.toLowerCase() === 'cookie')).toHaveLength(1)
      expect(legacy.requests.slice(before)[0]?.headers.cookie).toBe('a=1; b=2')
    } finally {
      session.close()
    }
  })

  it('an h2 answer carries no hop-by-hop headers from a chunked, kept-alive backend answer', async () => {
    const session = await h2Session(gw.dataUrl, ca.cert)
    const echo = legacy.handler
    // answered in chunks on a kept-alive connection: Transfer-Encoding, Connection and Keep-Alive
    // come with it, none of which an HTTP/2 answer may carry
    legacy.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'keep-alive': 'timeout=5' })
      res.write('hel')
      res.end('lo')
    }
    try {
      const res = await h2Call(session, { ':path': '/chunked' })
      expect(res.status).toBe(200)
      expect(res.body).toBe('hello')
      for (const name of ['connection', 'keep-alive', 'transfer-encoding']) expect(res.headers[name]).toBeUndefined()
    } finally {
      legacy.handler = echo
      session.close()
    }
  })

  it('a body over the limit gets 413 on its stream; the connection serves the next request', async () => {
    const session = await h2Session(gw.dataUrl, ca.cert)
    try {
      const before = legacy.requests.length + ws.hosts.length
      const tooBig = await h2Call(session, { ':method': 'POST', ':path': '/small', 'content-length': '5000' }, 'y'.repeat(5000))
      const chunkedTooBig = await h2Call(session, { ':method': 'POST', ':path': '/small' }, 'z'.repeat(5000))
      expect([tooBig.status, chunkedTooBig.status]).toEqual([413, 413])
      expect(tooBig.headers.connection).toBeUndefined()
      expect(JSON.parse(tooBig.body)).toMatchObject({ error: { code: 'CUTOVER_BODY_TOO_LARGE' } })
      expect(legacy.requests.length + ws.hosts.length).toBe(before)
      const next = await h2Call(session, { ':path': '/api/orders/2' })
      expect(next.status).toBe(200)
    } finally {
      session.close()
    }
  })

  it('an h2 request whose Host differs from its :authority gets the gateway\'s 400, a CONNECT 405; neither reaches a backend', async () => {
    const session = await h2Session(gw.dataUrl, ca.cert)
    try {
      const before = legacy.requests.length + ws.hosts.length
      const twoTargets = await h2Call(session, { ':path': '/api/orders/1', ':authority': 'a.example', host: 'b.example' })
      expect(twoTargets.status).toBe(400)
      expect(JSON.parse(twoTargets.body)).toMatchObject({ error: { code: 'CUTOVER_BAD_REQUEST' } })
      // a Host header alone (no :authority) is the request's authority, as in HTTP/1.1
      const hostOnly = await h2Call(session, { ':path': '/api/orders/1', host: 'b.example' })
      expect(hostOnly.status).toBe(200)
      expect(legacy.requests.at(-1)?.headers['x-forwarded-host']).toBe('b.example')
      // no extended CONNECT (RFC 8441) is offered: Node's HTTP/2 server answers CONNECT itself
      const tunnel = await h2Call(session, { ':method': 'CONNECT', ':authority': 'elsewhere.example:443' })
      expect(tunnel.status).toBe(405)
      expect(legacy.requests.length + ws.hosts.length).toBe(before + 1)
      expect((await h2Call(session, { ':path': '/api/orders/1' })).status).toBe(200)
    } finally {
      session.close()
    }
  })

  it('a 4 MiB answer streams to an h2 client whole (flow control and backpressure on the stream)', async () => {
    const session = await h2Session(gw.dataUrl, ca.cert)
    const echo = legacy.handler
    const big = Buffer.alloc(4 * 1024 * 1024, 'abcdefgh')
    legacy.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' })
      res.end(big)
    }
    try {
      const res = await h2Call(session, { ':path': '/big' })
      expect(res.status).toBe(200)
      expect(res.body.length).toBe(big.length)
      expect(res.body === big.toString()).toBe(true)
    } finally {
      legacy.handler = echo
      session.close()
    }
  })

  it('a malformed HTTP/1.1 request over TLS gets the gateway\'s 400 and reaches no backend', async () => {
    const before = legacy.requests.length
    const socket = await tlsSocket(gw.dataUrl, ca.cert)
    const raw = await new Promise<string>((resolve, reject) => {
      let text = ''
      socket.setEncoding('latin1')
      socket.on('data', (c: string) => (text += c))
      socket.once('error', reject)
      socket.once('close', () => resolve(text))
      socket.write('GET /a HTTP/1.1\r\nHost: localhost\r\nBad Header: x\r\n\r\n')
    })
    expect(raw).toMatch(/^HTTP\/1\.1 400 /)
    expect(raw).toContain('"code":"CUTOVER_BAD_REQUEST"')
    expect(legacy.requests.length).toBe(before)
  })

  it('HTTP/1.1 over TLS still works on the same listener, chosen by ALPN or with no ALPN at all', async () => {
    const chosen = await httpsCall(gw.dataUrl, ca.cert, { path: '/api/orders/3', alpn: ['http/1.1'] })
    expect(chosen.protocol).toBe('http/1.1')
    const unnamed = await httpsCall(gw.dataUrl, ca.cert, { path: '/api/orders/4' })
    expect(unnamed.protocol).toBe('none')
    expect([chosen.status, unnamed.status]).toEqual([200, 200])
    expect(JSON.parse(chosen.body)).toMatchObject({ origin: 'legacy', url: '/api/orders/3' })
    expect(JSON.parse(unnamed.body)).toMatchObject({ origin: 'legacy', url: '/api/orders/4' })
  })

  it('WebSocket works over HTTP/1.1 on the TLS listener (wss://)', async () => {
    const socket = new WebSocket(gw.dataUrl.replace(/^https/, 'wss') + '/live', { ca: ca.cert })
    const reply = await new Promise<string>((resolve, reject) => {
      socket.once('open', () => socket.send('ping'))
      socket.once('message', (data) => resolve(data.toString()))
      socket.once('error', reject)
    })
    socket.close()
    expect(reply).toBe('ws:ping')
  })
})

describe('mirroring over HTTP/2', () => {
  it('a write sent over h2 is answered by legacy and mirrored to cloud with the same body and Idempotency-Key', async () => {
    const gw = await gatewayFor(
      tlsConfig(legacy, cloud.url, { ...writePair(first), http2: true }, { routes: [{ id: 'orders-write', methods: ['POST'], path: '/api/orders', weight: 0, mirror: 'writes' }] }),
    )
    const session = await h2Session(gw.dataUrl, ca.cert)
    try {
      const [l, c] = [legacy.requests.length, cloud.requests.length]
      const res = await h2Call(session, { ':method': 'POST', ':path': '/api/orders', 'content-type': 'application/json' }, '{"item":"pen","total":5}')
      expect(res.status).toBe(200)
      expect(res.headers['x-cutover-backend']).toBe('legacy')
      await until(() => cloud.requests.length > c, 5_000, 'the mirrored write')
      const [primary, mirrored] = [legacy.requests.slice(l), cloud.requests.slice(c)]
      expect(primary.map((r) => r.body.toString())).toEqual(['{"item":"pen","total":5}'])
      expect(mirrored.map((r) => r.body.toString())).toEqual(['{"item":"pen","total":5}'])
      expect(mirrored[0]?.headers['idempotency-key']).toBe(primary[0]?.headers['idempotency-key'])
    } finally {
      session.close()
      await gw.close()
    }
  })
})

describe('certificate reload', () => {
  it('new files (written and renamed over the old ones) serve new connections without a restart; open connections keep theirs', async () => {
    const files = writePair(first)
    const { gw, lines } = await loggedGateway(tlsConfig(legacy, cloud.url, files))
    try {
      expect(await servedSerial(gw.dataUrl, ca.cert)).toBe('1001')
      const open = await tlsSocket(gw.dataUrl, ca.cert)
      const second = ca.issue('2002', 'localhost-rotated')
      replaceFile(files.keyFile, second.key)
      replaceFile(files.certFile, second.cert)
      await until(async () => (await servedSerial(gw.dataUrl, ca.cert)) === '2002', 10_000, 'the new certificate')
      // the gateway kept serving, and the connection made before the reload still works, on its certificate
      expect((await httpsCall(gw.dataUrl, ca.cert, { path: '/after-reload' })).status).toBe(200)
      expect(open.getPeerCertificate().serialNumber).toBe('1001')
      expect(await requestOn(open, '/on-the-old-connection')).toMatch(/^HTTP\/1\.1 200 /)
      expect(await reloads(gw, 'ok')).toBe(1)
      const info = lines.map((l) => JSON.parse(l) as { msg: string; certificate?: { serial: string } }).find((l) => l.msg.startsWith('listener certificate reloaded'))
      expect(info?.certificate?.serial).toBe('2002')
    } finally {
      await gw.close()
    }
  })

  it('a Kubernetes-style secret update (the ..data symlink swapped) is picked up', async () => {
    // the layout a secret volume has: tls.crt → ..data/tls.crt, ..data → a timestamped folder
    const dir = tempDir('cutover-tls-secret-')
    writePair(first, mkdirAndReturn(join(dir, '..2026_01')))
    symlinkSync('..2026_01', join(dir, '..data'))
    symlinkSync('..data/tls.crt', join(dir, 'tls.crt'))
    symlinkSync('..data/tls.key', join(dir, 'tls.key'))
    const gw = await gatewayFor(tlsConfig(legacy, cloud.url, { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') }))
    try {
      expect(await servedSerial(gw.dataUrl, ca.cert)).toBe('1001')
      writePair(ca.issue('3003'), mkdirAndReturn(join(dir, '..2026_02')))
      symlinkSync('..2026_02', join(dir, '..data_tmp'))
      renameSync(join(dir, '..data_tmp'), join(dir, '..data'))
      await until(async () => (await servedSerial(gw.dataUrl, ca.cert)) === '3003', 10_000, 'the certificate of the swapped secret')
      expect((await httpsCall(gw.dataUrl, ca.cert)).status).toBe(200)
    } finally {
      await gw.close()
    }
  })

  it('a key that does not match the new certificate is logged as an error and the old certificate stays in use; a good pair then loads', async () => {
    const files = writePair(first)
    const { gw, lines } = await loggedGateway(tlsConfig(legacy, cloud.url, files))
    try {
      const mismatched = ca.issue('4004')
      replaceFile(files.certFile, mismatched.cert) // the key stays the first certificate's
      await until(async () => (await reloads(gw, 'error')) === 1, 10_000, 'the refused reload')
      expect(await servedSerial(gw.dataUrl, ca.cert)).toBe('1001')
      expect((await httpsCall(gw.dataUrl, ca.cert)).status).toBe(200)
      const errors = lines.map((l) => JSON.parse(l) as { level: number; msg: string }).filter((l) => l.level === 50)
      expect(errors.map((e) => e.msg)).toEqual([expect.stringContaining('listen.tls.keyFile: does not match the certificate in listen.tls.certFile')])
      // no log line carries key material
      expect(lines.join('\n')).not.toContain('PRIVATE KEY')
      replaceFile(files.keyFile, mismatched.key)
      await until(async () => (await servedSerial(gw.dataUrl, ca.cert)) === '4004', 10_000, 'the repaired pair')
      expect(await reloads(gw, 'ok')).toBe(1)
    } finally {
      await gw.close()
    }
  })
})

describe('mutual TLS (caFile)', () => {
  it('a client without a certificate signed by the CA gets no answer; one with it is served', async () => {
    const clientCa = testCa('client CA')
    const dir = tempDir('cutover-tls-files-')
    const files = writePair(first, dir)
    const caFile = join(dir, 'clients.pem')
    writeFileSync(caFile, clientCa.cert)
    const gw = await gatewayFor(tlsConfig(legacy, cloud.url, { ...files, caFile, http2: true }))
    try {
      const before = legacy.requests.length
      await expect(httpsCall(gw.dataUrl, ca.cert)).rejects.toThrow()
      // signed by another CA: refused as well
      await expect(httpsCall(gw.dataUrl, ca.cert, { cert: ca.issue('5005', 'not-a-client') })).rejects.toThrow()
      expect(legacy.requests.length).toBe(before)
      const res = await httpsCall(gw.dataUrl, ca.cert, { path: '/with-client-cert', cert: clientCa.issue('6006', 'client-1') })
      expect(res.status).toBe(200)
      expect(legacy.requests.slice(before).map((r) => r.url)).toEqual(['/with-client-cert'])
    } finally {
      await gw.close()
    }
  })
})

describe('startup errors name the field', () => {
  async function startError(tls: { certFile: string; keyFile: string; caFile?: string }): Promise<string[]> {
    try {
      const gw = await gatewayFor(tlsConfig(legacy, cloud.url, tls))
      await gw.close()
    } catch (err) {
      expect(err).toBeInstanceOf(CutoverError)
      return [...(err as CutoverError).details]
    }
    throw new Error('expected the gateway to refuse to start')
  }

  it('a missing file', async () => {
    const dir = tempDir('cutover-tls-files-')
    const files = writePair(first, dir)
    const missing = join(dir, 'nope.pem')
    expect(await startError({ certFile: missing, keyFile: files.keyFile })).toEqual([`listen.tls.certFile: cannot read ${missing}: ENOENT`])
    expect(await startError({ ...files, caFile: missing })).toEqual([`listen.tls.caFile: cannot read ${missing}: ENOENT`])
  })

  it('a key that does not match the certificate', async () => {
    const files = writePair({ cert: first.cert, key: ca.issue('7007').key })
    expect(await startError(files)).toEqual([expect.stringMatching(/^listen\.tls\.keyFile: does not match the certificate in listen\.tls\.certFile \(.+\)$/)])
  })

  it('files that are no PEM', async () => {
    const files = writePair({ cert: 'not a certificate\n', key: 'not a key\n' })
    expect(await startError(files)).toEqual([
      expect.stringMatching(/^listen\.tls\.certFile: is not a PEM certificate \(.+\)$/),
      expect.stringMatching(/^listen\.tls\.keyFile: is not a PEM private key without a passphrase \(.+\)$/),
    ])
  })
})

function mkdirAndReturn(dir: string): string {
  mkdirSync(dir, { recursive: true })
  return dir
}

