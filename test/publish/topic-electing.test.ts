import { KafkaJSConnectionError, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError } from 'kafkajs'
import { describe, expect, it } from 'vitest'
import { whileElecting } from '../../src/publish/topic-setup.ts'

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

describe('whileElecting', () => {
  it('tries again after "not the leader", as is or as the cause of kafkajs running out of retries', async () => {
    const f = failing([notLeader(), new KafkaJSNumberOfRetriesExceeded(notLeader(), { retryCount: 2, retryTime: 300 })])
    expect(await whileElecting(f.fn, 5000)).toBe('offsets')
    expect(f.calls()).toBe(3)
  })

  it('gives up at its deadline, with the last error', async () => {
    const f = failing(Array.from({ length: 100 }, notLeader))
    await expect(whileElecting(f.fn, 250)).rejects.toThrow('This server is not the leader for that topic-partition')
    expect(f.calls()).toBeGreaterThanOrEqual(2)
    expect(f.calls()).toBeLessThan(100)
  })

  it('does not retry a connection error or any other error', async () => {
    for (const err of [new KafkaJSConnectionError('Connection error: ECONNREFUSED'), new Error('boom')]) {
      const f = failing([err])
      await expect(whileElecting(f.fn, 5000)).rejects.toBe(err)
      expect(f.calls()).toBe(1)
    }
  })
})
