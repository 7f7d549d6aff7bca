import { createHash, randomBytes } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import * as zlib from 'node:zlib'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CutoverConfigInput } from '../../src/config/schema.ts'
import type { Gateway } from '../../src/gateway.ts'
import type { DiffEvent } from '../../src/publish/events.ts'
import { admin, gatewayFor, testConfig } from '../support/gateway.ts'
import { brokers, collect, topicsFor, type Collected } from '../support/kafka.ts'
import { startOrigin, type Origin } from '../support/origin.ts'

const COMPARE_LIMIT = 256 * 1024
const ENCODINGS = ['gzip', 'br', 'deflate'] as const
type Encoding = (typeof ENCODINGS)[number]
type RouteInput = NonNullable<CutoverConfigInput['routes']>[number]

const compress: Record<Encoding, (b: Buffer) => Buffer> = {
  gzip: (b) => zlib.gzipSync(b),
  br: (b) => zlib.brotliCompressSync(b),
  deflate: (b) => zlib.deflateSync(b),
}

// legacy's answer (sent compressed) and cloud's (sent plain) differ in exactly these fields
const legacyOrder = (id: string) => ({ id, total: 10, customer: { name: 'Ann', city: 'Brno' }, items: [{ sku: 'a', price: 5 }, { sku: 'b', price: 7 }], legacyCode: 'X1', tags: ['new', 'paid'] })
const cloudOrder = (id: string) => ({ id, total: 11, customer: { name: 'Anne', city: 'Brno' }, items: [{ sku: 'a', price: 5 }, { sku: 'b', price: 8 }], currency: 'EUR', tags: ['new', 'paid'] })
const DIFFERING = ['body.currency', 'body.customer.name', 'body.items[1].price', 'body.legacyCode', 'body.total']

const csvLines = Array.from({ length: 30 }, (_, i) => `${i},item-${i},${i * 3}`)
const cloudCsvLines = csvLines.map((l, i) => (i === 4 ? '4,item-4,13' : i === 20 ? '20,item-twenty,60' : l))

// 10 MB of zeros: about 10 KB gzipped, far over the compare limit once decoded
const BOMB = zlib.gzipSync(Buffer.alloc(10 * 1024 * 1024))
// random bytes do not compress: the gzip stream itself is over the compare limit
const INCOMPRESSIBLE = zlib.gzipSync(randomBytes(COMPARE_LIMIT + 64 * 1024))

let legacy: Origin
let cloud: Origin
let gw: Gateway
let diffs: Collected<DiffEvent>
const topics = topicsFor('compressed-answers')
/** the exact bytes legacy sent, by x-request-id */
const sent = new Map<string, Buffer>()

function send(res: ServerResponse, body: Buffer, headers: Record<string, string>): void {
  res.writeHead(200, { ...headers, 'content-length': String(body.length) })
  res.end(body)
}

function legacyAnswer(req: IncomingMessage, res: ServerResponse): void {
  const [, kind, id = ''] = (req.url ?? '').split('?')[0]!.split('/')
  const json = { 'content-type': 'application/json' }
  let body: Buffer
  let headers: Record<string, string>
  if (kind === 'text') {
    body = zlib.gzipSync(Buffer.from(csvLines.join('\n') + '\n'))
    headers = { 'content-type': 'text/csv; charset=utf-8', 'content-encoding': 'gzip' }
  } else if (kind === 'bomb') {
    body = BOMB
    headers = { ...json, 'content-encoding': 'gzip' }
  } else if (kind === 'incompressible') {
    body = INCOMPRESSIBLE
    headers = { 'content-type': 'application/octet-stream', 'content-encoding': 'gzip' }
  } else if (kind === 'corrupt') {
    body = Buffer.from('this is not a gzip stream')
    headers = { ...json, 'content-encoding': 'gzip' }
  } else {
    const enc = kind as Encoding
    body = compress[enc](Buffer.from(JSON.stringify(legacyOrder(id))))
    headers = { ...json, 'content-encoding': enc, vary: 'accept-encoding' }
  }
  sent.set(req.headers['x-request-id'] as string, body)
  send(res, body, headers)
}

