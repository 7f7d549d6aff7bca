import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify'
import type { Logger } from 'pino'
import { z } from 'zod'
import { mirrorSchema, readSampleSchema, weightSchema } from '../config/schema.ts'
import { formatIssues } from '../config/validate.ts'
import { CutoverError, errorBody, ERRORS, type ErrorCode } from '../errors.ts'
import type { RouteStats } from '../metrics/metrics.ts'
import type { DiffEvent } from '../publish/events.ts'
import { DIFFERENCE_KINDS, EVENT_KINDS, type DiffFilter, type DiffSummary } from '../compare/diff-log.ts'
import { fieldPathProblem } from '../compare/field-path.ts'
import type { NoiseSnapshot } from '../compare/noise-learner.ts'
import type { GuardSnapshot } from '../resilience/guard.ts'
import type { IdSummary } from '../ids/id-store.ts'
import type { RampSet } from './ramps.ts'
import type { AuditLog } from './audit.ts'
import { TokenAuth } from './auth.ts'
import type { RouteStateStore } from './route-state-store.ts'
import { ReadinessService, type ReadinessRoute } from '../readiness/readiness-service.ts'
import type { MetricFamily } from '../readiness/metric-sample.ts'
import type { ReplayTopics } from '../readiness/replay-topics.ts'
import type { FleetReadiness } from '../readiness/fleet-readiness.ts'
import { isConsolePath, registerConsole } from '../console/console-routes.ts'
import { ConsoleSessions } from '../console/sessions.ts'

/** Admin request bodies are a few fields of JSON; anything bigger is refused before it is parsed. */
export const ADMIN_BODY_BYTES = 64 * 1024

const LIMIT_MESSAGE = 'must be an integer from 1 to 1000'
const limitParam = z
  .string(LIMIT_MESSAGE)
  .regex(/^\d+$/, LIMIT_MESSAGE)
  .transform(Number)
  .pipe(z.int(LIMIT_MESSAGE).min(1, LIMIT_MESSAGE).max(1000, LIMIT_MESSAGE))

const fieldParam = z.string().superRefine((p, ctx) => {
  const problem = fieldPathProblem(p)
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem })
})

/** GET /diffs: unknown parameters are refused, so a misspelt filter never silently shows everything. */
const diffsQuery = z.strictObject({
  route: z.string('must be a route id').optional(),
  kind: z.enum([...EVENT_KINDS, ...DIFFERENCE_KINDS], `must be one of ${[...EVENT_KINDS, ...DIFFERENCE_KINDS].join(', ')}`).optional(),
  method: z.string().regex(/^[A-Za-z]+$/, 'must be an HTTP method').optional(),
  path: z.string().startsWith('/', 'must be a path starting with /').optional(),
  field: fieldParam.optional(),
  limit: limitParam.default(100),
})
const summaryQuery = z.strictObject({ route: z.string('must be a route id').optional() })
const IDS_LIMIT = 'must be an integer from 0 to 1000'
const idsQuery = z.strictObject({
  map: z.string('must be an id map name').optional(),
  limit: z.string(IDS_LIMIT).regex(/^\d+$/, IDS_LIMIT).transform(Number).pipe(z.int(IDS_LIMIT).max(1000, IDS_LIMIT)).default(20),
})

/**
 * The query parameters each call takes, by route URL; a call not listed takes none. Unknown or
 * repeated parameters are refused rather than ignored, so a misspelt `limt=5` does not silently
 * return the default.
 */
const QUERY_SCHEMAS: ReadonlyMap<string, z.ZodType> = new Map<string, z.ZodType>([
  ['/diffs', diffsQuery],
  ['/diffs/summary', summaryQuery],
  ['/ids', idsQuery],
  ['/audit', z.strictObject({ limit: limitParam.default(100) })],
])
const NO_QUERY = z.strictObject({})

/** Query problems as `name: message`; an unknown key is named as a query parameter. */
function queryIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  const out: string[] = []
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') for (const key of issue.keys) out.push(`${key}: unknown query parameter`)
    else out.push(...formatIssues([issue]))
  }
  return out
}

/** PATCH /routes/:id accepts exactly these fields, validated by the same rules as the config. */
export const routePatchSchema = z
  .strictObject({ weight: weightSchema.optional(), mirror: mirrorSchema.optional(), readSample: readSampleSchema.optional() })
  .refine((p) => p.weight !== undefined || p.mirror !== undefined || p.readSample !== undefined, 'must change at least one of weight, mirror, readSample')

export interface RouteDescription {
  readonly id: string
  readonly methods: readonly string[]
  readonly path: string
}

