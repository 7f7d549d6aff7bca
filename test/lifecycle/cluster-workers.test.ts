import { beforeAll, describe, expect, it } from 'vitest'
import { admin as adminCall, freshGet, testConfig } from '../support/gateway.ts'
import { until } from '../support/cli.ts'
import type { Origin } from '../support/origin.ts'
import { startCliGateway, withOrigins } from '../support/setup.ts'

let legacy: Origin
let cloud: Origin

beforeAll(async () => {
  ;({ legacy, cloud } = await withOrigins())
})

describe('--workers 2', () => {
  it('serves from several processes on one port and every admin change reaches every worker', async () => {
    const cfg = testConfig(legacy.url, cloud.url, {
      routes: [
        { id: 'r', methods: ['GET'], path: '/r', weight: 0 },
        { id: 'm', methods: ['GET'], path: '/m', weight: 0, mirror: 'all' },
      ],
    })
    const { run, gw, port } = await startCliGateway(cfg, { args: ['--workers', '2'] })
    try {
      // ready means both workers listen; their log lines may still be in the pipe
      const pids = (): Set<string | undefined> => new Set([...run.output().matchAll(/"workerPid":(\d+)[^\n]*worker listening/g)].map((m) => m[1]))
      await until(() => pids().size >= 2, 5000, "both workers' listening lines").catch(() => undefined)
      expect(pids().size).toBe(2)

      const before = await Promise.all(Array.from({ length: 40 }, () => freshGet(`http://127.0.0.1:${port}/r`)))
      expect(new Set(before.map((r) => r.backend))).toEqual(new Set(['legacy']))

      const patch = await adminCall(gw, '/routes/r', { method: 'PATCH', body: { weight: 100 } })
      expect(patch.status).toBe(200)
      const after = await Promise.all(Array.from({ length: 40 }, () => freshGet(`http://127.0.0.1:${port}/r`)))
      expect(new Set(after.map((r) => r.backend))).toEqual(new Set(['cloud']))

      // metrics and stats add up over both workers
      const stats = (await adminCall(gw, '/routes/r')).json() as { stats: { requests: Record<string, number> } }
      expect(stats.stats.requests).toEqual({ legacy: 40, cloud: 40 })
      const metrics = await adminCall(gw, '/metrics')
      expect(metrics.text).toContain('cutover_requests_total{route="r",backend="cloud",code="200"} 40')
      expect(metrics.text).toContain('cutover_route_weight{route="r"} 100')

      // diffs grouped over both workers: the echo origins differ in `origin` on every read
      await Promise.all(Array.from({ length: 30 }, () => freshGet(`http://127.0.0.1:${port}/m`)))
      await until(async () => ((await adminCall(gw, '/diffs/summary?route=m')).json() as { events: number }).events === 30, 10_000, 'the mirrored reads to be compared')
      const summary = (await adminCall(gw, '/diffs/summary?route=m')).json() as { groups: { field: string; kind: string; count: number }[] }
      expect(summary.groups).toContainEqual(expect.objectContaining({ field: 'body.origin', kind: 'changed', count: 30 }))
      expect(((await adminCall(gw, '/diffs?route=m&field=body.origin&limit=1000')).json() as unknown[]).length).toBe(30)
      const noise = (await adminCall(gw, '/routes/m/noise')).json() as { samples: number; fields: string[] }
      expect(noise.samples).toBeGreaterThan(0)
      expect(noise.fields).toEqual([])
      expect(((await adminCall(gw, '/routes/m/noise', { method: 'DELETE' })).json() as { samples: number }).samples).toBe(0)
    } finally {
      run.child.kill('SIGTERM')
    }
    expect(await run.exited).toBe(0)
  })
})

describe('--workers 2, SIGTERM while workers are starting', () => {
  it('exits 0 without workers that outlive the drain', async () => {
    // not waiting for /readyz: the SIGTERM comes while the workers start
    const { run } = await startCliGateway(testConfig(legacy.url, cloud.url), { args: ['--workers', '2'], readyMs: 0 })
    await run.waitFor('admin API listening')
    run.child.kill('SIGTERM')
    const code = await Promise.race([run.exited, new Promise<string>((r) => setTimeout(() => r('still running'), 20_000))])
    if (code === 'still running') run.child.kill('SIGKILL')
    expect(code).toBe(0)
  })
})
