import { Kafka, logLevel } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Gateway } from '../../src/gateway.ts'
import { gatewayFor, testConfig } from '../support/gateway.ts'
import { brokers, topicsFor } from '../support/kafka.ts'
import type { Origin } from '../support/origin.ts'
import { readiness, readinessOrigins } from '../support/readiness-origins.ts'

const topics = topicsFor('readiness')
const clientId = `readiness-test-${topics.replay.split('.')[0]}`
let legacy: Origin
let cloud: Origin
let gw: Gateway
let plain: Gateway

beforeAll(async () => {
  ;({ legacy, cloud } = await readinessOrigins())
  const kafka = new Kafka({ clientId, brokers: brokers(), logLevel: logLevel.NOTHING })
  const admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic: topics.replay }, { topic: topics.replayDead }] })
  await admin.disconnect()
  const producer = kafka.producer()
  await producer.connect()
  await producer.send({ topic: topics.replay, messages: [1, 2, 3].map((i) => ({ key: 'r', value: `{"n":${i}}` })) })
  await producer.send({ topic: topics.replayDead, messages: [{ key: 'r', value: '{"dead":1}' }, { key: 'r', value: '{"dead":2}' }] })
  await producer.disconnect()
  const routes = [{ id: 'clean', methods: ['GET' as const], path: '/clean/:id' }]
  gw = await gatewayFor(testConfig(legacy.url, cloud.url, { routes, kafka: { brokers: brokers(), clientId, topics } }))
  plain = await gatewayFor(testConfig(legacy.url, cloud.url, { routes }))
})
afterAll(async () => {
  await Promise.all([gw?.close(), plain?.close()])
  await Promise.all([legacy?.close(), cloud?.close()])
})

describe('replay backlog and dead letters in GET /readiness', () => {
  it('counts what is on the replay topic past the replay group, and the dead letters, as Kafka holds them', async () => {
    const report = await readiness(gw)
    expect(report.backlog.replayTopic).toEqual({ pending: 3, dead: 2 })
  })

  it('is null without Kafka', async () => {
    expect((await readiness(plain)).backlog.replayTopic).toBeNull()
  })
})
