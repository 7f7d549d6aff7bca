import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Gateway } from '../../src/gateway.ts'
import type { DiffEvent, ReplayEvent } from '../../src/publish/events.ts'
import { call } from '../support/gateway.ts'
import { brokers, collect, topicsFor, type Collected } from '../support/kafka.ts'
import type { Origin } from '../support/origin.ts'
import { withGateway } from '../support/setup.ts'
import { request } from 'undici'

/**
 * Writes the primary applied but whose outcome the gateway never learnt: the client hung up, the
 * gateway's deadline passed (504), or the primary reset the connection after taking the write
 * (502). Each must end on the secondary or on the replay topic marked `outcome: 'unknown'`, with a
 * `primary-unknown` diff event; none may vanish.
 */
let legacy: Origin
let cloud: Origin
let gw: Gateway
let replayTopic: Collected<ReplayEvent>
let diffTopic: Collected<DiffEvent>
const aborts = new Map<string, AbortController>()
const topics = topicsFor('fault-unknown')

beforeAll(async () => {
  ;({ legacy, cloud, gw } = await withGateway({
    // legacy applies every write (it is recorded), then answers late, hangs up, or answers late to a client that leaves
    legacy: (req, res) => {
      const mode = new URL(req.url ?? '/', 'http://x').searchParams.get('mode')
      if (mode === 'reset') {
        req.socket.destroy()
        return
      }
      if (mode === 'abort') setImmediate(() => aborts.get(String(req.headers['x-request-id']))?.abort())
      setTimeout(() => {
        if (res.destroyed) return
        res.writeHead(201, { 'content-type': 'application/json', 'content-length': 2 })
        res.end('{}')
      }, 1500)
    },
    config: ({ legacy, cloud }) => ({
      routes: [
        { id: 'items', methods: ['POST'], path: '/items/*', weight: 0, mirror: 'writes' },
        { id: 'mirrored-anyway', methods: ['POST'], path: '/anyway/*', weight: 0, mirror: 'writes', mirrorFailedWrites: true },
      ],
      kafka: { brokers: brokers(), topics },
      backends: { legacy: { url: legacy.url, timeoutMs: 700 }, cloud: { url: cloud.url, timeoutMs: 2000 } },
    }),
  }))
  replayTopic = await collect<ReplayEvent>(topics.replay)
  diffTopic = await collect<DiffEvent>(topics.diffs)
})
afterAll(async () => {
  await replayTopic?.stop()
  await diffTopic?.stop()
})

