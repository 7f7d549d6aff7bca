import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Gateway } from '../../src/gateway.ts'
import type { ReplayDeadEvent, ReplayDoneRecord, ReplayEvent } from '../../src/publish/events.ts'
import { call, gatewayFor, testConfig } from '../support/gateway.ts'
import { runCli, writeConfig } from '../support/cli.ts'
import { brokers, collect, readTopic, topicsFor, type Collected } from '../support/kafka.ts'
import { startStoreBackend, type StoreBackend } from '../support/store-backend.ts'
import type { Recorded } from '../support/origin.ts'

// One write cloud always answers 500 to, one it always answers 400 to, among good ones: the
// poison must not keep `cutover replay` failing forever, and nothing good may be sent twice.
let legacy: StoreBackend
let cloud: StoreBackend
let gw: Gateway
let replayTopic: Collected<ReplayEvent>
let file: string
const topics = topicsFor('replay-poison')
const NAMES = ['good-1', 'poison-500', 'good-2', 'poison-400', 'good-3', 'good-4']
const MAX_ATTEMPTS = 3

beforeAll(async () => {
  legacy = await startStoreBackend('legacy')
  cloud = await startStoreBackend('cloud')
  const config = testConfig(legacy.origin.url, cloud.origin.url, {
    routes: [
      { id: 'items', methods: ['POST'], path: '/items', weight: 0, mirror: 'writes' },
      { id: 'renames', methods: ['PUT'], path: '/items/*', weight: 0, mirror: 'writes' },
    ],
    kafka: { brokers: brokers(), clientId: `poison-${topics.replay.split('.')[0]}`, topics },
  })
  gw = await gatewayFor(config)
  file = writeConfig(config)
  replayTopic = await collect<ReplayEvent>(topics.replay)
  const store = cloud.origin.handler
  cloud.origin.handler = (req, res, body) => {
    const text = body.toString()
    const status = text.includes('poison-500') ? 500 : text.includes('poison-400') ? 400 : 0
    if (status === 0 || cloud.down) return store(req, res, body)
    res.writeHead(status, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ error: status === 400 ? 'invalid item' : 'database says no' }))
  }
})
afterAll(async () => {
  await replayTopic?.stop()
  await gw?.close()
  await Promise.all([legacy?.origin.close(), cloud?.origin.close()])
})

/** What cloud received from `cutover replay` (every resend carries x-cutover-replay), by body. */
function resends(): Map<string, Recorded[]> {
  const by = new Map<string, Recorded[]>()
  for (const r of cloud.origin.requests) {
    if (r.headers['x-cutover-replay'] === undefined) continue
    const name = (JSON.parse(r.body.toString()) as { name: string }).name
    by.set(name, [...(by.get(name) ?? []), r])
  }
  return by
}

describe('a poison replay event', () => {
  it('is dead-lettered after the attempt limit; the rest is replayed exactly once and a --route run after it resends nothing', async () => {
    cloud.down = true
    for (const name of NAMES) {
      const res = await call(`${gw.dataUrl}/items`, { method: 'POST', body: JSON.stringify({ name }), headers: { 'content-type': 'application/json' } })
      expect(res.status).toBe(201)
    }
    const rename = await call(`${gw.dataUrl}/items/legacy-1`, { method: 'PUT', body: JSON.stringify({ name: 'renamed' }), headers: { 'content-type': 'application/json' } })
    expect(rename.status).toBe(200)
    await gw.data.mirror.idle()
    await expect.poll(() => replayTopic.messages.length, { timeout: 15_000 }).toBe(NAMES.length + 1)
    cloud.down = false
    const before = cloud.origin.requests.length

    // a dry run sends nothing and settles nothing
    const dry = runCli(['replay', '--config', file, '--dry-run'])
    expect(await dry.exited).toBe(0)
    expect(dry.output()).toContain(`${NAMES.length + 1} to replay (dry run: nothing sent)`)
    expect(cloud.origin.requests.length).toBe(before)

    const run = runCli(['replay', '--config', file, '--max-attempts', String(MAX_ATTEMPTS)])
    expect(await run.exited).toBe(0)
    const out = run.output()
    expect(out).toContain('replayed 5, dead-lettered 2, pending 0')
    expect(out).toMatch(/DEAD items POST \/items → cloud \(key [0-9a-f-]{36}, secondary-error\): 500, 3 tries failed/)
    expect(out).toMatch(/DEAD items POST \/items → cloud \(key [0-9a-f-]{36}, secondary-error\): 400, refused/)

    // cloud got each good write exactly once, the 500 one MAX_ATTEMPTS times, the 400 one once
    const got = resends()
    expect(Object.fromEntries([...got].map(([name, list]) => [name, list.length]))).toEqual({ 'good-1': 1, 'good-2': 1, 'good-3': 1, 'good-4': 1, renamed: 1, 'poison-500': MAX_ATTEMPTS, 'poison-400': 1 })
    expect(got.get('poison-500')?.map((r) => r.headers['x-cutover-replay'])).toEqual(['1', '2', '3'])
    expect([...cloud.items.values()].map((i) => (i as { name: string }).name).sort()).toEqual(['good-1', 'good-2', 'good-3', 'good-4', 'renamed'])

    const byName = new Map(replayTopic.messages.map((m) => [Buffer.from(m.value.body, 'base64').toString(), m.value]))
    const dead = await readTopic<ReplayDeadEvent>(topics.replayDead)
    expect(dead).toHaveLength(2)
    const dead500 = dead.find((d) => d.value.status === 500)!
    expect(dead500.key).toBe('items')
    expect(dead500.value).toMatchObject({ schema: 'cutover.replay.dead/v1', route: 'items', backend: 'cloud', reason: 'attempts', attempts: MAX_ATTEMPTS, status: 500 })
    expect(dead500.value.id).toBe(byName.get('{"name":"poison-500"}')?.id)
    expect(dead500.value.event).toEqual(byName.get('{"name":"poison-500"}'))
    const dead400 = dead.find((d) => d.value.status === 400)!
    expect(dead400.value).toMatchObject({ reason: 'refused', attempts: 1, status: 400 })
    expect(dead400.value.event.id).toBe(byName.get('{"name":"poison-400"}')?.id)

    const done = await readTopic<ReplayDoneRecord>(topics.replayDone)
    expect(new Map(done.map((d) => [d.key, d.value.result]))).toEqual(new Map(replayTopic.messages.map((m) => [m.value.id, m.value.id === dead500.value.id || m.value.id === dead400.value.id ? 'dead' : 'sent'])))

    // another consumer group (--route) reads the topic from the start: all of its route is done
    // (the other route's event is not its business and not counted)
    const requests = cloud.origin.requests.length
    const route = runCli(['replay', '--config', file, '--route', 'items'])
    expect(await route.exited).toBe(0)
    expect(route.output()).toContain(`replayed 0, dead-lettered 0, pending 0; skipped ${NAMES.length} already done (2 of them on ${topics.replayDead})`)
    expect(cloud.origin.requests.length).toBe(requests)

    // and the full run's group is at the end
    const full = runCli(['replay', '--config', file])
    expect(await full.exited).toBe(0)
    expect(full.output()).toContain('nothing to replay')
    expect(cloud.origin.requests.length).toBe(requests)
  })
})
