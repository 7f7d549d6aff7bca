import { beforeAll, describe, expect, it } from 'vitest'
import { until } from '../support/cli.ts'
import { admin, freshGet, testConfig } from '../support/gateway.ts'
import type { Origin } from '../support/origin.ts'
import { readiness, readinessOrigins, routeOf } from '../support/readiness-origins.ts'
import { startCliGateway } from '../support/setup.ts'

let legacy: Origin
let cloud: Origin

beforeAll(async () => {
  ;({ legacy, cloud } = await readinessOrigins())
})

/** One request on a fresh connection, so the cluster spreads them over the workers. */
describe('GET /readiness with --workers 2', () => {
  it('adds up every worker’s traffic and comparisons and keeps the phase clock in the primary', async () => {
    const cfg = testConfig(legacy.url, cloud.url, {
      routes: [{ id: 'mm', methods: ['GET'], path: '/mm/:id', mirror: 'all', sticky: { header: 'x-user-id' }, readiness: { minRequests: 10 } }],
    })
    const { gw, port } = await startCliGateway(cfg, { args: ['--workers', '2'] })
    await Promise.all(Array.from({ length: 40 }, (_, i) => freshGet(`http://127.0.0.1:${port}/mm/${i}`, { 'x-user-id': `u${i}` })))
    await until(async () => routeOf(await readiness(gw), 'mm').mirrored.compared >= 40, 10_000, 'every exchange compared')
    const r = routeOf(await readiness(gw), 'mm')
    expect(r.traffic).toMatchObject({ requests: 40, legacy: 40, cloud: 0 })
    expect(r.mirrored).toMatchObject({ compared: 40, mismatches: 40 })
    // the diff groups of both workers merge into one count
    expect(r.mirrored.topFields[0]).toEqual({ field: 'body.total', kind: 'changed', count: 40 })
    expect(r.verdict.action).toBe('hold')

    expect((await admin(gw, '/routes/mm', { method: 'PATCH', body: { weight: 25 } })).status).toBe(200)
    const after = routeOf(await readiness(gw), 'mm')
    expect(after).toMatchObject({ phase: 'canary', phaseSinceStart: false })
  })
})
