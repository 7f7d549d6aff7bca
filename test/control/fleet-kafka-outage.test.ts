import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startBroker, type KafkaBroker } from '../../scripts/kafka-broker.ts'
import type { ControlRecord } from '../../src/control/control-log.ts'
import { until } from '../support/cli.ts'
import { backendOf, fleetKafka, readyz, routeOf, startReplica, stopReplicas, whenReady, type Replica } from '../support/fleet.ts'
import { admin as adminCall } from '../support/gateway.ts'
import { readTopic, topicsFor } from '../support/kafka.ts'
import type { Origin } from '../support/origin.ts'
import { withOrigins } from '../support/setup.ts'

// This test stops and restarts a broker, so it runs its own rather than the shared one.
let broker: KafkaBroker
let legacy: Origin
let cloud: Origin
const topics = topicsFor('fleet-outage')

beforeAll(async () => {
  broker = await startBroker({ keepData: true })
  ;({ legacy, cloud } = await withOrigins())
}, 180_000)
afterAll(async () => {
  // the replicas first: stopping with no broker to say goodbye to would take them much longer
  await stopReplicas()
  await broker?.stop({ keepData: false })
}, 60_000)

describe('state.shared with Kafka stopped', () => {
  it('keeps routing on the last state, answers admin writes with 503, and takes writes again once Kafka is back', async () => {
    const shared = {
      kafka: fleetKafka(topics, [broker.brokers]),
      routes: [{ id: 'r', methods: ['GET' as const], path: '/r', weight: 0 }],
    }
    const env = { CUTOVER_KAFKA_BROKERS: broker.brokers }
    const fleet = await Promise.all(['k1', 'k2'].map((n) => startReplica(n, shared, { legacy, cloud }, env)))
    for (const r of fleet) await whenReady(r)
    const [k1, k2] = fleet as [Replica, Replica]
    expect((await adminCall(k1.gw, '/routes/r', { method: 'PATCH', body: { weight: 100 } })).status).toBe(200)
    await until(async () => (await routeOf(k2, 'r')).version === 2, 1000, 'k2 at version 2')

    await broker.stop({ keepData: true })
    // routing goes on, on the last state
    for (const r of fleet) for (let i = 0; i < 10; i++) expect(await backendOf(r, '/r')).toBe('cloud')
    const refused = await adminCall(k2.gw, '/routes/r', { method: 'PATCH', body: { weight: 10 } })
    expect(refused.status).toBe(503)
    expect((refused.json() as { error: { code: string; message: string } }).error).toMatchObject({ code: 'CUTOVER_CONTROL_UNAVAILABLE', message: expect.stringMatching(/Kafka|control topic/) })
    const rollback = await adminCall(k1.gw, '/routes/r/rollback', { method: 'POST' })
    expect(rollback.status).toBe(503)
    for (const r of fleet) {
      expect(await readyz(r)).toBe(200)
      expect(await routeOf(r, 'r')).toMatchObject({ weight: 100, version: 2 })
      expect(await backendOf(r, '/r')).toBe('cloud')
    }

    broker = await startBroker(broker.restartOptions)
    // writes work again once the clients reconnected and the leader rejoined
    await until(async () => (await adminCall(k2.gw, '/routes/r', { method: 'PATCH', body: { weight: 30 } })).status === 200, 90_000, 'a write to succeed after the restart')
    const final = await routeOf(k2, 'r')
    expect(final.weight).toBe(30)
    await until(async () => (await routeOf(k1, 'r')).version === final.version, 5000, 'k1 to catch up')
    expect((await routeOf(k1, 'r')).weight).toBe(30)
    // no change lost or reordered: applied versions go up by one, the last is what both replicas have
    const applied = (await readTopic<ControlRecord>(topics.control, [broker.brokers])).map((m) => m.value).filter((v) => v.outcome === 'applied')
    expect(applied.map((v) => v.state.version)).toEqual(Array.from({ length: applied.length }, (_, i) => i + 2))
    expect(applied.at(-1)?.state).toMatchObject({ weight: 30, version: final.version })
    expect(applied.some((v) => v.state.weight === 10 || v.state.weight === 0)).toBe(false)
  }, 240_000)
})
