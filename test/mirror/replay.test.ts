import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Gateway } from '../../src/gateway.ts'
import type { ReplayDoneRecord, ReplayEvent } from '../../src/publish/events.ts'
import type { CutoverConfigInput } from '../../src/config/schema.ts'
import { call, gatewayFor, testConfig } from '../support/gateway.ts'
import { runCli, writeConfig } from '../support/cli.ts'
import { brokers, collect, readTopic, topicsFor, type Collected } from '../support/kafka.ts'
import { startStoreBackend, type StoreBackend } from '../support/store-backend.ts'

let legacy: StoreBackend
let cloud: StoreBackend
let gw: Gateway
let config: CutoverConfigInput
let replayTopic: Collected<ReplayEvent>
const topics = topicsFor('replay')

beforeAll(async () => {
  legacy = await startStoreBackend('legacy')
  cloud = await startStoreBackend('cloud')
  config = testConfig(legacy.origin.url, cloud.origin.url, {
    routes: [{ id: 'items', methods: ['POST', 'PUT', 'DELETE'], path: '/items/*', weight: 0, mirror: 'writes', propagate: [{ from: 'body.id', to: 'header.x-cutover-entity-id' }] }],
    kafka: { brokers: brokers(), clientId: `replay-test-${topics.replay.split('.')[0]}`, topics },
  })
  gw = await gatewayFor(config)
  replayTopic = await collect<ReplayEvent>(topics.replay)
})
afterAll(async () => {
  await replayTopic?.stop()
  await gw?.close()
  await Promise.all([legacy?.origin.close(), cloud?.origin.close()])
})

async function write(method: string, path: string, body: unknown): Promise<void> {
  const res = await call(`${gw.dataUrl}${path}`, { method, body: JSON.stringify(body), headers: { 'content-type': 'application/json', authorization: 'Bearer client-secret' } })
  expect(res.status).toBeLessThan(300)
}

describe('replay of writes the secondary missed', () => {
  it('puts writes the secondary did not take on cutover.replay, and `cutover replay` makes both stores equal', async () => {
    await write('POST', '/items', { name: 'first' })
    await gw.data.mirror.idle()
    expect([...cloud.items.values()]).toEqual([...legacy.items.values()])

    cloud.down = true
    await write('POST', '/items', { name: 'second' })
    await write('PUT', '/items/legacy-1', { name: 'first, renamed' })
    await write('POST', '/items', { name: 'third' })
    await write('DELETE', '/items/legacy-2', {})
    await gw.data.mirror.idle()
    expect(legacy.items.size).toBe(2)
    expect(cloud.items.size).toBe(1)

    await expect.poll(() => replayTopic.messages.length, { timeout: 15_000 }).toBe(4)
    const first = replayTopic.messages[0]!
    expect(first.key).toBe('items')
    expect(first.value).toMatchObject({ schema: 'cutover.replay/v1', route: 'items', backend: 'cloud', method: 'POST', path: '/items', reason: 'secondary-error', attempts: 1 })
    expect(Buffer.from(first.value.body, 'base64').toString()).toBe('{"name":"second"}')
    expect(first.value.idempotencyKey).toMatch(/^[0-9a-f-]{36}$/)
    expect(first.value.headers['x-cutover-entity-id']).toBe('legacy-2')
    expect(first.value.headers.authorization).toBe('[redacted]')
    expect(JSON.stringify(replayTopic.messages)).not.toContain('client-secret')

    // a dry run lists and changes nothing
    const file = writeConfig(config)
    const dry = runCli(['replay', '--config', file, '--dry-run'])
    expect(await dry.exited).toBe(0)
    expect(dry.output()).toContain('4 to replay (dry run: nothing sent)')
    expect(dry.output()).toContain('would send items POST /items → cloud')
    expect(cloud.items.size).toBe(1)

    // still down: the first writes fail every try, so cloud is taken for down; nothing is
    // dead-lettered and nothing is lost: the group stays at the first pending event
    const failing = runCli(['replay', '--config', file, '--max-attempts', '2'])
    expect(await failing.exited).toBe(1)
    expect(failing.output()).toContain('cloud: 3 writes in a row failed every try: treated as down')
    expect(failing.output()).toContain('replayed 0, dead-lettered 0, pending 4')
    expect(await readTopic(topics.replayDead)).toEqual([])
    expect(replayTopic.messages.length).toBe(4)

    cloud.down = false
    const run = runCli(['replay', '--config', file])
    expect(await run.exited).toBe(0)
    expect(run.output()).toContain('replayed 4, dead-lettered 0, pending 0')
    expect([...cloud.items.entries()].sort()).toEqual([...legacy.items.entries()].sort())
    const done = await readTopic<ReplayDoneRecord>(topics.replayDone)
    expect(done.map((r) => r.key).sort()).toEqual(replayTopic.messages.map((m) => m.value.id).sort())
    expect(done.every((r) => r.value.schema === 'cutover.replay.done/v1' && r.value.result === 'sent')).toBe(true)

    // nothing left: a second replay sends nothing
    const again = runCli(['replay', '--config', file])
    expect(await again.exited).toBe(0)
    expect(again.output()).toContain('nothing to replay')
  })
})
