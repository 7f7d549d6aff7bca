import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Gateway } from '../../src/gateway.ts'
import { admin, call, gatewayFor, testConfig } from '../support/gateway.ts'
import type { Origin } from '../support/origin.ts'
import { readinessReportSchema } from '../../src/readiness/report-schema.ts'
import { comparedAtLeast, readiness, readinessOrigins, routeOf, traffic } from '../support/readiness-origins.ts'

let legacy: Origin
let cloud: Origin
let gw: Gateway
const sticky = { header: 'x-user-id' }
const readinessCfg = { minRequests: 10 }

beforeAll(async () => {
  ;({ legacy, cloud } = await readinessOrigins())
  gw = await gatewayFor(
    testConfig(legacy.url, cloud.url, {
      routes: [
        { id: 'clean', methods: ['GET'], path: '/clean/:id', mirror: 'all', sticky, readiness: readinessCfg },
        { id: 'mismatching', methods: ['GET'], path: '/mm/:id', mirror: 'all', sticky, readiness: readinessCfg },
        { id: 'failing', methods: ['GET'], path: '/fail/:id', weight: 50, mirror: 'writes', sticky, readiness: readinessCfg },
        { id: 'writes', methods: ['POST'], path: '/w', mirror: 'writes', readiness: readinessCfg },
        { id: 'quiet', methods: ['GET'], path: '/quiet', readiness: readinessCfg },
      ],
    }),
  )
})
afterAll(async () => {
  await gw.close()
  await Promise.all([legacy.close(), cloud.close()])
})

describe('GET /readiness through the gateway', () => {
  it('says ready for a clean shadow route, hold with the top field for a mismatching one, roll back for cloud 500s', async () => {
    await traffic(gw, '/clean/', 12)
    await traffic(gw, '/mm/', 12)
    await traffic(gw, '/fail/', 60)
    const report = await comparedAtLeast(gw, { clean: 12, mismatching: 12 })

    const clean = routeOf(report, 'clean')
    expect(clean).toMatchObject({ phase: 'shadow', weight: 0, hasTraffic: true, phaseSinceStart: true })
    expect(clean.traffic).toMatchObject({ requests: 12, legacy: 12, cloud: 0, cloudShare: 0 })
    expect(clean.mirrored).toMatchObject({ compared: 12, mismatches: 0, mismatchRate: 0 })
    expect(clean.verdict).toMatchObject({ action: 'ready', summary: 'ready to raise to 1 %', nextWeight: 1, green: true })

    const mm = routeOf(report, 'mismatching')
    expect(mm.mirrored).toMatchObject({ compared: 12, mismatches: 12, mismatchRate: 1 })
    expect(mm.mirrored.topFields[0]).toEqual({ field: 'body.total', kind: 'changed', count: 12 })
    expect(mm.verdict.action).toBe('hold')
    expect(mm.verdict.summary).toBe('hold: mismatch rate 100.0 % > 1.00 % (top: body.total changed ×12)')

    const failing = routeOf(report, 'failing')
    expect(failing.phase).toBe('canary')
    // what each origin received is what the report counts
    const cloudGot = cloud.requests.filter((r) => r.url.startsWith('/fail/')).length
    const legacyGot = legacy.requests.filter((r) => r.url.startsWith('/fail/')).length
    expect(cloudGot).toBeGreaterThanOrEqual(10)
    expect(failing.cloud).toMatchObject({ requests: cloudGot, errors: cloudGot, errorRate: 1 })
    expect(failing.legacy).toMatchObject({ requests: legacyGot, errors: 0, errorRate: 0 })
    expect(failing.traffic.cloudShare).toBeCloseTo(cloudGot / 60, 6)
    expect(failing.cloud.p99Ms).toBeGreaterThan(0)
    expect(failing.verdict.action).toBe('roll-back')
    expect(failing.verdict.summary).toBe('roll back: cloud error rate 100.0 % vs legacy 0.0 % (more than 1.00 % above)')

    const quiet = routeOf(report, 'quiet')
    expect(quiet).toMatchObject({ phase: 'shadow', hasTraffic: false })
    expect(quiet.verdict.summary).toBe('hold: too little traffic: 0 of 10 compared exchanges')

    expect(report.overall.requests).toBe(84)
    expect(report.overall.cloudShare).toBeCloseTo(cloudGot / 84, 6)
    expect(report.overall.green).toBe(false)
    expect(report.overall.phases).toEqual({ legacy: 0, shadow: 4, canary: 1, 'cloud-primary': 0, retired: 0 })
    expect(readinessReportSchema.safeParse(report).error).toBeUndefined()
  })

  it('counts write routes on their own and restarts the phase clock on a phase change', async () => {
    for (let i = 0; i < 3; i++) await call(`${gw.dataUrl}/w`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' })
    const patched = await admin(gw, '/routes/clean', { method: 'PATCH', body: { weight: 5 } })
    expect(patched.status).toBe(200)
    const report = await readiness(gw)
    expect(report.overall.writeRequests).toBe(3)
    expect(report.overall.writeCloudShare).toBe(0)
    const clean = routeOf(report, 'clean')
    expect(clean).toMatchObject({ phase: 'canary', weight: 5, phaseSinceStart: false })
    expect(Date.now() - Date.parse(clean.phaseSince)).toBeLessThan(5000)
    // a canary is judged on cloud's own requests, of which there are none yet
    expect(clean.verdict.summary).toBe('hold: too little traffic: 0 of 10 cloud requests')
    // and on its own phase: the 12 shadow requests and comparisons are behind it
    expect(clean.traffic.requests).toBe(0)
    expect(clean.mirrored.compared).toBe(0)
  })

  it('judges a route on its current phase: cloud errors from before a rollback do not count against the next canary', async () => {
    expect(routeOf(await readiness(gw), 'failing').verdict.action).toBe('roll-back')
    expect((await admin(gw, '/routes/failing/rollback', { method: 'POST' })).status).toBe(200)
    expect(routeOf(await readiness(gw), 'failing')).toMatchObject({ phase: 'shadow', traffic: { requests: 0 } })
    expect((await admin(gw, '/routes/failing', { method: 'PATCH', body: { weight: 50 } })).status).toBe(200)
    const again = routeOf(await readiness(gw), 'failing')
    expect(again).toMatchObject({ phase: 'canary', cloud: { requests: 0, errors: 0 } })
    expect(again.verdict.summary).toBe('hold: too little traffic: 0 of 10 cloud requests')
    // new cloud failures count again
    await traffic(gw, '/fail/', 40)
    expect(routeOf(await readiness(gw), 'failing').verdict.action).toBe('roll-back')
  })

  it('needs the admin token like every other admin call', async () => {
    expect((await admin(gw, '/readiness', { token: null })).status).toBe(401)
  })
})
