/**
 * Bench origin: a plain node:http server standing in for a backend.
 *
 *   GET  → a fixed ~1 KB JSON document (content-length set, so no chunking)
 *   POST (any other method with a body) → reads the body, answers a small JSON receipt
 *   `?delay=MS` (or --delay / ORIGIN_DELAY_MS for every request) → answers after MS milliseconds;
 *   with `&delayOn=NAME` only the origin called NAME waits (`?delay=200&delayOn=cloud`: a slow
 *   secondary behind a fast primary, both asked the same path)
 *   `?same=1` → the body leaves out the origin's name, so legacy and cloud answer byte-identical
 *   JSON (a mirrored exchange compares equal); the `x-origin` header still names the origin
 *
 * Usage: node --import tsx bench/origin.ts [--name legacy] [--port 0] [--delay 0]
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { parseArgs } from 'node:util'
import { serveChild } from './lib/child.ts'

const { values } = parseArgs({
  options: {
    name: { type: 'string', default: 'origin' },
    port: { type: 'string', default: '0' },
    delay: { type: 'string', default: process.env.ORIGIN_DELAY_MS ?? '0' },
  },
  strict: true,
})

const name = values.name
const defaultDelay = nonNegativeInt(values.delay, '--delay')

/** ~1 KB of JSON shaped like an API answer; built once, sent as-is. Without a name: `?same=1`. */
function makeDocument(origin: string | undefined): Buffer {
  const items = Array.from({ length: 8 }, (_, i) => ({ sku: `SKU-${1000 + i}`, qty: i + 1, price: 9.99 + i, title: `Item number ${i} of the order` }))
  return Buffer.from(JSON.stringify({ id: 'A-1042', origin, status: 'shipped', customer: { id: 'C-77', tier: 'gold' }, items, updatedAt: '2024-01-01T00:00:00.000Z' }))
}

const DOCUMENT = makeDocument(name)
const DOCUMENT_SAME = makeDocument(undefined)
const getHeaders = (doc: Buffer): Record<string, string | number> => ({ 'content-type': 'application/json', 'content-length': doc.length, 'x-origin': name })
const GET_HEADERS = getHeaders(DOCUMENT)
const GET_HEADERS_SAME = getHeaders(DOCUMENT_SAME)

let served = 0

interface Query {
  readonly delay: number
  /** leave the origin's name out of the body */
  readonly same: boolean
}

const NO_QUERY: Query = { delay: defaultDelay, same: false }

function queryOf(url: string): Query {
  const q = url.indexOf('?')
  if (q < 0) return NO_QUERY
  const params = new URLSearchParams(url.slice(q + 1))
  const delay = params.get('delay')
  const delayOn = params.get('delayOn')
  const mine = delayOn === null || delayOn === name
  return { delay: delay === null || !mine ? defaultDelay : nonNegativeInt(delay, 'delay'), same: params.get('same') === '1' }
}

function answer(req: IncomingMessage, res: ServerResponse, received: number, same: boolean): void {
  served++
  if (req.method === 'GET' || req.method === 'HEAD') {
    res.writeHead(200, same ? GET_HEADERS_SAME : GET_HEADERS)
    res.end(req.method === 'HEAD' ? undefined : same ? DOCUMENT_SAME : DOCUMENT)
    return
  }
  const body = same ? `{"ok":true,"received":${received}}` : `{"ok":true,"origin":"${name}","received":${received}}`
  res.writeHead(req.method === 'POST' ? 201 : 200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-origin': name })
  res.end(body)
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  const { delay, same } = req.url === undefined ? NO_QUERY : queryOf(req.url)
  let received = 0
  req.on('data', (chunk: Buffer) => {
    received += chunk.length
  })
  req.on('end', () => {
    if (delay > 0) setTimeout(answer, delay, req, res, received, same)
    else answer(req, res, received, same)
  })
}

function nonNegativeInt(v: string, what: string): number {
  const n = Number(v)
  if (!Number.isInteger(n) || n < 0) throw new Error(`${what} must be a whole number of milliseconds ≥ 0, got '${v}'`)
  return n
}

await serveChild(`origin ${name}`, async () => {
  const server = createServer(handle)
  // longer than the proxies' pool keep-alive (4 s), so the proxy side decides when to recycle
  server.keepAliveTimeout = 60_000
  await new Promise<void>((resolve) => server.listen(Number(values.port), '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => served,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
})
