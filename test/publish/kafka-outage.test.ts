import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startBroker, type KafkaBroker } from '../../scripts/kafka-broker.ts'
import type { Gateway } from '../../src/gateway.ts'
import type { DiffEvent } from '../../src/publish/events.ts'
import type { ServerResponse } from 'node:http'
import { call, gatewayFor, tempDir, testConfig } from '../support/gateway.ts'
import { collect, topicsFor, type Collected } from '../support/kafka.ts'
import { startOrigin, type Origin } from '../support/origin.ts'

// This test stops and restarts a broker, so it runs its own rather than the shared one.
let broker: KafkaBroker
let legacy: Origin
let cloud: Origin
let gw: Gateway
let diffs: Collected<DiffEvent>
const topics = topicsFor('outage')
const spoolDir = tempDir('cutover-spool-')
const WRITES = 5000

beforeAll(async () => {
  broker = await startBroker({ keepData: true })
  const answer = (side: string) => (_req: unknown, res: ServerResponse) => {
    const text = JSON.stringify({ side })
    res.writeHead(201, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
    res.end(text)
  }
  legacy = await startOrigin('legacy', answer('legacy'))
  cloud = await startOrigin('cloud', answer('cloud'))
  gw = await gatewayFor(
    testConfig(legacy.url, cloud.url, {
      routes: [{ id: 'w', methods: ['POST'], path: '/w/*', weight: 0, mirror: 'writes' }],
      kafka: { brokers: [broker.brokers], topics },
      spool: { dir: spoolDir },
      limits: { bodyBytes: 1_048_576, mirrorBodyBytes: 262_144, compareBodyBytes: 65_536, mirrorInFlight: 1024 },
    }),
  )
  diffs = await collect<DiffEvent>(topics.diffs, [broker.brokers])
}, 180_000)
afterAll(async () => {
  await diffs?.stop().catch(() => undefined)
  await gw?.close()
  await Promise.all([legacy?.close(), cloud?.close()])
  await broker?.stop({ keepData: false })
}, 60_000)

async function sendWrites(from: number, to: number): Promise<string[]> {
  const ids: string[] = []
  let next = from
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < to) {
        const i = next++
        const res = await call(`${gw.dataUrl}/w/${i}`, { method: 'POST', body: `{"n":${i}}`, headers: { 'content-type': 'application/json' } })
        // the gateway serves every client request whatever Kafka is doing
        expect(res.status).toBe(201)
        ids.push(res.headers['x-request-id'] as string)
      }
    }),
  )
  return ids
}

describe('Kafka outage', () => {
  it('spools diff events while the broker is down and delivers every one after it returns', async () => {
    const sent = await sendWrites(0, 1000)
    await gw.data.mirror.idle()
    await expect.poll(() => new Set(diffs.messages.map((m) => m.value.requestId)).size, { timeout: 30_000 }).toBe(1000)

    await broker.stop({ keepData: true })
    sent.push(...(await sendWrites(1000, WRITES)))
    await gw.data.mirror.idle()

    // the events are on disk, counted, and waiting
    await expect.poll(async () => (await gw.metrics.publish.get()).values.filter((v) => v.labels.outcome === 'spooled').reduce((n, v) => n + v.value, 0), { timeout: 30_000 }).toBeGreaterThan(0)
    expect(gw.data.publisher.backlog()).toBeGreaterThan(0)
    expect(readdirSync(join(spoolDir, 'w0')).some((f) => f.endsWith('.ndjson'))).toBe(true)

    broker = await startBroker(broker.restartOptions)
    await expect.poll(() => new Set(diffs.messages.map((m) => m.value.requestId)).size, { timeout: 120_000, interval: 200 }).toBe(WRITES)

    // every event arrived: one per mirrored write, ids and request ids match what was sent
    const byId = new Map<string, DiffEvent>()
    for (const { value } of diffs.messages) {
      const seen = byId.get(value.id)
      // a repeat (a batch re-sent after a lost acknowledgement) is the same event, droppable by id
      if (seen !== undefined) expect(value).toEqual(seen)
      byId.set(value.id, value)
    }
    expect(byId.size).toBe(WRITES)
    expect(new Set([...byId.values()].map((e) => e.requestId))).toEqual(new Set(sent))
    expect(diffs.messages.length - WRITES).toBeLessThan(WRITES * 0.1)
    await expect.poll(() => gw.data.publisher.backlog(), { timeout: 30_000 }).toBe(0)
  }, 240_000)
})
