import type { DiffGroup } from '../compare/diff-log.ts'
import type { AuditRecord } from '../control/audit.ts'
import type { RouteReadiness, ReadinessReport } from '../readiness/readiness-service.ts'
import type { GuardSnapshot } from '../resilience/guard.ts'
import type { RampState } from '../resilience/ramp.ts'
import { html, type Html } from './html.ts'

/** The fields of a `GET /routes` entry the console shows. */
export interface ConsoleRoute {
  readonly id: string
  readonly path: string
  readonly weight: number
  readonly mirror: string
  readonly version: number
  readonly breakers: Readonly<Record<string, string>>
  readonly guard: GuardSnapshot | null
  readonly ramp: RampState | null
}

export interface PageContext {
  readonly title: string
  /** the session's CSRF token; null without a session (no token configured) */
  readonly csrf: string | null
  /** show the log-out button */
  readonly session: boolean
}

const pct = (x: number | null): string => (x === null ? '–' : `${(x * 100).toFixed(x > 0 && x < 0.01 ? 2 : 1)} %`)
const ms = (x: number | null): string => (x === null ? '–' : `${x.toFixed(1)} ms`)

function duration(seconds: number): string {
  if (seconds < 60) return `${seconds} s`
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`
  return `${Math.floor(seconds / 86_400)} d ${Math.floor((seconds % 86_400) / 3600)} h`
}

/** The whole page: one stylesheet and one module from the package, nothing inline. */
export function page(ctx: PageContext, live: Html, after?: Html): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
${ctx.csrf === null ? '' : html`<meta name="cutover-csrf" content="${ctx.csrf}">`}
<title>${ctx.title} · Cutover</title>
<link rel="icon" href="/console/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/console/vendor/uPlot.min.css">
<link rel="stylesheet" href="/console/app.css">
<script type="module" src="/console/app.js"></script>
</head>
<body>
<header class="bar">
<a class="brand" href="/">Cutover console</a>
<span id="live-state" class="live-state" aria-live="off">live</span>
${ctx.session ? html`<button type="button" id="logout" class="quiet">Log out</button>` : ''}
</header>
<main>
<div id="status" role="status" aria-live="polite"></div>
<div id="live">${live}</div>
${after}
</main>
</body>
</html>
`
}

export function loginPage(): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Log in · Cutover</title>
<link rel="icon" href="/console/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/console/app.css">
<script type="module" src="/console/app.js"></script>
</head>
<body>
<main class="login">
<h1>Cutover console</h1>
<form id="login" class="card">
<label for="token">Admin token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Log in</button>
<p id="login-error" class="error" role="alert"></p>
</form>
<p class="hint">The token is the gateway's <code>admin.token</code> (or <code>CUTOVER_ADMIN_TOKEN</code>). It is sent once; the session lives in a cookie this page cannot read.</p>
</main>
</body>
</html>
`
}

function verdictBadge(r: RouteReadiness | undefined): Html {
  if (r === undefined) return html`<span class="badge">–</span>`
  return html`<span class="badge verdict-${r.verdict.action}">${r.verdict.summary}</span>`
}

function guardCell(g: GuardSnapshot | null): Html | string {
  if (g === null) return 'none'
  return html`<span class="badge guard-${g.status}">${g.status}</span>${g.breach === undefined ? '' : html` <small>${g.breach.reason}</small>`}`
}

function rampCell(r: RampState | null): Html | string {
  if (r === null) return 'none'
  if (r.done) return 'done'
  if (r.paused) return html`paused${r.pausedReason === undefined ? '' : html`<br><small>${r.pausedReason}</small>`}`
  return html`running <small>${r.steps.join(' → ')}</small>`
}

function breakersCell(b: Readonly<Record<string, string>>): Html | string {
  const entries = Object.entries(b)
  if (entries.length === 0) return 'none'
  return html`${entries.map(([name, state]) => html`<span class="badge breaker-${state}">${name}: ${state}</span> `)}`
}

function actions(r: ConsoleRoute): Html {
  return html`<form class="weight-form" data-action="weight" data-route="${r.id}" data-version="${r.version}" data-weight="${r.weight}">
