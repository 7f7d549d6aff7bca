import type { ReadinessReport, RouteReadiness } from '../../src/readiness/readiness-service.ts'
import type { Gateway } from '../../src/gateway.ts'
import { until } from './cli.ts'
import { admin, call } from './gateway.ts'
import type { Origin } from './origin.ts'
import { openOrigin } from './setup.ts'

/**
 * Two origins for readiness scenarios: on `/clean/*` both answer the same, on `/mm/*` cloud's
 * `total` differs (a mismatch at body.total), on `/fail/*` cloud answers 500.
 */
export async function readinessOrigins(): Promise<{ legacy: Origin; cloud: Origin }> {
  // opened through the fixture: closed after the test or the file that opened them
  const answer = (side: 'legacy' | 'cloud') =>
    openOrigin(side, (req, res) => {
      const url = req.url ?? '/'
      if (side === 'cloud' && url.startsWith('/fail/')) {
        res.writeHead(500, { 'content-type': 'application/json' })
        res.end('{"error":"boom"}')
        return
      }
      const total = side === 'cloud' && url.startsWith('/mm/') ? 6 : 5
      const text = JSON.stringify({ id: url.split('/').pop(), total, currency: 'EUR' })
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
      res.end(text)
    })
  return { legacy: await answer('legacy'), cloud: await answer('cloud') }
}

/** `n` GETs on `prefix`, each as a different sticky user. */
export async function traffic(gw: Gateway, prefix: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await call(`${gw.dataUrl}${prefix}${i}`, { headers: { 'x-user-id': `user-${i}` } })
}

export async function readiness(gw: Gateway): Promise<ReadinessReport> {
  return (await admin(gw, '/readiness')).json() as ReadinessReport
}

export function routeOf(report: ReadinessReport, id: string): RouteReadiness {
  const r = report.routes.find((x) => x.id === id)
  if (r === undefined) throw new Error(`no route ${id} in the report`)
  return r
}

/** Waits until every mirrored exchange of these routes has been compared (mirrors finish after the answer). */
export async function comparedAtLeast(gw: Gateway, want: Record<string, number>): Promise<ReadinessReport> {
  let last: ReadinessReport | undefined
  await until(async () => {
    last = await readiness(gw)
    return Object.entries(want).every(([id, n]) => routeOf(last as ReadinessReport, id).mirrored.compared >= n)
  }, 10_000, `comparisons ${JSON.stringify(want)}`)
  return last as ReadinessReport
}
