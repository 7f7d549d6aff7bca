import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import pino from 'pino'
import { beforeAll, describe, expect, it } from 'vitest'
import { validateConfig } from '../../src/config/validate.ts'
import { SHUTDOWN_MARGIN_MS, startGateway } from '../../src/gateway.ts'
import { call, testConfig } from '../support/gateway.ts'
import type { Origin } from '../support/origin.ts'
import { withOrigins } from '../support/setup.ts'
import { inBatches } from '../support/faults.ts'

const DRAIN_MS = 1000
let legacy: Origin
let cloud: Origin

beforeAll(async () => {
  // cloud takes every mirrored write and never answers (its timeout is far past the drain time)
  ;({ legacy, cloud } = await withOrigins({ cloud: () => undefined }))
})

/** Every replay event in a spool folder tree (newline-delimited JSON segments). */
function spooledReplays(dir: string): { value: { requestId: string; backend: string } }[] {
  const out: { topic: string; value: { requestId: string; backend: string } }[] = []
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ndjson')) continue
    for (const line of readFileSync(join(entry.parentPath, entry.name), 'utf8').split('\n')) if (line !== '') out.push(JSON.parse(line) as (typeof out)[number])
  }
  return out.filter((r) => r.topic === 'replay')
}

describe('shutdown with slow mirrors', () => {
  it('takes no longer than shutdown.drainTimeoutMs plus the margin; the writes it cut go to replay', async () => {
    const input = testConfig(legacy.url, cloud.url, {
      backends: { legacy: { url: legacy.url, timeoutMs: 2000 }, cloud: { url: cloud.url, timeoutMs: 60_000 } },
      routes: [{ id: 'orders', methods: ['POST'], path: '/orders', weight: 0, mirror: 'writes' }],
      shutdown: { drainTimeoutMs: DRAIN_MS },
    })
    const gw = await startGateway(validateConfig(input), { log: pino({ level: 'silent' }), processMetrics: false })
    const n = 20
    const answers = await inBatches(n, 10, (i) => call(`${gw.dataUrl}/orders`, { method: 'POST', headers: { 'x-request-id': `w-${i}` }, body: `{"n":${i}}` }))
    expect(answers.map((a) => a.status)).toEqual(Array.from({ length: n }, () => 200))
    await expect.poll(() => cloud.requests.filter((r) => r.complete).length, { timeout: 5000 }).toBe(n)
    expect(gw.data.mirror.inFlight).toBe(n)

    const started = performance.now()
    await gw.close()
    const took = performance.now() - started
    expect(took).toBeLessThan(DRAIN_MS + SHUTDOWN_MARGIN_MS + 300)
    expect(took).toBeGreaterThanOrEqual(DRAIN_MS - 50)

    // acknowledged 20, legacy applied 20, cloud's answers never came: all 20 are on the replay spool
    expect(legacy.requests).toHaveLength(n)
    const replays = spooledReplays(input.spool!.dir!)
    expect(replays.map((r) => r.value.requestId).sort()).toEqual(Array.from({ length: n }, (_, i) => `w-${i}`).sort())
    expect(new Set(replays.map((r) => r.value.backend))).toEqual(new Set(['cloud']))
  })
})
