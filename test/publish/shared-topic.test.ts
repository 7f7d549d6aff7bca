import { KafkaJSConnectionError, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError } from 'kafkajs'
import { describe, expect, it } from 'vitest'
import { whileRetriable } from '../../src/publish/shared-topic.ts'

/** kafkajs' own error for "not the leader" (protocol error code 6), as a busy broker answers right after a topic is created. */
const notLeader = (): KafkaJSProtocolError => new KafkaJSProtocolError({ type: 'NOT_LEADER_FOR_PARTITION', code: 6, retriable: true, message: 'This server is not the leader for that topic-partition' } as unknown as Error)

/** Fails with the given errors in turn, then answers 'offsets'. */
function failing(errors: Error[]): { fn: () => Promise<string>; calls: () => number } {
  let calls = 0
  return {
    fn: async () => {
      const err = errors[calls++]
      if (err !== undefined) throw err
      return 'offsets'
    },
    calls: () => calls,
  }
}

describe('whileRetriable', () => {
  it('tries again after "not the leader", as is or as the cause of kafkajs running out of retries', async () => {
    const f = failing([notLeader(), new KafkaJSNumberOfRetriesExceeded(notLeader(), { retryCount: 2, retryTime: 300 })])
    expect(await whileRetriable(f.fn)).toBe('offsets')
    expect(f.calls()).toBe(3)
  })

  it('gives up after the attempts it was given, with the last error', async () => {
    const f = failing([notLeader(), notLeader(), notLeader()])
    await expect(whileRetriable(f.fn, 2)).rejects.toThrow('This server is not the leader for that topic-partition')
    expect(f.calls()).toBe(2)
  })

  it('does not retry a connection error or any other error', async () => {
    for (const err of [new KafkaJSConnectionError('Connection error: ECONNREFUSED'), new Error('boom')]) {
      const f = failing([err])
      await expect(whileRetriable(f.fn)).rejects.toBe(err)
      expect(f.calls()).toBe(1)
    }
  })
})
