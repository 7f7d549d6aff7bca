import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Kafka, logLevel } from 'kafkajs'
import type { ReplayEvent } from '../../src/publish/events.ts'
import { testConfig } from '../support/gateway.ts'
import { runCli, writeConfig } from '../support/cli.ts'
import { brokers, readTopic, topicsFor } from '../support/kafka.ts'
import { deadPort, echo, startOrigin, type Origin } from '../support/origin.ts'
import { withOrigins } from '../support/setup.ts'

// A secondary that fails everything is down, not a pile of poison events: nothing may be
// dead-lettered, and the next run (once it is back) must send exactly what is still pending.
let legacy: Origin
let cloud: Origin
let cloudDown = true
const kafka = new Kafka({ clientId: 'replay-down-test', brokers: brokers(), logLevel: logLevel.NOTHING })
const producer = kafka.producer()

beforeAll(async () => {
  ;({ legacy, cloud } = await withOrigins())
  const answer = echo('cloud')
  cloud.handler = (req, res, body) => (cloudDown ? req.socket.destroy() : answer(req, res, body))
  await producer.connect()
})
afterAll(async () => {
  await producer.disconnect()
})

function event(backend: string, name: string): ReplayEvent {
  return {
    schema: 'cutover.replay/v1',
    id: randomUUID(),
    time: new Date().toISOString(),
    route: 'items',
    backend,
    method: 'PUT',
    path: `/items/${name}`,
    headers: {},
    body: '',
    idempotencyKey: randomUUID(),
    requestId: randomUUID(),
    reason: 'secondary-error',
    attempts: 1,
  }
}

const replayed = (origin: Origin): string[] => origin.requests.filter((r) => r.headers['x-cutover-replay'] !== undefined).map((r) => r.url)

describe('cutover replay while a backend is down', () => {
  it('keeps its events pending (exit 1, nothing dead-lettered), sends the other backend\'s, and the next run sends only what is left', async () => {
    const topics = topicsFor('replay-down')
    const config = testConfig(legacy.url, cloud.url, {
      routes: [{ id: 'items', methods: ['PUT'], path: '/items/*', weight: 50, mirror: 'writes' }],
      kafka: { brokers: brokers(), clientId: `down-${randomUUID().slice(0, 8)}`, topics },
    })
    const file = writeConfig(config)
    // one partition, in this order: c1 l1 c2 l2 c3 l3 c4 l4 c5
    const events: ReplayEvent[] = []
    for (let i = 1; i <= 5; i++) {
      events.push(event('cloud', `c${i}`))
      if (i < 5) events.push(event('legacy', `l${i}`))
    }
    await producer.send({ topic: topics.replay, acks: -1, messages: events.map((e) => ({ key: e.route, value: JSON.stringify(e) })) })

    const first = runCli(['replay', '--config', file, '--max-attempts', '2'])
    expect(await first.exited).toBe(1)
    const out = first.output()
    expect(out).toContain('cloud: 3 writes in a row failed every try: treated as down for the rest of this run')
    expect(out).toContain('replayed 4, dead-lettered 0, pending 5')
    expect(out).toContain('PENDING items PUT /items/c5 → cloud')
    expect(out).toContain('not tried: the backend is treated as down in this run')
    expect(replayed(legacy)).toEqual(['/items/l1', '/items/l2', '/items/l3', '/items/l4'])
    // every one of c1..c3 got its 2 tries; c4 and c5 were not tried once cloud was taken for down
    expect(cloud.requests.map((r) => r.url)).toEqual(['/items/c1', '/items/c1', '/items/c2', '/items/c2', '/items/c3', '/items/c3'])
    expect(await readTopic(topics.replayDead)).toEqual([])

    // the group stayed at c1: the next run reads from there, skips l1..l4 (done), sends c1..c5
    cloudDown = false
    cloud.requests.length = 0
    const second = runCli(['replay', '--config', file])
    expect(await second.exited).toBe(0)
    expect(second.output()).toContain('replayed 5, dead-lettered 0, pending 0; skipped 4 already done')
    expect(replayed(cloud)).toEqual(['/items/c1', '/items/c2', '/items/c3', '/items/c4', '/items/c5'])
    expect(replayed(legacy)).toHaveLength(4)
  })

  it('a second run while one is going refuses to start (exit 1, nothing sent) and leaves the first alone', async () => {
    const topics = topicsFor('replay-twice')
    // t0 is answered at once, the rest only once the other runs are done: the first run is
    // certainly still going while they start
    let release = (): void => undefined
    const gate = new Promise<void>((resolve) => (release = resolve))
    const slow = await startOrigin('slow', (req, res) => void (req.url === '/items/t0' ? Promise.resolve() : gate).then(() => res.writeHead(200).end('{}')))
    try {
      const config = testConfig(legacy.url, slow.url, {
        backends: { legacy: { url: legacy.url }, cloud: { url: slow.url, timeoutMs: 30_000 } },
        routes: [{ id: 'items', methods: ['PUT'], path: '/items/*', weight: 0, mirror: 'writes' }],
        kafka: { brokers: brokers(), clientId: `twice-${randomUUID().slice(0, 8)}`, topics },
      })
      const file = writeConfig(config)
      const events = Array.from({ length: 6 }, (_, i) => event('cloud', `t${i}`))
      await producer.send({ topic: topics.replay, acks: -1, messages: events.map((e) => ({ key: e.route, value: JSON.stringify(e) })) })
      const a = runCli(['replay', '--config', file])
      await a.waitFor('sent items PUT /items/t0')
      // a --route run has a group of its own, and is refused as well
      const others = [[], ['--route', 'items'], ['--dry-run']].map((args) => runCli(['replay', '--config', file, ...args]))
      for (const b of others) {
        expect(await b.exited).toBe(1)
        expect(b.output()).toMatch(/another cutover replay is running: consumer group twice-[0-9a-f]{8}-replay has members/)
      }
      expect(a.child.exitCode).toBeNull()
      release()
      expect(await a.exited).toBe(0)
      expect(a.output()).toContain('replayed 6, dead-lettered 0, pending 0')
      expect(slow.requests.map((r) => r.url)).toEqual(events.map((e) => e.path))
    } finally {
      release()
      await slow.close()
    }
  }, 60_000)

  it('exits 1 with the error when Kafka cannot be reached', async () => {
    const nowhere = `127.0.0.1:${await deadPort()}`
    const config = testConfig(legacy.url, cloud.url, { kafka: { brokers: [nowhere] } })
    // the variable replaces kafka.brokers: point it nowhere too
    const run = runCli(['replay', '--config', writeConfig(config)], { CUTOVER_KAFKA_BROKERS: nowhere })
    expect(await run.exited).toBe(1)
    expect(run.output()).toMatch(/ECONNREFUSED|Connection error|connect/i)
  })
})
