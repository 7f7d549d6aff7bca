import { describe, expect, it } from 'vitest'
import { validateConfig } from '../../src/config/validate.ts'
import { CutoverError } from '../../src/errors.ts'

const backends = { legacy: { url: 'http://127.0.0.1:3001' }, cloud: { url: 'http://127.0.0.1:3002' } }

describe('replay options and topics', () => {
  it('defaults: 5 attempts, cutover.replay.dead and cutover.replay.done', () => {
    const cfg = validateConfig({ backends, kafka: { brokers: ['127.0.0.1:9092'] } })
    expect(cfg.replay).toEqual({ maxAttempts: 5 })
    expect(cfg.kafka?.topics).toMatchObject({ replay: 'cutover.replay', replayDead: 'cutover.replay.dead', replayDone: 'cutover.replay.done' })
  })
  it('kafka.topics.noise and .readiness: cutover.noise and cutover.readiness by default, strings when set', () => {
    expect(validateConfig({ backends, kafka: { brokers: ['127.0.0.1:9092'] } }).kafka?.topics).toMatchObject({ noise: 'cutover.noise', readiness: 'cutover.readiness' })
    expect(validateConfig({ backends, kafka: { brokers: ['127.0.0.1:9092'], topics: { readiness: 'fleet.readiness' } } }).kafka?.topics.readiness).toBe('fleet.readiness')
    expect(validateConfig({ backends, kafka: { brokers: ['127.0.0.1:9092'], topics: { noise: 'fleet.noise' } } }).kafka?.topics.noise).toBe('fleet.noise')
    try {
      validateConfig({ backends, kafka: { brokers: ['127.0.0.1:9092'], topics: { noise: 7 } } })
      throw new Error('accepted a number')
    } catch (err) {
      expect(err).toBeInstanceOf(CutoverError)
      expect((err as CutoverError).details?.some((d) => d.startsWith('kafka.topics.noise:'))).toBe(true)
    }
  })
  it('replay.maxAttempts is a whole number from 1 to 100', () => {
    for (const bad of [0, 101, 2.5, '3']) {
      try {
        validateConfig({ backends, replay: { maxAttempts: bad } })
        throw new Error(`accepted ${String(bad)}`)
      } catch (err) {
        expect(err).toBeInstanceOf(CutoverError)
        expect((err as CutoverError).details).toContain('replay.maxAttempts: must be a whole number from 1 to 100')
      }
    }
    expect(validateConfig({ backends, replay: { maxAttempts: 1 } }).replay.maxAttempts).toBe(1)
  })
})
