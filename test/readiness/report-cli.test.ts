import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Gateway } from '../../src/gateway.ts'
import type { ReadinessReport } from '../../src/readiness/readiness-service.ts'
import { readinessReportSchema } from '../../src/readiness/report-schema.ts'
import { runCli, writeConfig } from '../support/cli.ts'
import { gatewayFor, TOKEN, testConfig } from '../support/gateway.ts'
import type { Origin } from '../support/origin.ts'
import { comparedAtLeast, readinessOrigins, traffic } from '../support/readiness-origins.ts'

let legacy: Origin
let cloud: Origin
let mixed: Gateway
let clean: Gateway
const sticky = { header: 'x-user-id' }

beforeAll(async () => {
  ;({ legacy, cloud } = await readinessOrigins())
  const cleanRoute = { id: 'clean', methods: ['GET' as const], path: '/clean/:id', mirror: 'all' as const, sticky, readiness: { minRequests: 10 } }
  mixed = await gatewayFor(testConfig(legacy.url, cloud.url, { routes: [cleanRoute, { ...cleanRoute, id: 'mismatching', path: '/mm/:id' }] }))
  clean = await gatewayFor(testConfig(legacy.url, cloud.url, { routes: [cleanRoute, { ...cleanRoute, id: 'unused', path: '/unused' }] }))
  await Promise.all([traffic(mixed, '/clean/', 12), traffic(mixed, '/mm/', 12), traffic(clean, '/clean/', 12)])
  await comparedAtLeast(mixed, { clean: 12, mismatching: 12 })
  await comparedAtLeast(clean, { clean: 12 })
})
afterAll(async () => {
  await Promise.all([mixed.close(), clean.close()])
  await Promise.all([legacy.close(), cloud.close()])
})

const env = { CUTOVER_ADMIN_TOKEN: TOKEN }

describe('cutover report', () => {
  it('prints ready for the clean route and hold with the top field for the mismatching one, and exits 1', async () => {
    const run = runCli(['report', '--admin', mixed.adminUrl], env)
    expect(await run.exited).toBe(1)
    const lines = run.output().split('\n')
    expect(lines[0]).toMatch(/^ROUTE\s+PHASE\s+WEIGHT\s+IN PHASE\s+REQUESTS\s+CLOUD\s+MISMATCH\s+ERR C\/L\s+P99 C\/L\s+VERDICT$/)
    expect(lines.find((l) => l.startsWith('clean '))).toMatch(/shadow\s+0%.*\s12\s.*ready to raise to 1 %$/)
    expect(lines.find((l) => l.startsWith('mismatching '))).toMatch(/100\.0%.*hold: mismatch rate 100\.0 % > 1\.00 % \(top: body\.total changed ×12\)$/)
    expect(run.output()).toContain('not every route with traffic is green')
  })

  it('--json prints the same report as GET /readiness', async () => {
    const run = runCli(['report', '--admin', mixed.adminUrl, '--json'], env)
    expect(await run.exited).toBe(1)
    const report = JSON.parse(run.output()) as ReadinessReport
    // the schema published in docs/schemas/cutover.readiness.v1.json
    expect(readinessReportSchema.safeParse(report).error).toBeUndefined()
    expect(report.routes.map((r) => [r.id, r.verdict.action])).toEqual([
      ['clean', 'ready'],
      ['mismatching', 'hold'],
    ])
    expect(report.overall.green).toBe(false)
  })

  it('exits 0 when every route with traffic is green (a route without traffic does not count), reading the admin address from the config', async () => {
    const cfg = testConfig(legacy.url, cloud.url, { admin: { host: '127.0.0.1', port: Number(new URL(clean.adminUrl).port) } })
    const run = runCli(['report', '--config', writeConfig(cfg)], env)
    expect(await run.exited).toBe(0)
    expect(run.output()).toMatch(/\nunused .*\(no traffic\) hold: too little traffic/)
    expect(run.output()).toContain('every route with traffic is green')
  })

  it('exits 1 with a message and no table for a wrong token', async () => {
    const run = runCli(['report', '--admin', clean.adminUrl], { CUTOVER_ADMIN_TOKEN: 'wrong-token-wrong-token' })
    expect(await run.exited).toBe(1)
    expect(run.output()).toContain('401, set CUTOVER_ADMIN_TOKEN')
    expect(run.output()).not.toContain('ROUTE')
  })
})
