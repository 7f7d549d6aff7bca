import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { beforeAll, describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import type { Gateway } from '../../src/gateway.ts'
import { admin, call } from '../support/gateway.ts'
import { withGateway } from '../support/setup.ts'

// The Grafana dashboard and the Prometheus rules name metrics by hand: this checks that both
// files parse and that every cutover_* name in their queries is one a real gateway exposes.
const DEPLOY = fileURLToPath(new URL('../../deploy/', import.meta.url))

interface Rule { alert?: string; record?: string; expr: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> }
interface Panel { type: string; title: string; targets?: { expr: string }[]; panels?: Panel[] }
interface Dashboard {
  uid: string
  panels: Panel[]
  templating: { list: { name: string; query?: string | { query: string }; definition?: string }[] }
  annotations?: { list: { expr?: string }[] }
}

const dashboard = JSON.parse(readFileSync(`${DEPLOY}grafana/cutover.dashboard.json`, 'utf8')) as Dashboard
const rules = parse(readFileSync(`${DEPLOY}prometheus/cutover.rules.yaml`, 'utf8')) as { groups: { name: string; rules: Rule[] }[] }

function panelExprs(ps: Panel[]): string[] {
  return ps.flatMap((p) => [...(p.targets ?? []).map((t) => t.expr), ...panelExprs(p.panels ?? [])])
}

/** Panel queries, template variable queries and annotation queries. */
function dashboardExprs(d: Dashboard): string[] {
  const fromVars = d.templating.list.flatMap((v) => [typeof v.query === 'object' ? v.query.query : '', v.definition ?? ''])
  return [...panelExprs(d.panels), ...fromVars, ...(d.annotations?.list ?? []).map((a) => a.expr ?? '')].filter((e) => e !== '')
}

const ruleExprs = rules.groups.flatMap((g) => g.rules.map((r) => r.expr))

/** cutover_* identifiers in PromQL, a histogram's series reduced to its family name. */
function metricNames(exprs: string[]): Set<string> {
  const names = new Set<string>()
  for (const e of exprs) for (const m of e.matchAll(/cutover_[a-z0-9_]+/g)) names.add(m[0].replace(/_(bucket|count|sum)$/, ''))
  return names
}

describe('deploy/grafana and deploy/prometheus', () => {
  let gw: Gateway
  let exposed: Set<string>

  beforeAll(async () => {
    ;({ gw } = await withGateway({
      config: ({ legacy, cloud }) => ({
        backends: { legacy: { url: legacy.url, timeoutMs: 2000 }, cloud: { url: cloud.url, timeoutMs: 2000, breaker: { volumeThreshold: 10 } } },
        routes: [{ id: 'items', methods: ['GET', 'POST'], path: '/items/:id', weight: 50, mirror: 'all', guard: { maxErrorRate: 0.5 } }],
      }),
    }))
    for (let i = 0; i < 6; i++) expect((await call(`${gw.dataUrl}/items/${i}`)).status).toBe(200)
    const text = (await admin(gw, '/metrics')).text
    exposed = new Set([...text.matchAll(/^# TYPE (cutover_[a-z0-9_]+) /gm)].map((m) => m[1] as string))
  })

  it('the dashboard is JSON with a route variable, and every panel has a query', () => {
    expect(dashboard.uid).toBe('cutover-migration')
    expect(dashboard.templating.list.map((v) => v.name)).toContain('route')
    const queryPanels = dashboard.panels.filter((p) => p.type !== 'row')
    expect(queryPanels.length).toBeGreaterThanOrEqual(10)
    for (const p of queryPanels) expect(p.targets?.length, p.title).toBeGreaterThan(0)
    // per-route panels honour the variable
    const routed = panelExprs(dashboard.panels).filter((e) => /cutover_(requests|mirror|upstream_errors|request_duration_seconds)_/.test(e))
    for (const e of routed) expect(e, e).toContain('route=~"$route"')
  })

  it('the rules are YAML alert rules, each with an expression, a severity and a summary', () => {
    const all = rules.groups.flatMap((g) => g.rules)
    expect(all.map((r) => r.alert)).toEqual(expect.arrayContaining(['CutoverMismatchRateHigh', 'CutoverGuardTripped', 'CutoverBreakerOpen', 'CutoverPublishBacklogGrowing', 'CutoverEventsDropped']))
    for (const r of all) {
      expect(r.expr.trim(), r.alert).not.toBe('')
      expect(r.labels?.severity, r.alert).toMatch(/^(warning|critical)$/)
      expect(r.annotations?.summary, r.alert).toBeTruthy()
      if (r.for !== undefined) expect(r.for, r.alert).toMatch(/^\d+[smh]$/)
    }
    expect(all.find((r) => r.alert === 'CutoverMismatchRateHigh')).toMatchObject({ for: '10m', expr: expect.stringContaining('> 0.01') })
  })

  it('every metric either file names exists in a real gateway /metrics', () => {
    expect(exposed.size).toBeGreaterThan(15)
    const used = metricNames([...dashboardExprs(dashboard), ...ruleExprs])
    expect(used.size).toBeGreaterThanOrEqual(10)
    expect([...used].filter((n) => !exposed.has(n))).toEqual([])
  })

  it('the check would catch a wrong name: the extraction sees histogram families and typos', () => {
    expect([...metricNames(['rate(cutover_request_duration_seconds_bucket[5m]) + cutover_request_totl'])]).toEqual(['cutover_request_duration_seconds', 'cutover_request_totl'])
    expect(exposed.has('cutover_request_totl')).toBe(false)
  })
})