export interface AdminApiOptions {
  readonly routes: readonly RouteDescription[]
  readonly store: RouteStateStore
  readonly audit: AuditLog
  readonly log: Logger
  /** Undefined only on a loopback address (checked by the caller). */
  readonly token: string | undefined
  readonly ready: () => boolean
  readonly metrics: () => Promise<{ contentType: string; body: string }>
  readonly stats: () => Promise<Record<string, RouteStats>>
  /** Circuit breaker state per backend (backends with a breaker configured). */
  readonly breakers: () => Promise<Record<string, string>>
  /** Recent diff events, newest first. */
  readonly diffs: (filter: DiffFilter, limit: number) => Promise<DiffEvent[]>
  /** Every diff since start, grouped by route, method, field and kind. */
  readonly diffSummary: (route: string | undefined) => Promise<DiffSummary>
  /** Guard windows per route (routes with a guard). */
  readonly guards: () => Promise<Record<string, GuardSnapshot>>
  /** Progressive ramps (routes with a ramp). */
  readonly ramps: RampSet
  /** Learned noise fields per route. */
  readonly noise: () => Promise<Record<string, string[]>>
  /** One route's noise learning in detail; null when the route does not learn. */
  readonly noiseDetail: (route: string) => Promise<NoiseSnapshot | null>
  /** Forgets a route's learned noise (learning starts again); false when the route does not learn. */
  readonly clearNoise: (route: string) => Promise<boolean>
  /** Methods and readiness thresholds per route (readinessRoutesOf(config)). */
  readonly readinessRoutes: readonly ReadinessRoute[]
  /** Every data-plane process's metrics as JSON (`registry.getMetricsAsJSON()`), for GET /readiness. */
  readonly metricsJson: () => Promise<readonly (readonly MetricFamily[])[]>
  /** The replay topics' backlog and dead letters (null without Kafka); closed with the API. */
  readonly replayTopics: ReplayTopics | null
  /** With `state.shared`: the other replicas' readiness inputs (GET /readiness adds them up). */
  readonly fleetReadiness?: FleetReadiness | null
  /** Id pairs per map and the newest pairs (absent: this process keeps no id map, e.g. --workers). */
  readonly ids?: (map: string | undefined, limit: number) => Promise<IdSummary>
}

const OPEN_PATHS = new Set(['/healthz', '/readyz'])
/** `application/json`, `application/merge-patch+json`, with or without parameters. */
const JSON_MEDIA_TYPE = /^\s*application\/([\w.-]+\+)?json\s*(;|$)/i



function sendError(reply: FastifyReply, code: ErrorCode, message?: string, details?: readonly string[]): FastifyReply {
  return reply.code(ERRORS[code].status).type('application/json; charset=utf-8').send(errorBody(code, message, details))
}

/** `3`, `"3"` and `W/"3"` all name version 3 (RFC 9110 §13.1.1 entity-tags). */
function parseIfMatch(header: string | undefined): number | undefined | null {
  if (header === undefined) return undefined
  const m = /^\s*(?:W\/)?"?(\d+)"?\s*$/.exec(header)
  return m === null ? null : Number(m[1])
}