<label for="w-${r.id}" class="visually-hidden">New weight for ${r.id} (0 to 100)</label>
<input id="w-${r.id}" name="weight" type="number" min="0" max="100" step="1" value="${r.weight}" required>
<button type="submit">Set weight</button>
</form>
<button type="button" class="danger" data-action="rollback" data-route="${r.id}" data-version="${r.version}" ${r.weight === 0 ? 'disabled' : ''}>Roll back</button>
${r.ramp === null || r.ramp.done ? '' : r.ramp.paused ? html`<button type="button" data-action="ramp-resume" data-route="${r.id}">Resume ramp</button>` : html`<button type="button" data-action="ramp-pause" data-route="${r.id}">Pause ramp</button>`}`
}

export function routesView(routes: readonly ConsoleRoute[], report: ReadinessReport): Html {
  const byId = new Map(report.routes.map((r) => [r.id, r]))
  const o = report.overall
  return html`<section class="overall" aria-labelledby="overall-h">
<h1 id="overall-h">Migration progress</h1>
<p>Cloud answers <strong>${pct(o.cloudShare)}</strong> of ${o.requests} requests and <strong>${pct(o.writeCloudShare)}</strong> of ${o.writeRequests} requests on write routes.
Publish backlog ${report.backlog.publish}, replay events ${report.backlog.replay.sent + report.backlog.replay.spooled} (${report.backlog.replay.dropped} dropped)${report.backlog.replayTopic === null ? '' : html`; on Kafka: ${report.backlog.replayTopic.pending} not yet replayed, ${report.backlog.replayTopic.dead} dead letters`}.</p>
<progress max="1" value="${o.cloudShare ?? 0}" aria-label="Share of requests answered by cloud">${pct(o.cloudShare)}</progress>
<p class="${o.green ? 'ok' : 'warn'}">${o.green ? 'Every route with traffic is green.' : 'Some routes with traffic are not green.'}</p>
</section>
<section aria-labelledby="routes-h">
<h2 id="routes-h">Routes</h2>
<table id="routes">
<caption class="visually-hidden">Routes with their weight, phase, readiness verdict, guard, ramp and breakers</caption>
<thead><tr><th scope="col">Route</th><th scope="col">Weight</th><th scope="col">Phase</th><th scope="col">Verdict</th><th scope="col">Guard</th><th scope="col">Ramp</th><th scope="col">Breakers</th><th scope="col">Actions</th></tr></thead>
<tbody>
${routes.map((r) => {
  const rd = byId.get(r.id)
  return html`<tr data-route="${r.id}">
<th scope="row"><a href="/console/route/${encodeURIComponent(r.id)}">${r.id}</a><br><small><code>${r.path}</code></small></th>
<td class="num" data-field="weight">${r.weight} %</td>
<td>${rd === undefined ? '–' : html`${rd.phase}<br><small>for ${duration(rd.phaseSeconds)}${rd.phaseSinceStart ? '+' : ''}</small>`}</td>
<td>${verdictBadge(rd)}</td>
<td>${guardCell(r.guard)}</td>
<td>${rampCell(r.ramp)}</td>
<td>${breakersCell(r.breakers)}</td>
<td class="actions">${actions(r)}</td>
</tr>`
})}
</tbody>
</table>
</section>`
}

function value(v: unknown): string {
  if (v === undefined) return '(absent)'
  return typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v, null, 1)
}

function groupRow(g: DiffGroup): Html {
  const ex = g.example
  const legacy = ex === null ? undefined : ex.values.legacy
  const cloud = ex === null ? undefined : ex.values.cloud
  return html`<tr>
<td><code>${g.field ?? '(whole answer)'}</code></td>
<td>${g.method}</td>
<td>${g.kind}</td>
<td class="num">${g.count}</td>
<td><time datetime="${g.firstSeen}">${g.firstSeen.replace('T', ' ').slice(0, 19)}</time></td>
<td><time datetime="${g.lastSeen}">${g.lastSeen.replace('T', ' ').slice(0, 19)}</time></td>
<td class="pair">${ex === null ? '–' : html`<pre class="legacy">${value(legacy)}</pre>`}</td>
<td class="pair">${ex === null ? '–' : html`<pre class="cloud">${value(cloud)}</pre>`}</td>
</tr>`
}

export function routeView(route: ConsoleRoute, readiness: RouteReadiness | undefined, groups: readonly DiffGroup[], audit: readonly AuditRecord[]): Html {
  const r = readiness
  return html`<nav aria-label="Breadcrumb"><a href="/">All routes</a> › ${route.id}</nav>
