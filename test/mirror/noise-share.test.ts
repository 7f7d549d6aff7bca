import { join } from 'node:path'
import pino from 'pino'
import { Registry } from 'prom-client'
import { afterEach, describe, expect, it } from 'vitest'
import { DiffLog } from '../../src/compare/diff-log.ts'
import { validateConfig } from '../../src/config/validate.ts'
import { createMetrics } from '../../src/metrics/metrics.ts'
import { Mirror } from '../../src/mirror/mirror.ts'
import { NoiseShare } from '../../src/mirror/noise-share.ts'
import type { NoiseClearEvent, NoiseFieldEvent } from '../../src/publish/events.ts'
import { createPublisher, type Publisher } from '../../src/publish/publisher.ts'
import { tempDir } from '../support/gateway.ts'

/**
 * Two replicas' noise sharing over one ordered log, as the one-partition noise topic orders it:
 * `publish` appends, `deliver` hands every record not delivered yet to both replicas in log order.
 * The Kafka round trip itself is tested with real replicas in test/control/fleet-noise.test.ts;
 * here the orders that are hard to force on a broker (a clear racing a learned field, two clears).
 */
const log = pino({ level: 'silent' })
const publishers: Publisher[] = []
afterEach(async () => {
  for (const p of publishers.splice(0)) await p.close(0)
})

async function replica(name: string, topic: { value: NoiseFieldEvent | NoiseClearEvent }[]): Promise<{ mirror: Mirror; share: NoiseShare }> {
  const config = validateConfig({
    backends: { legacy: { url: 'http://127.0.0.1:1' }, cloud: { url: 'http://127.0.0.1:2' } },
    routes: [
      { id: 'r', methods: ['GET'], path: '/r', mirror: 'all' },
      { id: 'quiet', methods: ['GET'], path: '/q', mirror: 'all', compare: { learnNoise: false } },
    ],
    spool: { dir: join(tempDir(), 'spool') },
  })
  const metrics = createMetrics(new Registry(), { processMetrics: false })
  const publisher = await createPublisher({ config, metrics, log, spoolDir: config.spool.dir })
  publishers.push(publisher)
  const mirror = new Mirror(config, publisher, new DiffLog(), metrics, log)
  const share = new NoiseShare(mirror, (_key, value) => topic.push({ value }), log, name)
  return { mirror, share }
}

function field(route: string, name: string, epoch: string | null, replica = 'elsewhere'): NoiseFieldEvent {
  return { schema: 'cutover.noise/v1', route, field: name, epoch, replica, time: new Date().toISOString() }
}

describe('NoiseShare', () => {
  it('takes over fields of the current epoch, never a container, a whole array, status or a route that does not learn', async () => {
    const { mirror, share } = await replica('a', [])
    for (const f of ['body.generatedAt', 'headers.x-trace', 'body.items[*].ts', 'body', 'status', 'body.tags[*]', 'body.items[*]', 'not a path']) share.receive(field('r', f, null))
    share.receive(field('quiet', 'body.generatedAt', null))
    share.receive({ schema: 'other/v1', route: 'r', field: 'body.other', epoch: null })
    expect(mirror.noiseSnapshot('r')).toMatchObject({ fields: ['body.generatedAt', 'headers.x-trace', 'body.items[*].ts'], fromFleet: ['body.generatedAt', 'headers.x-trace', 'body.items[*].ts'] })
    expect(mirror.noiseSnapshot('quiet')).toBeNull()
  })

  it('a clear made elsewhere forgets the route; a field learned before it stays forgotten, even when it arrives after it', async () => {
    const { mirror, share } = await replica('a', [])
    share.receive(field('r', 'body.generatedAt', null))
    share.receive({ schema: 'cutover.noise/v1', route: 'r', clear: 'c1', replica: 'b', time: new Date().toISOString() })
    expect(mirror.noiseSnapshot('r')).toMatchObject({ fields: [], samples: 0 })
    // learned on a replica that had not read c1 yet: published after it, but of the old epoch
    share.receive(field('r', 'body.updatedAt', null))
    expect(mirror.noiseSnapshot('r')?.fields).toEqual([])
    share.receive(field('r', 'body.updatedAt', 'c1'))
    expect(mirror.noiseSnapshot('r')?.fields).toEqual(['body.updatedAt'])
  })

  it("an operator's clear is published once, and its record coming back does not clear what was learned since", async () => {
    const topic: { value: NoiseFieldEvent | NoiseClearEvent }[] = []
    const { mirror, share } = await replica('a', topic)
    share.receive(field('r', 'body.generatedAt', null))
    expect(mirror.clearNoise('r')).toBe(true)
    expect(topic.map((t) => t.value)).toEqual([expect.objectContaining({ route: 'r', clear: expect.any(String), replica: 'a' })])
    const clear = (topic[0]?.value as NoiseClearEvent).clear
    // another replica read the clear and learned again
    share.receive(field('r', 'body.updatedAt', clear))
    share.receive(topic[0]?.value)
    expect(mirror.noiseSnapshot('r')?.fields).toEqual(['body.updatedAt'])
  })

  it('two clears at once: both replicas end on the later one, and keep what is learned after it', async () => {
    const topic: { value: NoiseFieldEvent | NoiseClearEvent }[] = []
    const a = await replica('a', topic)
    const b = await replica('b', topic)
    a.mirror.clearNoise('r')
    b.mirror.clearNoise('r')
    // topic order: a's clear, then b's; each replica reads both
    for (const t of topic.slice()) for (const r of [a, b]) r.share.receive(t.value)
    const later = (topic[1]?.value as NoiseClearEvent).clear
    for (const r of [a, b]) r.share.receive(field('r', 'body.generatedAt', later, 'b'))
    for (const r of [a, b]) expect(r.mirror.noiseSnapshot('r')?.fields).toEqual(['body.generatedAt'])
  })
})
