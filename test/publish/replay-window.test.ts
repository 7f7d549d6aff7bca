import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Kafka, logLevel } from 'kafkajs'
import type { ReplayEvent } from '../../src/publish/events.ts'
import { inWindow, parseReplayTime, windowProblem } from '../../src/publish/replay-window.ts'
import { testConfig } from '../support/gateway.ts'
import { runCli, writeConfig } from '../support/cli.ts'
import { brokers, topicsFor } from '../support/kafka.ts'
import type { Origin } from '../support/origin.ts'
import { withOrigins } from '../support/setup.ts'

describe('parseReplayTime', () => {
  const now = Date.parse('2026-11-26T12:00:00Z')
  it('reads durations before now and ISO times', () => {
    expect(parseReplayTime('90s', now)).toBe(now - 90_000)
    expect(parseReplayTime('15m', now)).toBe(now - 15 * 60_000)
    expect(parseReplayTime('2h', now)).toBe(now - 2 * 3_600_000)
    expect(parseReplayTime('7d', now)).toBe(now - 7 * 86_400_000)
    expect(parseReplayTime('2026-11-26T10:30:00Z', now)).toBe(Date.parse('2026-11-26T10:30:00Z'))
    expect(parseReplayTime('2026-11-26T10:30:00.250+01:00', now)).toBe(Date.parse('2026-11-26T09:30:00.250Z'))
    expect(parseReplayTime('2026-11-26', now)).toBe(Date.parse('2026-11-26'))
  })
  it('refuses anything else, naming the accepted forms', () => {
    for (const bad of ['', '1', 'May', '2h ago', '-5m', '1w', '2026-13-45T00:00:00Z', 'yesterday']) {
      expect(() => parseReplayTime(bad, now), bad).toThrow(/not a time: use an ISO time .* or a duration before now/)
    }
  })
  it('windows are [since, until) on the event time; an unreadable time is outside any window', () => {
    const t = '2026-11-26T12:00:00.000Z'
    const at = Date.parse(t)
    expect(inWindow(t, {})).toBe(true)
    expect(inWindow(t, { since: at })).toBe(true)
    expect(inWindow(t, { until: at })).toBe(false)
    expect(inWindow(t, { since: at - 1, until: at + 1 })).toBe(true)
    expect(inWindow('garbage', {})).toBe(true)
    expect(inWindow('garbage', { since: 0 })).toBe(false)
    expect(windowProblem({ since: at, until: at })).toBe('--since must be before --until')
    expect(windowProblem({ since: at })).toBeNull()
  })
})

let cloud: Origin
let legacy: Origin
const kafka = new Kafka({ clientId: 'replay-window-test', brokers: brokers(), logLevel: logLevel.NOTHING })
const producer = kafka.producer()

beforeAll(async () => {
  ;({ legacy, cloud } = await withOrigins())
  await producer.connect()
})
afterAll(async () => {
  await producer.disconnect()
})

/** A config file on fresh topics and consumer groups, with routes a and b. */
function setup(): { file: string; topics: ReturnType<typeof topicsFor> } {
  const topics = topicsFor('replay-window')
  const config = testConfig(legacy.url, cloud.url, {
    routes: ['a', 'b'].map((id) => ({ id, methods: ['PUT'], path: `/${id}/*`, weight: 0, mirror: 'writes' as const })),
    kafka: { brokers: brokers(), clientId: `window-${randomUUID().slice(0, 8)}`, topics },
  })
  return { file: writeConfig(config), topics }
}

function event(route: string, name: string, time: number, pad = ''): ReplayEvent {
  return {
    schema: 'cutover.replay/v1',
    id: randomUUID(),
    time: new Date(time).toISOString(),
    route,
    backend: 'cloud',
    method: 'PUT',
    path: `/${route}/${name}`,
    headers: { 'content-type': 'application/json' },
    body: Buffer.from(JSON.stringify({ name, pad })).toString('base64'),
    idempotencyKey: randomUUID(),
    requestId: randomUUID(),
    reason: 'secondary-error',
    attempts: 1,
  }
}