function cloudAnswer(req: IncomingMessage, res: ServerResponse): void {
  const [, kind, id = ''] = (req.url ?? '').split('?')[0]!.split('/')
  if (kind === 'text') send(res, Buffer.from(cloudCsvLines.join('\n') + '\n'), { 'content-type': 'text/csv; charset=utf-8' })
  else if (kind === 'bomb' || kind === 'corrupt') send(res, Buffer.from('{}'), { 'content-type': 'application/json' })
  else if (kind === 'incompressible') send(res, Buffer.from('short'), { 'content-type': 'application/octet-stream' })
  else send(res, Buffer.from(JSON.stringify(cloudOrder(id))), { 'content-type': 'application/json' })
}

const shadow = (id: string, path: string, ignore: string[] = []): RouteInput => ({ id, methods: ['GET'], path, weight: 0, mirror: 'all', readSample: 1, compare: { ignore, learnNoise: false } })

function routes(ignore: Partial<Record<Encoding, string>> = {}): RouteInput[] {
  return [
    ...ENCODINGS.map((enc) => shadow(enc, `/${enc}/:id`, ignore[enc] === undefined ? [] : [ignore[enc]])),
    shadow('text', '/text/:id'),
    shadow('bomb', '/bomb'),
    shadow('incompressible', '/incompressible'),
    shadow('corrupt', '/corrupt'),
  ]
}

async function startGateway(ignore: Partial<Record<Encoding, string>> = {}): Promise<Gateway> {
  return gatewayFor(
    testConfig(legacy.url, cloud.url, {
      routes: routes(ignore),
      limits: { bodyBytes: 16 * 1024 * 1024, mirrorBodyBytes: 262_144, compareBodyBytes: COMPARE_LIMIT, mirrorInFlight: 64 },
      kafka: { brokers: brokers(), topics },
    }),
  )
}

/** A client that asks for compression and reads the answer as raw bytes (undici does not decode). */
async function get(g: Gateway, path: string): Promise<{ status: number; requestId: string; encoding: unknown; bytes: Buffer }> {
  const res = await request(`${g.dataUrl}${path}`, { headers: { 'accept-encoding': 'gzip, br, deflate' } })
  const bytes = Buffer.from(await res.body.arrayBuffer())
  return { status: res.statusCode, requestId: res.headers['x-request-id'] as string, encoding: res.headers['content-encoding'], bytes }
}

/** The diff event of one exchange, from the topic and from GET /diffs (they must agree). */
async function eventFor(g: Gateway, route: string, requestId: string): Promise<DiffEvent> {
  await g.data.mirror.idle()
  await expect.poll(() => diffs.messages.filter((m) => m.value.requestId === requestId).length, { timeout: 15_000 }).toBe(1)
  const fromTopic = diffs.messages.find((m) => m.value.requestId === requestId)!
  expect(fromTopic.key).toBe(route)
  const listed = ((await admin(g, `/diffs?route=${route}&limit=100`)).json() as DiffEvent[]).filter((e) => e.requestId === requestId)
  expect(listed).toEqual([fromTopic.value])
  return fromTopic.value
}

const paths = (e: DiffEvent): string[] => e.differences.map((d) => d.path).sort()

beforeAll(async () => {
  legacy = await startOrigin('legacy', legacyAnswer)
  cloud = await startOrigin('cloud', cloudAnswer)
  gw = await startGateway()
  diffs = await collect<DiffEvent>(topics.diffs)
})
afterAll(async () => {
  await diffs?.stop()
  await gw?.close()
  await Promise.all([legacy?.close(), cloud?.close()])
})

