import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { z } from 'zod'
import type { DiffSummary } from '../compare/diff-log.ts'
import type { AuditLog } from '../control/audit.ts'
import { errorBody } from '../errors.ts'
import type { MetricFamily } from '../readiness/metric-sample.ts'
import type { ReadinessReport } from '../readiness/readiness-service.ts'
import { RouteSeries } from '../readiness/route-series.ts'
import { html, type Html } from './html.ts'
import { SESSION_COOKIE, SESSION_IDLE_MS, type ConsoleSessions } from './sessions.ts'
import { chartsSection, loginPage, page, routesView, routeView, type ConsoleRoute } from './views.ts'

/**
 * Strict CSP: scripts and styles only from this origin's files (no inline code, no eval), no
 * framing, nothing else fetched. Together with X-Frame-Options for browsers that predate
 * frame-ancestors, and no Referer so no admin URL leaks out.
 */
export const CONSOLE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

/** Asked for by the page's poller: answer the live part only. */
export const FRAGMENT_HEADER = 'x-cutover-fragment'

export interface ConsoleOptions {
  readonly sessions: ConsoleSessions
  readonly routes: () => Promise<readonly ConsoleRoute[]>
  readonly readiness: () => Promise<ReadinessReport>
  readonly diffSummary: (route: string | undefined) => Promise<DiffSummary>
  readonly audit: AuditLog
  /** every data-plane process's metrics as JSON, for the charts */
  readonly metrics: () => Promise<readonly (readonly MetricFamily[])[]>
}

/** Console paths the auth hook lets through: they answer the login page themselves. */
export function isConsolePath(path: string): boolean {
  return path === '/' || path.startsWith('/console/')
}

const ASSETS: Record<string, string> = { 'app.js': 'text/javascript; charset=utf-8', 'app.css': 'text/css; charset=utf-8', 'favicon.svg': 'image/svg+xml' }
/** uPlot (MIT), served from the installed package: no CDN, works offline. */
const require = createRequire(import.meta.url)
const VENDOR: Record<string, { file: string; type: string }> = {
  'uPlot.esm.js': { file: 'uplot/dist/uPlot.esm.js', type: 'text/javascript; charset=utf-8' },
  'uPlot.min.css': { file: 'uplot/dist/uPlot.min.css', type: 'text/css; charset=utf-8' },
}
const loginBody = z.strictObject({ token: z.string().min(1).max(4096) })

function secure(reply: FastifyReply): FastifyReply {
  return reply
    .header('content-security-policy', CONSOLE_CSP)
    .header('x-frame-options', 'DENY')
    .header('referrer-policy', 'no-referrer')
    .header('x-content-type-options', 'nosniff')
    .header('cache-control', 'no-store')
}

/** The ops console at `/` on the admin port (docs/console.md). */
export function registerConsole(app: FastifyInstance, opts: ConsoleOptions): void {
  const assets = new Map(Object.entries(ASSETS).map(([name, type]) => [name, { type, body: readFileSync(new URL(`./assets/${name}`, import.meta.url)) }]))
  for (const [name, v] of Object.entries(VENDOR)) assets.set(`vendor/${name}`, { type: v.type, body: readFileSync(require.resolve(v.file)) })
  const { sessions } = opts
  const series = new RouteSeries(opts.metrics)
  series.start()
  app.addHook('onClose', async () => series.stop())

  const send = (request: FastifyRequest, reply: FastifyReply, title: string, live: () => Promise<Html | null>, after?: Html): Promise<FastifyReply> | FastifyReply => {
    secure(reply).type('text/html; charset=utf-8')
    const fragment = request.headers[FRAGMENT_HEADER] !== undefined
    if (!sessions.allows(request)) {
      // the poller learns the session is gone; a page load shows the login form
      return fragment ? reply.code(401).send('') : reply.code(200).send(loginPage().text)
    }
    return live().then((body) => {
      if (body === null) return reply.code(404).send(page({ title: 'Not found', csrf: null, session: false }, notFound()).text)
      if (fragment) return reply.send(body.text)
      const session = sessions.open ? undefined : sessions.session(request)
      return reply.send(page({ title, csrf: session?.csrf ?? null, session: session !== undefined }, body, after).text)
    })
  }

  app.get('/', (request, reply) =>
    send(request, reply, 'Routes', async () => {
      const [routes, report] = await Promise.all([opts.routes(), opts.readiness()])
      return routesView(routes, report)
    }),
  )

  app.get<{ Params: { id: string } }>('/console/route/:id', (request, reply) =>
    send(request, reply, request.params.id, async () => {
      const id = request.params.id
      const [routes, report, summary] = await Promise.all([opts.routes(), opts.readiness(), opts.diffSummary(id)])
      const route = routes.find((r) => r.id === id)
      if (route === undefined) return null
      const audit = opts.audit.recent(1000).filter((a) => a.route === id).slice(0, 100)
      return routeView(route, report.routes.find((r) => r.id === id), summary.groups.filter((g) => g.route === id), audit)
    }, chartsSection(request.params.id)),
  )

  app.get<{ Params: { id: string } }>('/console/series/:id', async (request, reply) => {
    secure(reply).type('application/json; charset=utf-8')
    if (!sessions.allows(request)) return reply.code(401).send(errorBody('CUTOVER_UNAUTHORIZED'))
    const id = request.params.id
    if (!(await opts.routes()).some((r) => r.id === id)) return reply.code(404).send(errorBody('CUTOVER_ROUTE_NOT_FOUND', `unknown route '${id}'`))
    return reply.send({ route: id, intervalMs: series.intervalMs, points: await series.points(id) })
  })

  app.get<{ Params: { name: string } }>('/console/vendor/:name', (request, reply) => {
    const asset = assets.get(`vendor/${request.params.name}`)
    if (asset === undefined) return secure(reply).code(404).type('application/json; charset=utf-8').send(errorBody('CUTOVER_NOT_FOUND'))
    return secure(reply).type(asset.type).send(asset.body)
  })

  app.get<{ Params: { name: string } }>('/console/:name', (request, reply) => {
    const asset = assets.get(request.params.name)
    if (asset === undefined) return secure(reply).code(404).type('application/json; charset=utf-8').send(errorBody('CUTOVER_NOT_FOUND'))
    return secure(reply).type(asset.type).send(asset.body)
  })

  app.post('/console/login', (request, reply) => {
    secure(reply)
    const body = loginBody.safeParse(request.body)
    const session = body.success ? sessions.login(body.data.token) : undefined
    if (session === undefined) return reply.code(401).type('application/json; charset=utf-8').send(errorBody('CUTOVER_UNAUTHORIZED', 'wrong admin token'))
    const cookie = [`${SESSION_COOKIE}=${session.id}`, 'Path=/', 'HttpOnly', 'SameSite=Strict', `Max-Age=${SESSION_IDLE_MS / 1000}`]
    if (request.protocol === 'https') cookie.push('Secure')
    return reply.header('set-cookie', cookie.join('; ')).code(204).send()
  })

  app.post('/console/logout', (request, reply) => {
    sessions.logout(request)
    return secure(reply).header('set-cookie', `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`).code(204).send()
  })
}

function notFound(): Html {
  return html`<p>No such route. <a href="/">All routes</a></p>`
}