export function createAdminApi(opts: AdminApiOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: opts.log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    forceCloseConnections: true,
    bodyLimit: ADMIN_BODY_BYTES,
  })
  const auth = opts.token === undefined ? null : new TokenAuth(opts.token)
  const routeInfo = new Map(opts.routes.map((r) => [r.id, r]))
  const sessions = new ConsoleSessions(auth)

  app.addHook('onRequest', async (request, reply) => {
    const path = request.url.split('?', 1)[0] as string
    const refused = sessions.refusal(request, isConsolePath(path))
    if (refused !== undefined) return sendError(reply, 'CUTOVER_FORBIDDEN', refused)
    if (auth === null || OPEN_PATHS.has(path) || isConsolePath(path)) return
    if (request.headers.authorization === undefined && sessions.session(request) !== undefined) {
      // a console session stands for the admin token: the audit trail records it as such
      request.headers.authorization = 'Console-Session'
      return
    }
    if (!auth.check(request.headers.authorization)) {
      reply.header('www-authenticate', 'Bearer realm="cutover"')
      return sendError(reply, 'CUTOVER_UNAUTHORIZED')
    }
  })

  // JSON only (RFC 9110 §15.5.16: every other media type is a 415, not a confusing parse error);
  // an empty JSON body is no body, so `POST …/rollback` with the header and nothing else works.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser(JSON_MEDIA_TYPE, { parseAs: 'string' }, (_request, text, done) => {
    if (text === '') return done(null, undefined)
    try {
      done(null, JSON.parse(text as string))
    } catch {
      done(new CutoverError('CUTOVER_INVALID_INPUT', 'request body is not valid JSON'))
    }
  })

  // every call validates its query string; handlers read the parsed values from request.query
  app.addHook('preHandler', async (request, reply) => {
    const schema = QUERY_SCHEMAS.get(request.routeOptions.url ?? '') ?? NO_QUERY
    const parsed = schema.safeParse(request.query)
    if (!parsed.success) {
      const details = queryIssues(parsed.error.issues)
      return sendError(reply, 'CUTOVER_INVALID_INPUT', details.join('; '), details)
    }
    request.query = parsed.data
  })

  app.setErrorHandler((err, _request, reply) => {
    if (err instanceof CutoverError) return sendError(reply, err.code, err.message)
    const status = (err as { statusCode?: number }).statusCode
    if (status === 413) return sendError(reply, 'CUTOVER_BODY_TOO_LARGE', `admin request body is over ${ADMIN_BODY_BYTES} bytes`)
    if (status === 415) return sendError(reply, 'CUTOVER_UNSUPPORTED_MEDIA_TYPE')
    if (status !== undefined && status >= 400 && status < 500) return sendError(reply, 'CUTOVER_INVALID_INPUT', 'request body is not valid JSON')
    opts.log.error({ err }, 'admin API error')
    return sendError(reply, 'CUTOVER_INTERNAL')
  })
  app.setNotFoundHandler((_request, reply) => sendError(reply, 'CUTOVER_NOT_FOUND'))

  const who = (authorization: string | undefined, ip: string): string => (auth !== null && authorization !== undefined ? `token:admin@${ip}` : `anonymous@${ip}`)

  async function describe(id: string, stats: Record<string, RouteStats>, noise: Record<string, string[]>, breakers: Record<string, string>, guards: Record<string, GuardSnapshot>) {
    const info = routeInfo.get(id)
    const state = opts.store.get(id)
    if (info === undefined || state === undefined) return undefined
    return {
      id,
      methods: info.methods,
      path: info.path,
      weight: state.weight,
      mirror: state.mirror,
      readSample: state.readSample,
      version: state.version,
      /** where weight, mirror and readSample came from: config, state-file, runtime or control-topic */
      sources: opts.store.sources(id),
      breakers,
      stats: stats[id] ?? { requests: {}, errors: 0, upstreamErrors: {} },
      noise: noise[id] ?? [],
      guard: guards[id] ?? null,
      ramp: opts.ramps.state(id),
    }
  }

  async function describeOne(id: string) {
    const [stats, noise, breakers, guards] = await Promise.all([opts.stats(), opts.noise(), opts.breakers(), opts.guards()])
    return describe(id, stats, noise, breakers, guards)
  }

  app.get('/healthz', async () => ({ status: 'ok' }))
  app.get('/readyz', async (_request, reply) => {
    const ready = opts.ready()
    return reply.code(ready ? 200 : 503).send({ ready })
  })
  app.get('/metrics', async (_request, reply) => {
    const { contentType, body } = await opts.metrics()
    return reply.type(contentType).send(body)
  })

  const listRoutes = async () => {
    const [stats, noise, breakers, guards] = await Promise.all([opts.stats(), opts.noise(), opts.breakers(), opts.guards()])
    return Promise.all(opts.routes.map((r) => describe(r.id, stats, noise, breakers, guards)))
  }
  app.get('/routes', listRoutes)

  const readiness = new ReadinessService({ routes: opts.readinessRoutes, store: opts.store, metrics: opts.metricsJson, diffSummary: opts.diffSummary, guards: opts.guards, ramps: opts.ramps, breakers: opts.breakers, replayTopics: opts.replayTopics === null ? undefined : () => (opts.replayTopics as ReplayTopics).counts(), fleet: opts.fleetReadiness ?? null })
  app.addHook('onClose', async () => {
    readiness.stop()
    await opts.replayTopics?.close()
  })
  app.get('/readiness', () => readiness.report())
  registerConsole(app, { sessions, routes: async () => (await listRoutes()).filter((r) => r !== undefined), readiness: () => readiness.report(), diffSummary: opts.diffSummary, audit: opts.audit, metrics: opts.metricsJson })

  app.get<{ Params: { id: string } }>('/routes/:id', async (request, reply) => {
    const route = await describeOne(request.params.id)
    if (route === undefined) return sendError(reply, 'CUTOVER_ROUTE_NOT_FOUND', `unknown route '${request.params.id}'`)
    return reply.header('etag', `"${route.version}"`).send(route)
  })

  app.patch<{ Params: { id: string } }>('/routes/:id', async (request, reply) => {
    const { id } = request.params
    if (!routeInfo.has(id)) return sendError(reply, 'CUTOVER_ROUTE_NOT_FOUND', `unknown route '${id}'`)
    const ifMatch = parseIfMatch(request.headers['if-match'])
    if (ifMatch === null) return sendError(reply, 'CUTOVER_INVALID_INPUT', 'If-Match must be a route version', ['If-Match: must be a route version such as "3"'])
    if (!JSON_MEDIA_TYPE.test(request.headers['content-type'] ?? '')) return sendError(reply, 'CUTOVER_UNSUPPORTED_MEDIA_TYPE')
    const parsed = routePatchSchema.safeParse(request.body ?? {})
    if (!parsed.success) {
      const details = formatIssues(parsed.error.issues)
      return sendError(reply, 'CUTOVER_INVALID_INPUT', details.join('; '), details)
    }
    const after = await opts.store.update(id, parsed.data, { who: who(request.headers.authorization, request.ip), action: 'patch', ...(ifMatch === undefined ? {} : { ifMatch }) })
    return reply.header('etag', `"${after.version}"`).send(await describeOne(id))
  })

  app.post<{ Params: { id: string } }>('/routes/:id/rollback', async (request, reply) => {
    const { id } = request.params
    if (!routeInfo.has(id)) return sendError(reply, 'CUTOVER_ROUTE_NOT_FOUND', `unknown route '${id}'`)
    const by = who(request.headers.authorization, request.ip)
    const detail = `rolled back by ${by}`
    // with state.shared the same change holds the ramp on every replica
    const hold = opts.ramps.holdOnRollback(id, detail)
    const after = await opts.store.update(id, { weight: 0 }, { who: by, action: 'rollback', ...(hold === undefined ? {} : { ramp: hold }) })
    opts.ramps.onRollback(id, detail)
    return reply.header('etag', `"${after.version}"`).send(await describeOne(id))
  })

  app.post<{ Params: { id: string; action: string } }>('/routes/:id/ramp/:action', async (request, reply) => {
    const { id, action } = request.params
    if (!routeInfo.has(id)) return sendError(reply, 'CUTOVER_ROUTE_NOT_FOUND', `unknown route '${id}'`)
    const by = who(request.headers.authorization, request.ip)
    if (action === 'pause') return opts.ramps.pause(id, `paused by ${by}`, by)
    if (action === 'resume') return opts.ramps.resume(id, by)
    return sendError(reply, 'CUTOVER_NOT_FOUND', "ramp actions are 'pause' and 'resume'")
  })

  app.get<{ Querystring: z.output<typeof diffsQuery> }>('/diffs', async (request, reply) => {
    const { limit, ...filter } = request.query
    if (filter.route !== undefined && !routeInfo.has(filter.route)) return sendError(reply, 'CUTOVER_ROUTE_NOT_FOUND', `unknown route '${filter.route}'`)
    return opts.diffs(filter, limit)
  })

  app.get<{ Querystring: z.output<typeof summaryQuery> }>('/diffs/summary', async (request, reply) => {
    const { route } = request.query
    if (route !== undefined && !routeInfo.has(route)) return sendError(reply, 'CUTOVER_ROUTE_NOT_FOUND', `unknown route '${route}'`)
    return opts.diffSummary(route)
  })

  app.get<{ Params: { id: string } }>('/routes/:id/noise', async (request, reply) => {
    const { id } = request.params
    if (!routeInfo.has(id)) return sendError(reply, 'CUTOVER_ROUTE_NOT_FOUND', `unknown route '${id}'`)
    const detail = await opts.noiseDetail(id)
    if (detail === null) return sendError(reply, 'CUTOVER_NOT_FOUND', `route '${id}' does not learn noise (compare.learnNoise is false)`)
    return detail
  })

  app.delete<{ Params: { id: string } }>('/routes/:id/noise', async (request, reply) => {
    const { id } = request.params
    if (!routeInfo.has(id)) return sendError(reply, 'CUTOVER_ROUTE_NOT_FOUND', `unknown route '${id}'`)
    if (!(await opts.clearNoise(id))) return sendError(reply, 'CUTOVER_NOT_FOUND', `route '${id}' does not learn noise (compare.learnNoise is false)`)
    const state = opts.store.get(id)
    // route state is unchanged; the record says who made the route forget what it learned
    if (state !== undefined) opts.audit.record({ who: who(request.headers.authorization, request.ip), action: 'noise-clear', route: id, before: state, after: state })
    return opts.noiseDetail(id)
  })

  app.get<{ Querystring: { limit: number } }>('/audit', async (request) => opts.audit.recent(request.query.limit))
  app.get<{ Querystring: z.output<typeof idsQuery> }>('/ids', async (request, reply) => {
    if (opts.ids === undefined) return sendError(reply, 'CUTOVER_NOT_FOUND', 'this process keeps no id map')
    const { map, limit } = request.query
    return opts.ids(map === '' ? undefined : map, limit)
  })

  return app
}