describe('compressed answers are compared decoded', () => {
  const pasted: Partial<Record<Encoding, string>> = {}

  for (const enc of ENCODINGS) {
    it(`${enc} legacy answer vs plain cloud answer: every differing field by exact path; the client gets legacy's bytes`, async () => {
      const res = await get(gw, `/${enc}/42`)
      expect(res.status).toBe(200)
      expect(res.encoding).toBe(enc)
      expect(res.bytes.equals(sent.get(res.requestId)!)).toBe(true)
      const event = await eventFor(gw, enc, res.requestId)
      expect(event.kind).toBe('mismatch')
      expect(event.truncated).toBe(false)
      expect(paths(event)).toEqual(DIFFERING)
      expect(event.differences).toContainEqual({ path: 'body.items[1].price', kind: 'changed', legacy: 7, cloud: 8 })
      expect(event.differences).toContainEqual({ path: 'body.customer.name', kind: 'changed', legacy: 'Ann', cloud: 'Anne' })
      expect(event.differences).toContainEqual({ path: 'body.currency', kind: 'extra', cloud: 'EUR' })
      expect(event.differences).toContainEqual({ path: 'body.legacyCode', kind: 'missing', legacy: 'X1' })
      // a different field per encoding is pasted into compare.ignore below
      pasted[enc] = event.differences.find((d) => d.path === DIFFERING[ENCODINGS.indexOf(enc) + 1])!.path
    })
  }

  it('a path pasted from the event into compare.ignore removes exactly that path', async () => {
    expect(Object.keys(pasted)).toEqual([...ENCODINGS])
    const ignoring = await startGateway(pasted)
    try {
      for (const enc of ENCODINGS) {
        const res = await get(ignoring, `/${enc}/43`)
        expect(res.bytes.equals(sent.get(res.requestId)!)).toBe(true)
        const event = await eventFor(ignoring, enc, res.requestId)
        expect(paths(event)).toEqual(DIFFERING.filter((p) => p !== pasted[enc]))
      }
    } finally {
      await ignoring.close()
    }
  })

  it('gzip text against plain text differing in 2 lines reports exactly those 2 lines', async () => {
    const res = await get(gw, '/text/1')
    expect(res.bytes.equals(sent.get(res.requestId)!)).toBe(true)
    const event = await eventFor(gw, 'text', res.requestId)
    expect(event.differences).toEqual([
      { path: 'body[4]', kind: 'changed', legacy: '4,item-4,12', cloud: '4,item-4,13' },
      { path: 'body[20]', kind: 'changed', legacy: '20,item-20,60', cloud: '20,item-twenty,60' },
    ])
  })

  it('a 10 MB decompression bomb under a 256 KiB limit: too large, exact bytes to the client, bounded memory', async () => {
    const warm = await get(gw, '/bomb')
    const event = await eventFor(gw, 'bomb', warm.requestId)
    expect(event.truncated).toBe(true)
    expect(event.differences).toEqual([
      {
        path: 'body',
        kind: 'too-large',
        legacy: { length: BOMB.length, sha256: createHash('sha256').update(BOMB).digest('hex'), encoding: 'gzip', notDecoded: `decoded body over limits.compareBodyBytes (${COMPARE_LIMIT} bytes)` },
        cloud: { length: 2, sha256: createHash('sha256').update('{}').digest('hex') },
      },
    ])
    const before = process.memoryUsage().rss
    const answers = await Promise.all(Array.from({ length: 20 }, () => get(gw, '/bomb')))
    await gw.data.mirror.idle()
    const growth = process.memoryUsage().rss - before
    for (const a of answers) expect(a.bytes.equals(BOMB)).toBe(true)
    // unbounded, 20 concurrent decodes would hold 200 MB of zeros
    expect(growth).toBeLessThan(64 * 1024 * 1024)
    await expect.poll(() => answers.every((a) => diffs.messages.some((m) => m.value.requestId === a.requestId)), { timeout: 15_000 }).toBe(true)
  })

  it('a gzip body whose compressed size is already over the limit is too large', async () => {
    const res = await get(gw, '/incompressible')
    expect(res.bytes.equals(INCOMPRESSIBLE)).toBe(true)
    const event = await eventFor(gw, 'incompressible', res.requestId)
    expect(event.truncated).toBe(true)
    expect(event.differences).toHaveLength(1)
    expect(event.differences[0]).toMatchObject({ path: 'body', legacy: { length: INCOMPRESSIBLE.length, encoding: 'gzip', notDecoded: `encoded body over limits.compareBodyBytes (${COMPARE_LIMIT} bytes)` } })
  })

  it('corrupt gzip data is compared as sent, with the reason, and the gateway keeps serving', async () => {
    const res = await get(gw, '/corrupt')
    expect(res.bytes.toString()).toBe('this is not a gzip stream')
    const event = await eventFor(gw, 'corrupt', res.requestId)
    expect(event.differences).toHaveLength(1)
    expect(event.differences[0]).toMatchObject({ path: 'body', legacy: { encoding: 'gzip', notDecoded: 'corrupt gzip data (incorrect header check); compared as sent' } })
    expect((await get(gw, '/gzip/44')).status).toBe(200)
  })
})
