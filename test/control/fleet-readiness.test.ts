import { beforeAll, describe, expect, it } from 'vitest'
import { readinessReportSchema } from '../../src/readiness/report-schema.ts'
import type { ReadinessReport } from '../../src/readiness/readiness-service.ts'
import { until } from '../support/cli.ts'
import { fleetKafka, startReplica, whenReady, type Replica } from '../support/fleet.ts'
import { call } from '../support/gateway.ts'
import { topicsFor } from '../support/kafka.ts'
import type { Origin } from '../support/origin.ts'
import { readiness, readinessOrigins, routeOf } from '../support/readiness-origins.ts'

let legacy: Origin
let cloud: Origin

beforeAll(async () => {
  ;({ legacy, cloud } = await readinessOrigins())
})

async function send(r: Replica, prefix: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) expect((await call(`${r.dataUrl}${prefix}${r.name}-${i}`)).status).toBe(200)
}

describe('state.shared: GET /readiness adds up the fleet', () => {
  it("every replica's report counts the traffic of both, and its verdict is the fleet's; a replica that stops drops out", async () => {
    const shared = {
      kafka: fleetKafka(topicsFor('fleet-readiness')),
      routes: [
        { id: 'clean', methods: ['GET' as const], path: '/clean/:id', mirror: 'all' as const, readiness: { minRequests: 15 } },
        { id: 'mm', methods: ['GET' as const], path: '/mm/:id', mirror: 'all' as const, readiness: { minRequests: 15 } },
      ],
    }
    const [q1, q2] = (await Promise.all(['q1', 'q2'].map((n) => startReplica(n, shared, { legacy, cloud })))) as [Replica, Replica]
    for (const r of [q1, q2]) await whenReady(r)
    // 10 + 8 reads: each replica alone has too few for minRequests 15, the fleet has enough
    await send(q1, '/clean/', 10)
    await send(q2, '/clean/', 8)
    await send(q1, '/mm/', 5)
    await send(q2, '/mm/', 5)

    const fleetWide = (rep: ReadinessReport): boolean => routeOf(rep, 'clean').mirrored.compared === 18 && routeOf(rep, 'mm').mirrored.compared === 10
    for (const r of [q1, q2]) {
      await until(async () => fleetWide(await readiness(r.gw)), 20_000, `${r.name} to add up both replicas`)
      const report = await readiness(r.gw)
      expect(readinessReportSchema.safeParse(report).error).toBeUndefined()
      expect(report.fleet?.replicas).toEqual([r.name, r === q1 ? 'q2' : 'q1'])
      expect(routeOf(report, 'clean')).toMatchObject({ traffic: { requests: 18, legacy: 18, cloud: 0 }, mirrored: { compared: 18, mismatches: 0 }, verdict: { action: 'ready', nextWeight: 1 } })
      // the diff groups of both replicas add up too
      expect(routeOf(report, 'mm').mirrored).toMatchObject({ compared: 10, mismatches: 10, topFields: [{ field: 'body.total', kind: 'changed', count: 10 }] })
      expect(report.overall.requests).toBe(28)
    }

    // q1 stops publishing: once its inputs are stale, q2 reports its own traffic only
    q1.run.child.kill('SIGTERM')
    await q1.run.exited
    await until(async () => (await readiness(q2.gw)).fleet?.replicas.length === 1, 30_000, 'q1 to drop out of the fleet report')
    const alone = await readiness(q2.gw)
    expect(alone.fleet?.replicas).toEqual(['q2'])
    expect(routeOf(alone, 'clean')).toMatchObject({ traffic: { requests: 8 }, mirrored: { compared: 8 }, verdict: { action: 'hold' } })
  }, 120_000)
})
