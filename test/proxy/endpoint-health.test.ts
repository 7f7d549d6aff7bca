import { Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { EndpointHealth, MAX_EJECT_FACTOR } from '../../src/proxy/endpoint-health.ts'

async function gauge(registry: Registry, endpoint: string): Promise<number | undefined> {
  const m = await registry.getSingleMetric('cutover_endpoint_healthy')?.get()
  return m?.values.find((v) => v.labels.endpoint === endpoint)?.value
}

describe('endpoint passive health', () => {
  it('ejects after `failures` in a row, lets one probe through after ejectMs, doubles the ejection on a failed probe, heals on a response', async () => {
    let now = 1_000_000
    const registry = new Registry()
    const health = new EndpointHealth('legacy', ['http://a', 'http://b'], { failures: 3, ejectMs: 100 }, registry, () => now)
    const e = health.endpoints[0]!
    // a response resets the run of failures
    health.settle(e, 'failed', false)
    health.settle(e, 'failed', false)
    health.settle(e, 'response', false)
    health.settle(e, 'failed', false)
    health.settle(e, 'failed', false)
    // other errors (e.g. a headers timeout) neither count nor reset
    health.settle(e, 'error', false)
    expect(e.healthy).toBe(true)
    health.settle(e, 'failed', false)
    expect(e.healthy).toBe(false)
    expect(await gauge(registry, 'http://a')).toBe(0)
    expect(await gauge(registry, 'http://b')).toBe(1)
    expect(health.admit(e)).toBe(false)
    now += 100
    // exactly one probe
    expect(health.admit(e)).toBe(true)
    expect(health.admit(e)).toBe(false)
    health.settle(e, 'failed', true)
    now += 100
    expect(health.admit(e)).toBe(false)
    now += 100
    expect(health.admit(e)).toBe(true)
    // a probe that ends without an answer nor a connection failure frees the probe slot
    health.settle(e, 'error', true)
    expect(health.admit(e)).toBe(true)
    health.settle(e, 'response', true)
    expect(e.healthy).toBe(true)
    expect(e.ejections).toBe(0)
    expect(await gauge(registry, 'http://a')).toBe(1)
  })

  it('caps the backoff at MAX_EJECT_FACTOR × ejectMs', () => {
    let now = 0
    const health = new EndpointHealth('legacy', ['http://a'], { failures: 1, ejectMs: 10 }, null, () => now)
    const e = health.endpoints[0]!
    health.settle(e, 'failed', false)
    for (let i = 0; i < 10; i++) {
      now = e.ejectedUntil
      expect(health.admit(e)).toBe(true)
      health.settle(e, 'failed', true)
    }
    expect(e.ejectedUntil - now).toBe(10 * MAX_EJECT_FACTOR)
  })
})