async function post(path: string, requestId: string, signal?: AbortSignal): Promise<number> {
  try {
    const res = await request(`${gw.dataUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': requestId },
      body: JSON.stringify({ requestId }),
      ...(signal === undefined ? {} : { signal }),
    })
    await res.body.text()
    return res.statusCode
  } catch {
    return 0
  }
}

describe('writes whose primary outcome is unknown', () => {
  it('go to replay with outcome unknown (or, with mirrorFailedWrites, to the secondary), each with a primary-unknown diff event', async () => {
    const aborted = Array.from({ length: 20 }, (_, i) => `abort-${i}`)
    const deadlined = Array.from({ length: 5 }, (_, i) => `deadline-${i}`)
    const reset = Array.from({ length: 5 }, (_, i) => `reset-${i}`)
    const anyway = Array.from({ length: 3 }, (_, i) => `anyway-${i}`)
    for (const id of aborted) aborts.set(id, new AbortController())
    const statuses = await Promise.all([
      ...aborted.map((id) => post(`/items/${id}?mode=abort`, id, aborts.get(id)?.signal)),
      ...deadlined.map((id) => post(`/items/${id}?mode=slow`, id)),
      ...reset.map((id) => post(`/items/${id}?mode=reset`, id)),
      ...anyway.map((id) => post(`/anyway/${id}?mode=slow`, id)),
    ])
    // the clients saw: hung up themselves (0), 504, 502, 504
    expect(statuses).toEqual([...aborted.map(() => 0), ...deadlined.map(() => 504), ...reset.map(() => 502), ...anyway.map(() => 504)])
    const appliedOnLegacy = legacy.requests.filter((r) => r.complete).map((r) => String(r.headers['x-request-id']))
    expect(appliedOnLegacy.sort()).toEqual([...aborted, ...deadlined, ...reset, ...anyway].sort())

    const unknown = [...aborted, ...deadlined, ...reset]
    await expect.poll(() => replayTopic.messages.length, { timeout: 15_000 }).toBe(unknown.length)
    await expect.poll(() => diffTopic.messages.length, { timeout: 15_000 }).toBe(unknown.length + anyway.length)
    await gw.data.mirror.idle()

    const replays = replayTopic.messages.map((m) => m.value)
    expect(replays.map((e) => e.requestId).sort()).toEqual([...unknown].sort())
    const legacyKey = new Map(legacy.requests.map((r) => [String(r.headers['x-request-id']), String(r.headers['idempotency-key'])]))
    for (const e of replays) {
      expect(e).toMatchObject({ route: 'items', backend: 'cloud', method: 'POST', reason: 'primary-unknown', outcome: 'unknown', attempts: 1 })
      expect(Buffer.from(e.body, 'base64').toString()).toBe(JSON.stringify({ requestId: e.requestId }))
      expect(e.idempotencyKey).toBe(legacyKey.get(e.requestId))
    }
    const diffs = diffTopic.messages.map((m) => m.value)
    expect(diffs.every((d) => d.kind === 'primary-unknown')).toBe(true)
    expect(diffs.map((d) => d.requestId).sort()).toEqual([...unknown, ...anyway].sort())
    expect(diffs.find((d) => d.requestId === 'deadline-0')?.reason).toContain('deadline')
    expect(diffs.find((d) => d.requestId === 'abort-0')?.reason).toContain('client closed')

    // replay only: cloud got none of them directly; the mirrorFailedWrites route sent its three anyway
    const onCloud = cloud.requests.map((r) => String(r.headers['x-request-id']))
    expect(onCloud.sort()).toEqual([...anyway].sort())
    // none unaccounted for
    const accounted = new Set([...onCloud, ...replays.filter((e) => e.outcome === 'unknown').map((e) => e.requestId)])
    expect(appliedOnLegacy.filter((id) => !accounted.has(id))).toEqual([])
    // and the journal has nothing left to recover: every replay event is durable
    await expect.poll(() => gw.data.journal?.pending, { timeout: 10_000 }).toBe(0)
    process.stdout.write(
      `unknown outcomes: legacy applied ${appliedOnLegacy.length} (client aborts ${aborted.length}, deadlines ${deadlined.length}, resets ${reset.length}, mirrorFailedWrites deadlines ${anyway.length}); ` +
        `replay outcome=unknown ${replays.length}, on cloud ${onCloud.length}, primary-unknown diffs ${diffs.length}, unaccounted 0\n`,
    )
  })

  it("keeps the gateway-made Idempotency-Key when a client retries a 504 with the same x-request-id", async () => {
    expect(await post('/items/retry-me?mode=slow', 'retry-me')).toBe(504)
    expect(await post('/items/retry-me?mode=slow', 'retry-me')).toBe(504)
    const keys = legacy.requests.filter((r) => r.headers['x-request-id'] === 'retry-me').map((r) => r.headers['idempotency-key'])
    expect(keys).toHaveLength(2)
    expect(keys[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(keys[1]).toBe(keys[0])
    // another request id (or path) gets another key; a client's own key is passed through
    expect(await post('/items/retry-me?mode=slow', 'other-id')).toBe(504)
    const other = legacy.requests.find((r) => r.headers['x-request-id'] === 'other-id')?.headers['idempotency-key']
    expect(other).not.toBe(keys[0])
    const own = await call(`${gw.dataUrl}/items/x?mode=reset`, { method: 'POST', headers: { 'idempotency-key': 'client-key-1', 'x-request-id': 'retry-me' }, body: '{}' }).catch(() => null)
    expect(own?.status).toBe(502)
    expect(legacy.requests.at(-1)?.headers['idempotency-key']).toBe('client-key-1')
  })
})
