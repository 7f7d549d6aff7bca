import { randomUUID } from 'node:crypto'
import { Kafka, logLevel } from 'kafkajs'
import { describe, expect, it } from 'vitest'
import { ensureTopics } from '../../src/publish/topic-setup.ts'
import { brokers } from '../support/kafka.ts'

describe('ensureTopics', () => {
  // a fleet's first start: every replica creates the control, requests and audit topics at once
  it('three replicas creating the same new topics at once can all read their offsets right after', async () => {
    const kafka = new Kafka({ brokers: brokers(), logLevel: logLevel.NOTHING, retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 } })
    const admins = [kafka.admin(), kafka.admin(), kafka.admin()]
    await Promise.all(admins.map((a) => a.connect()))
    try {
      for (let round = 0; round < 8; round++) {
        const base = `topic-setup-${randomUUID().slice(0, 8)}`
        const topics = [{ topic: base, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }, { topic: `${base}.requests` }, { topic: `${base}.audit` }]
        const highs = await Promise.all(
          admins.map(async (admin) => {
            await ensureTopics(admin, topics)
            return (await admin.fetchTopicOffsets(base)).map((p) => p.high)
          }),
        )
        expect(highs).toEqual([['0'], ['0'], ['0']])
      }
    } finally {
      await Promise.all(admins.map((a) => a.disconnect()))
    }
  }, 60_000)
})
