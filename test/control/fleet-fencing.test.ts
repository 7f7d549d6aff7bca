import { randomUUID } from 'node:crypto'
import { Kafka, logLevel } from 'kafkajs'
import { beforeAll, describe, expect, it } from 'vitest'
import { CONTROL_SCHEMA, type ControlRecord } from '../../src/control/control-log.ts'
import { until } from '../support/cli.ts'
import { routeOf, startReplica, whenReady, type Replica } from '../support/fleet.ts'
import { admin as adminCall } from '../support/gateway.ts'
import { brokers, readTopic, topicsFor } from '../support/kafka.ts'
import type { Origin } from '../support/origin.ts'
import { withOrigins } from '../support/setup.ts'

let legacy: Origin
let cloud: Origin
beforeAll(async () => {
  ;({ legacy, cloud } = await withOrigins())
})

describe('state.shared: a leader that lost its term', () => {
  it('cannot publish a decision once another has taken over, and the fleet keeps one sequence of versions', async () => {
    const clientId = `fencing-${randomUUID().slice(0, 8)}`
    const topics = topicsFor('fencing')
    const shared = { kafka: { brokers: brokers(), clientId, topics }, routes: [{ id: 'r', methods: ['GET' as const], path: '/r', weight: 0 }] }
    const fleet = await Promise.all(['f1', 'f2'].map((n) => startReplica(n, shared, { legacy, cloud })))
    for (const r of fleet) await whenReady(r)
    // the first change makes the leader start its term (and its transactional producer)
    expect((await adminCall((fleet[0] as Replica).gw, '/routes/r', { method: 'PATCH', body: { weight: 10 } })).status).toBe(200)
    // the replica that decided it is the one leading now (both were in the group before the PATCH)
    const first = (await readTopic<ControlRecord>(topics.control)).map((m) => m.value)
    const leader = fleet.find((r) => r.name === first[0]?.leader) as Replica
    const follower = fleet.find((r) => r !== leader) as Replica

    // another process takes the fleet's transactional id, as a new leader does when its term starts
    const kafka = new Kafka({ brokers: brokers(), logLevel: logLevel.NOTHING })
    const usurper = kafka.producer({ transactionalId: `${clientId}-control-leader`, idempotent: true, maxInFlightRequests: 1 })
    await usurper.connect()
    await (await usurper.transaction()).commit()
    try {
      // the old leader's next decision is refused by the broker; it starts a new term and decides again
      expect((await adminCall(follower.gw, '/routes/r', { method: 'PATCH', body: { weight: 20 } })).status).toBe(200)
      await leader.run.waitFor('another replica took over the decisions', 5000)
      await until(async () => (await routeOf(leader, 'r')).version === 3, 5000, 'the leader at version 3')

      // and now the usurper is the one behind: whatever it still tries to publish never becomes state
      const forged: ControlRecord = { ...({} as ControlRecord), schema: CONTROL_SCHEMA, route: 'r', state: { weight: 99, mirror: 'off', readSample: 0, version: 4 }, request: 'forged', outcome: 'applied' }
      const tx = await usurper.transaction()
      const refused = await tx
        .send({ topic: topics.control, acks: -1, messages: [{ key: 'r', value: JSON.stringify(forged) }] })
        .then(() => tx.commit())
        .then(
          () => null,
          (err: { type?: string }) => err.type,
        )
      expect(refused).toBe('INVALID_PRODUCER_EPOCH')
    } finally {
      await usurper.disconnect()
    }
    const records = (await readTopic<ControlRecord>(topics.control)).map((m) => m.value)
    expect(records.map((r) => [r.state.version, r.state.weight])).toEqual([
      [2, 10],
      [3, 20],
    ])
    for (const r of fleet) expect(await routeOf(r, 'r')).toMatchObject({ weight: 20, version: 3 })
  }, 90_000)
})