/** Event i goes to partition i % partitions. */
async function publish(topic: string, events: ReplayEvent[], partitions = 1): Promise<void> {
  const admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }], waitForLeaders: true })
  await admin.disconnect()
  const messages = events.map((e, i) => ({ key: e.route, value: JSON.stringify(e), partition: i % partitions }))
  // in requests under the broker's 1 MiB message.max.bytes
  for (let i = 0; i < messages.length; i += 100) await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 100) })
}

/** Paths cloud received from `cutover replay` since `from` (an index into its requests). */
function sent(from: number): string[] {
  return cloud.requests.slice(from).map((r) => r.url)
}

describe('cutover replay --since / --until', () => {
  it('sends only the writes in the window, leaves the rest for a later run, and never sends one twice', async () => {
    const { file, topics } = setup()
    const now = Date.now()
    await publish(topics.replay, [event('a', 'old', now - 3 * 3_600_000), event('a', 'mid', now - 90 * 60_000), event('a', 'new', now - 10 * 60_000)])

    let from = cloud.requests.length
    const dry = runCli(['replay', '--config', file, '--since', '2h', '--until', '30m', '--dry-run'])
    expect(await dry.exited).toBe(0)
    expect(dry.output()).toContain('would send a PUT /a/mid → cloud')
    expect(dry.output()).toContain('1 to replay (dry run: nothing sent)')
    expect(sent(from)).toEqual([])

    const mid = runCli(['replay', '--config', file, '--since', '2h', '--until', '30m'])
    expect(await mid.exited).toBe(0)
    expect(mid.output()).toContain('replayed 1, dead-lettered 0, pending 0')
    expect(sent(from)).toEqual(['/a/mid'])

    from = cloud.requests.length
    const old = runCli(['replay', '--config', file, '--until', new Date(now - 2 * 3_600_000).toISOString()])
    expect(await old.exited).toBe(0)
    expect(sent(from)).toEqual(['/a/old'])

    // a windowed run does not move the group: the full run reads all three, sends the one left
    from = cloud.requests.length
    const full = runCli(['replay', '--config', file])
    expect(await full.exited).toBe(0)
    expect(full.output()).toContain('replayed 1, dead-lettered 0, pending 0; skipped 2 already done')
    expect(sent(from)).toEqual(['/a/new'])
  })

  it('refuses a window that ends before it starts, and a time it cannot read', async () => {
    const { file } = setup()
    const backwards = runCli(['replay', '--config', file, '--since', '1h', '--until', '2h'])
    expect(await backwards.exited).toBe(1)
    expect(backwards.output()).toContain('--since must be before --until')
    const unreadable = runCli(['replay', '--config', file, '--since', 'yesterday'])
    expect(await unreadable.exited).toBe(1)
    expect(unreadable.output()).toContain("'yesterday' is not a time")
  })
})

describe('cutover replay --route, then a full run', () => {
  it('the full run sends only what the --route run did not, on 3 partitions, with progress counts on stderr', async () => {
    const { file, topics } = setup()
    const now = Date.now()
    const events: ReplayEvent[] = []
    // 600 × 4 KiB over 3 partitions: more than one fetch each (1 MiB per partition), so the read
    // goes on across batches
    for (let i = 0; i < 600; i++) events.push(event(i % 4 === 0 ? 'b' : 'a', `w${i}`, now - 60_000 + i, 'x'.repeat(4096)))
    await publish(topics.replay, events, 3)
    const inOrder = (paths: string[]): string[] => [...paths].sort()

    let from = cloud.requests.length
    const b = runCli(['replay', '--config', file, '--route', 'b'])
    expect(await b.exited).toBe(0)
    expect(b.output()).toContain('replayed 150, dead-lettered 0, pending 0')
    expect(b.output()).toMatch(/replay: 500 read, \d+ sent, 0 dead, 0 pending, 0 skipped as done/)
    // partitions are read one after another: the order across them is not the topic's
    expect(inOrder(sent(from))).toEqual(inOrder(events.filter((e) => e.route === 'b').map((e) => e.path)))

    from = cloud.requests.length
    const all = runCli(['replay', '--config', file])
    expect(await all.exited).toBe(0)
    expect(all.output()).toContain('replayed 450, dead-lettered 0, pending 0; skipped 150 already done')
    expect(inOrder(sent(from))).toEqual(inOrder(events.filter((e) => e.route === 'a').map((e) => e.path)))
  })
})