<section aria-labelledby="route-h">
<h1 id="route-h">${route.id} <small><code>${route.path}</code></small></h1>
${r === undefined
  ? ''
  : html`<p>${verdictBadge(r)}</p>
${r.verdict.reasons.length > 1 ? html`<ul class="reasons">${r.verdict.reasons.map((x) => html`<li>${x}</li>`)}</ul>` : ''}
<dl class="facts">
<div><dt>Phase</dt><dd>${r.phase} for ${duration(r.phaseSeconds)}${r.phaseSinceStart ? '+' : ''}</dd></div>
<div><dt>Weight</dt><dd>${route.weight} % (mirror ${route.mirror}, version ${route.version})</dd></div>
<div><dt>Requests</dt><dd>${r.traffic.requests} (cloud ${pct(r.traffic.cloudShare)})</dd></div>
<div><dt>Compared</dt><dd>${r.mirrored.compared}, mismatch rate ${pct(r.mirrored.mismatchRate)}</dd></div>
<div><dt>Error rate</dt><dd>cloud ${pct(r.cloud.errorRate)} · legacy ${pct(r.legacy.errorRate)}</dd></div>
<div><dt>p99</dt><dd>cloud ${ms(r.cloud.p99Ms)} · legacy ${ms(r.legacy.p99Ms)}</dd></div>
</dl>`}
<div class="actions">${actions(route)}</div>
</section>
<section aria-labelledby="diffs-h">
<h2 id="diffs-h">Differences by field</h2>
${groups.length === 0
  ? html`<p>No differences recorded for this route.</p>`
  : html`<table id="diff-groups">
<caption class="visually-hidden">Differences grouped by field and kind, with one example pair</caption>
<thead><tr><th scope="col">Field</th><th scope="col">Method</th><th scope="col">Kind</th><th scope="col">Count</th><th scope="col">First seen</th><th scope="col">Last seen</th><th scope="col">Legacy value</th><th scope="col">Cloud value</th></tr></thead>
<tbody>${groups.map(groupRow)}</tbody>
</table>`}
</section>
<section aria-labelledby="audit-h">
<h2 id="audit-h">Audit trail</h2>
${audit.length === 0
  ? html`<p>No changes since the gateway started.</p>`
  : html`<table id="audit">
<caption class="visually-hidden">Changes to this route, newest first</caption>
<thead><tr><th scope="col">Time</th><th scope="col">Who</th><th scope="col">Action</th><th scope="col">Weight</th><th scope="col">Mirror</th><th scope="col">Version</th></tr></thead>
<tbody>${audit.map(
      (a) => html`<tr><td><time datetime="${a.time}">${a.time.replace('T', ' ').slice(0, 19)}</time></td><td>${a.who}</td><td>${a.action}</td><td>${a.before.weight} → ${a.after.weight}</td><td>${a.before.mirror} → ${a.after.mirror}</td><td>${a.after.version}</td></tr>`,
    )}</tbody>
</table>`}
</section>`
}

/** The route page's charts: outside the live part, so polling updates their data instead of redrawing them. */
export function chartsSection(route: string): Html {
  return html`<section id="charts" data-series="/console/series/${encodeURIComponent(route)}" aria-labelledby="charts-h">
<h2 id="charts-h">Last hour, per minute</h2>
<div class="charts">
<figure><figcaption id="p99-cap">p99 latency per backend (ms)</figcaption><div id="chart-p99" class="chart" role="img" aria-labelledby="p99-cap"></div></figure>
<figure><figcaption id="err-cap">Error rate per backend (%)</figcaption><div id="chart-errors" class="chart" role="img" aria-labelledby="err-cap"></div></figure>
</div>
</section>`
}
