import { request } from 'undici'
import { DEFAULT_CONFIG_FILE, loadConfig } from '../config/load.ts'
import { CutoverError } from '../errors.ts'
import type { ReadinessReport, RouteReadiness } from './readiness-service.ts'

export interface ReportOptions {
  readonly config?: string | undefined
  readonly admin?: string | undefined
  readonly json: boolean
}

const REPORT_TIMEOUT_MS = 10_000

/** Where the running gateway's admin API is, and its token: --admin, else the config's admin address. */
async function target(opts: ReportOptions, env: NodeJS.ProcessEnv): Promise<{ url: string; token: string | undefined }> {
  const envToken = env.CUTOVER_ADMIN_TOKEN === '' ? undefined : env.CUTOVER_ADMIN_TOKEN
  if (opts.admin !== undefined && opts.config === undefined) return { url: opts.admin.replace(/\/+$/, ''), token: envToken }
  const config = await loadConfig(opts.config ?? DEFAULT_CONFIG_FILE, env)
  const host = config.admin.host === '0.0.0.0' ? '127.0.0.1' : config.admin.host === '::' ? '[::1]' : config.admin.host.includes(':') ? `[${config.admin.host}]` : config.admin.host
  return { url: (opts.admin ?? `http://${host}:${config.admin.port}`).replace(/\/+$/, ''), token: envToken ?? config.admin.token }
}

export async function fetchReport(opts: ReportOptions, env: NodeJS.ProcessEnv = process.env): Promise<ReadinessReport> {
  const { url, token } = await target(opts, env)
  let res
  try {
    res = await request(`${url}/readiness`, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` }, headersTimeout: REPORT_TIMEOUT_MS, bodyTimeout: REPORT_TIMEOUT_MS })
  } catch (err) {
    throw new CutoverError('CUTOVER_UPSTREAM_UNAVAILABLE', `cannot reach the admin API at ${url}: ${(err as Error).message}`, { cause: err })
  }
  const text = await res.body.text()
  if (res.statusCode === 401) throw new CutoverError('CUTOVER_UNAUTHORIZED', `${url}/readiness: 401, set CUTOVER_ADMIN_TOKEN to the gateway's admin token`)
  if (res.statusCode !== 200) throw new CutoverError('CUTOVER_INTERNAL', `${url}/readiness answered ${res.statusCode}: ${text.slice(0, 200)}`)
  return JSON.parse(text) as ReadinessReport
}

const pct = (x: number | null): string => (x === null ? '-' : `${(x * 100).toFixed(1)}%`)
const num = (x: number | null, unit = ''): string => (x === null ? '-' : `${x < 10 ? x.toFixed(1) : Math.round(x)}${unit}`)

function since(r: RouteReadiness): string {
  const s = r.phaseSeconds
  const text = s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m` : s < 86_400 ? `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m` : `${Math.floor(s / 86_400)}d${Math.floor((s % 86_400) / 3600)}h`
  return r.phaseSinceStart ? `${text}+` : text
}

/** The report as an aligned table, then each route's reasons, then the overall line. */
export function formatReport(report: ReadinessReport): string {
  const head = ['ROUTE', 'PHASE', 'WEIGHT', 'IN PHASE', 'REQUESTS', 'CLOUD', 'MISMATCH', 'ERR C/L', 'P99 C/L', 'VERDICT']
  const rows = report.routes.map((r) => [
    r.id,
    r.phase,
    `${r.weight}%`,
    since(r),
    String(r.traffic.requests),
    pct(r.traffic.cloudShare),
    pct(r.mirrored.mismatchRate),
    `${pct(r.cloud.errorRate)}/${pct(r.legacy.errorRate)}`,
    `${num(r.cloud.p99Ms, 'ms')}/${num(r.legacy.p99Ms, 'ms')}`,
    r.hasTraffic ? r.verdict.summary : `(no traffic) ${r.verdict.summary}`,
  ])
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] as string).length)))
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] as number)))
      .join('  ')
      .trimEnd()
  const out = [line(head), ...rows.map(line)]
  const detailed = report.routes.filter((r) => r.verdict.reasons.length > 1)
  if (detailed.length > 0) {
    out.push('')
    for (const r of detailed) {
      out.push(`${r.id}:`)
      for (const reason of r.verdict.reasons) out.push(`  - ${reason}`)
    }
  }
  const o = report.overall
  out.push('')
  const topic = report.backlog.replayTopic
  out.push(`overall: cloud answers ${pct(o.cloudShare)} of ${o.requests} requests, ${pct(o.writeCloudShare)} of ${o.writeRequests} on write routes; publish backlog ${report.backlog.publish}${topic === null ? '' : `; replay pending ${topic.pending}, dead letters ${topic.dead}`}`)
  out.push(o.green ? 'every route with traffic is green' : 'not every route with traffic is green')
  return out.join('\n') + '\n'
}

/** `cutover report`: prints the report; the exit code is 0 when every route with traffic is green. */
export async function runReport(opts: ReportOptions, print: (text: string) => void, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const report = await fetchReport(opts, env)
  print(opts.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report))
  return report.overall.green ? 0 : 1
}
