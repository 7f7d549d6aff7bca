import { z } from 'zod'
import * as D from './defaults.ts'
import { reconcileProblems, reconcileSchema } from './reconcile-schema.ts'
import { compilePathPattern } from '../routing/path-pattern.ts'
import { fieldPathProblem, parseFieldPath } from '../compare/field-path.ts'
import { parsePath } from '../transform/path.ts'
import { DEFAULT_MAX_EXAMPLES } from '../compare/comparator.ts'

const WEIGHT_MESSAGE = 'must be an integer from 0 to 100'

const port = z.int('must be an integer port').min(0, 'must be a port from 0 to 65535').max(65535, 'must be a port from 0 to 65535')
const positiveMs = z.int('must be a whole number of milliseconds').min(1, 'must be at least 1 ms')
const fraction = z.number('must be a number from 0 to 1').min(0, 'must be a number from 0 to 1').max(1, 'must be a number from 0 to 1')

export const weightSchema = z.int(WEIGHT_MESSAGE).min(0, WEIGHT_MESSAGE).max(100, WEIGHT_MESSAGE)
export const mirrorSchema = z.enum(['off', 'writes', 'all'], "must be one of 'off', 'writes', 'all'")
export const readSampleSchema = fraction

const urlSchema = z.string('must be a URL').refine((s) => {
  try {
    const u = new URL(s)
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.search === '' && u.hash === ''
  } catch {
    return false
  }
}, 'must be an http:// or https:// URL without query or fragment')

const filePath = z.string('must be a file path').min(1, 'must be a file path')

/** TLS to the brokers: `true` trusts the system CAs; files are PEM, read at client start. */
const kafkaSslSchema = z.preprocess(
  (v) => (v === true ? {} : v),
  z
    .strictObject(
      {
        caFile: filePath.optional(),
        certFile: filePath.optional(),
        keyFile: filePath.optional(),
        rejectUnauthorized: z.boolean('must be true or false').default(true),
      },
      'must be true or an object { caFile?, certFile?, keyFile?, rejectUnauthorized? }',
    )
    .superRefine((ssl, ctx) => {
      if (ssl.certFile !== undefined && ssl.keyFile === undefined) ctx.addIssue({ code: 'custom', path: ['keyFile'], message: 'is required with certFile (a client certificate needs its key)' })
      if (ssl.keyFile !== undefined && ssl.certFile === undefined) ctx.addIssue({ code: 'custom', path: ['certFile'], message: 'is required with keyFile (a client key needs its certificate)' })
    }),
)

const PASSWORD_SOURCES = ['password', 'passwordFile', 'passwordEnv'] as const

/** SASL to the brokers. The password comes from exactly one source; it is never logged or shown. */
const kafkaSaslSchema = z
  .strictObject(
    {
      mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512'], "must be one of 'plain', 'scram-sha-256', 'scram-sha-512'"),
      username: z.string('must be a string').min(1, 'must not be empty'),
      password: z.string('must be a string').min(1, 'must not be empty').optional(),
      passwordFile: filePath.optional(),
      passwordEnv: z.string('must be the name of an environment variable').regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be the name of an environment variable').optional(),
    },
    'must be an object { mechanism, username, password | passwordFile | passwordEnv }',
  )
  .superRefine((sasl, ctx) => {
    const given = PASSWORD_SOURCES.filter((k) => sasl[k] !== undefined)
    if (given.length === 0) ctx.addIssue({ code: 'custom', path: ['password'], message: 'is required: give one of password, passwordFile, passwordEnv' })
    if (given.length > 1) ctx.addIssue({ code: 'custom', path: [given[1] as string], message: `cannot be given together with ${given[0] as string}: give exactly one of password, passwordFile, passwordEnv` })
  })

const breakerSchema = z.strictObject({
  errorThresholdPercentage: z.number().min(1).max(100).default(50),
  volumeThreshold: z.int().min(1).default(20),
  resetTimeoutMs: positiveMs.default(10_000),
  rollingCountTimeoutMs: positiveMs.default(10_000),
})

const backendSchema = z.strictObject({
  /** one endpoint; or `urls`, several balanced with passive health (docs/routing.md) */
  url: urlSchema.optional(),
  urls: z.array(urlSchema, 'must be a list of URLs').min(1, 'must list at least one URL').optional(),
  health: z
    .strictObject({
      failures: z.int('must be an integer').min(1, 'must be at least 1').max(1000, 'must be at most 1000').default(D.DEFAULT_HEALTH_FAILURES),
      ejectMs: positiveMs.default(D.DEFAULT_HEALTH_EJECT_MS),
    })
    .prefault({}),
  timeoutMs: positiveMs.default(D.DEFAULT_TIMEOUT_MS),
  connections: z.int('must be an integer').min(1, 'must be at least 1').max(10_000, 'must be at most 10000').default(D.DEFAULT_CONNECTIONS),
  /** connections of its own for mirrored calls (and journal recovery), never shared with client traffic */
  mirrorConnections: z.int('must be an integer').min(1, 'must be at least 1').max(10_000, 'must be at most 10000').default(D.DEFAULT_MIRROR_CONNECTIONS),
  keepAliveTimeoutMs: positiveMs.default(D.DEFAULT_KEEP_ALIVE_TIMEOUT_MS),
  tls: z
    .strictObject({
      rejectUnauthorized: z.boolean().default(true),
      ca: z.string().optional(),
      servername: z.string().optional(),
    })
    .optional(),
  breaker: breakerSchema.optional(),
})

// `url` stays what the rest of the code reads (the first endpoint); `urls` always lists them all
const backendEntry = backendSchema
  .superRefine((b, ctx) => endpointProblems(b.url, b.urls, ctx))
  .transform((b) => {
    const urls = b.urls ?? (b.url === undefined ? [] : [b.url])
    return { ...b, url: urls[0] ?? '', urls }
  })

/** Exactly one of url / urls; every endpoint the same scheme and path, no origin twice. */
function endpointProblems(url: string | undefined, urls: readonly string[] | undefined, ctx: z.RefinementCtx): void {
  if (url === undefined && urls === undefined) ctx.addIssue({ code: 'custom', path: ['url'], message: 'is required (or urls, a list of endpoints)' })
  if (url !== undefined && urls !== undefined) ctx.addIssue({ code: 'custom', path: ['urls'], message: 'cannot be given together with url: use one of the two' })
  // zod still runs this refinement when a field has its own issue: `urls` may be no list at all
  if (!Array.isArray(urls)) return
  const first = URL.canParse(urls[0] ?? '') ? new URL(urls[0] as string) : null
  const seen = new Set<string>()
  urls.forEach((u, i) => {
    if (first === null || !URL.canParse(u)) return
    const parsed = new URL(u)
    // an entry that is no http(s) URL at all already has its own issue
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return
    if (parsed.protocol !== first.protocol || parsed.pathname !== first.pathname) {
      ctx.addIssue({ code: 'custom', path: ['urls', i], message: `must have the same scheme and path as urls[0] (${first.protocol}//…${first.pathname})` })
    } else if (seen.has(parsed.origin)) ctx.addIssue({ code: 'custom', path: ['urls', i], message: `lists ${parsed.origin} twice` })
    seen.add(parsed.origin)
  })
}

const fieldPath = z.string('must be a field path').superRefine((p, ctx) => {
  const problem = fieldPathProblem(p)
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem })
})

/** Where propagate writes: a request header (`header.NAME` or `headers.NAME`) or a body field. */
const propagateTarget = z.string('must be a field path').superRefine((p, ctx) => {
  const problem = /^headers?\.[^.\s[\]]+$/.test(p) ? undefined : p.startsWith('body') ? fieldPathProblem(p, false) : `'${p}' must be 'header.NAME' or a body field path such as 'body.id'`
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem })
})

/** A compare.normalize rule: on for the whole route, or for the fields listed. */
const normalizeRule = z.union([z.boolean(), z.array(fieldPath)], 'must be true, false or a list of field paths')

/** Where a create's answer carries the new id: a body field, or a header (Location: its last path segment). */
const idSource = z
  .string('must be a field path')
  .regex(/^(body(\.[^.\s]+)+|headers\.[A-Za-z0-9-]+)$/, "must be a body field path such as 'body.id' or 'body.data.id', or a header such as 'headers.location'")

/** A body field path in the grammar events report (`body.id`, `body[*].id`, `body.items[3].id`). */
const bodyPath = z.string('must be a body field path').refine((p) => {
  try {
    const segments = parseFieldPath(p)
    return segments[0] === 'body' && segments.length > 1
  } catch {
    return false
  }
}, "must be a body field path such as 'body.postId', 'body[*].id' or 'body.items[*].id'")

const idsSchema = z.strictObject({
  /** the map's name: routes that create, read and change one kind of resource share it */
  map: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'must be 1-128 letters, digits, dot, dash or underscore').optional(),
  from: idSource.optional(),
  params: z.array(z.string('must be a route path parameter name')).default([]),
  fields: z.array(bodyPath).default([]),
  compare: z.array(bodyPath).optional(),
})

const stickySchema = z.union(
  [
    z.literal('ip'),
    z.strictObject({ header: z.string().min(1).transform((h) => h.toLowerCase()) }),
    z.strictObject({ cookie: z.string().min(1) }),
  ],
  "must be 'ip', { header: NAME } or { cookie: NAME }",
)

const transformPath = z.string('must be a path').superRefine((p, ctx) => {
  let ok = false
  try {
    ok = parsePath(p).some((seg) => typeof seg === 'string')
  } catch {
    ok = false
  }
  if (!ok) ctx.addIssue({ code: 'custom', message: "must be a path such as 'data', 'meta.total' or 'items[*].user_id'" })
})
const transformKey = z.string('must be a key').regex(/^[^.[\]\s]+$/, 'must be one key (no dots or brackets)')
/** One step on the JSON body, applied in order. */
const bodyOpSchema = z.union(
  [
    z.strictObject({ unwrap: transformPath }),
    z.strictObject({ wrap: transformKey }),
    z.strictObject({ rename: transformPath, to: transformKey }),
    z.strictObject({ move: transformPath, to: transformPath }),
    z.strictObject({ drop: transformPath }),
  ],
  "must be one of { unwrap: PATH }, { wrap: KEY }, { rename: PATH, to: KEY }, { move: PATH, to: PATH }, { drop: PATH }",
)
const responseTransformSchema = z.strictObject({
  /** backend status → status the client gets, e.g. { '201': 200 } */
  status: z.record(z.string().regex(/^[1-5]\d\d$/, 'must be a status code'), z.int().min(100, 'must be a status code').max(599, 'must be a status code')).optional(),
  renameHeaders: z.record(z.string(), z.string().min(1)).optional(),
  dropHeaders: z.array(z.string()).optional(),
  body: z.array(bodyOpSchema).optional(),
})

const requestTransformSchema = z.strictObject({
  renameHeaders: z.record(z.string(), z.string().min(1)).optional(),
  dropHeaders: z.array(z.string()).optional(),
  body: z.array(bodyOpSchema).optional(),
})

const routeSchema = z.strictObject({
  id: z.string('must be a string').regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'must be 1-128 letters, digits, dot, dash or underscore'),
  methods: z
    .array(z.enum(D.HTTP_METHODS, `must be one of ${D.HTTP_METHODS.join(', ')}`))
    .min(1, 'must name at least one method')
    .default([...D.HTTP_METHODS]),
  path: z.string('must be a path pattern').superRefine((p, ctx) => {
    try {
      compilePathPattern(p)
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message })
    }
  }),
  match: z.strictObject({ headers: z.record(z.string(), z.string()) }).optional(),
  weight: weightSchema.default(D.DEFAULT_WEIGHT),
  sticky: stickySchema.optional(),
  /** Routes share sticky buckets within a group; a route with its own group opts out. */
  stickyGroup: z.string('must be a string').regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'must be 1-128 letters, digits, dot, dash or underscore').optional(),
  mirror: mirrorSchema.default(D.DEFAULT_MIRROR),
  readSample: readSampleSchema.default(D.DEFAULT_READ_SAMPLE),
  /** Mirror a write even when the primary answered 5xx or failed (default: no). */
  mirrorFailedWrites: z.boolean().default(false),
  /** Stream request bodies through as they arrive instead of reading them (up to limits.bodyBytes) first. */
  streamBody: z.boolean().default(false),
  rewrite: z.record(z.string(), z.string().startsWith('/', 'must start with /')).optional(),
  /** backend name → how its answers are reshaped to the contract clients use (src/transform/). */
  transform: z.record(z.string(), z.strictObject({ request: requestTransformSchema.optional(), response: responseTransformSchema.optional() })).optional(),
  /** Send the client's Host upstream instead of the backend's (for backends that build URLs from it). */
  preserveHost: z.boolean('must be true or false').default(false),
  cache: z
    .strictObject({
      ttlMs: positiveMs,
      varyHeaders: z.array(z.string()).default([]),
      staleIfErrorMs: z.int().min(0).default(0),
    })
    .optional(),
  compare: z
    .strictObject({
      ignore: z.array(fieldPath).default([]),
      headers: z.array(z.string()).default([]),
      ignoreArrayOrder: z.boolean().default(false),
      learnNoise: z.boolean().default(true),
      normalize: z
        .strictObject({
          numericStrings: normalizeRule.optional(),
          timestamps: normalizeRule.optional(),
          decimals: normalizeRule.optional(),
        })
        .optional(),
      maxExamples: z.int('must be an integer').min(1, 'must be from 1 to 1000').max(1000, 'must be from 1 to 1000').default(DEFAULT_MAX_EXAMPLES),
    })
    .optional(),
  propagate: z.array(z.strictObject({ from: fieldPath, to: propagateTarget })).optional(),
  redact: z.array(fieldPath).optional(),
  ids: idsSchema.optional(),
  guard: z
    .strictObject({
      maxErrorRate: fraction.optional(),
      maxMismatchRate: fraction.optional(),
      maxLatencyRatio: z.number().min(1).optional(),
      windowMs: positiveMs.default(60_000),
      minRequests: z.int().min(1).default(50),
      safeWeight: weightSchema.default(0),
    })
    .optional(),
  ramp: z
    .strictObject({
      steps: z.array(weightSchema).superRefine((steps, ctx) => {
        const problem = D.rampStepsProblem(steps)
        if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem })
      }),
      intervalMs: positiveMs,
    })
    .optional(),
  /** thresholds of GET /readiness and `cutover report` (docs/readiness.md) */
  readiness: z
    .strictObject({
      minRequests: z.int('must be an integer').min(1, 'must be at least 1').default(D.DEFAULT_READINESS.minRequests),
      maxMismatchRate: fraction.default(D.DEFAULT_READINESS.maxMismatchRate),
      maxErrorRateDelta: fraction.default(D.DEFAULT_READINESS.maxErrorRateDelta),
      maxLatencyRatio: z.number('must be a number of at least 1').min(1, 'must be at least 1').default(D.DEFAULT_READINESS.maxLatencyRatio),
    })
    .optional(),
  /** how `cutover reconcile` reads this route's collection on each backend (docs/mirroring.md) */
  reconcile: reconcileSchema.optional(),
}).superRefine((route, ctx) => {
  for (const p of reconcileProblems(route)) ctx.addIssue({ code: 'custom', path: p.path, message: p.message })
})

/** TLS on the client-facing listener: the files are read at start and watched (docs/tls.md). */
const listenTlsSchema = z.strictObject({
  certFile: filePath,
  keyFile: filePath,
  /** client certificates must be signed by one of these CAs (mutual TLS) */
  caFile: filePath.optional(),
  /** offer HTTP/2 (ALPN h2) next to HTTP/1.1 */
  http2: z.boolean('must be true or false').default(false),
  /** how often the files are checked for a new certificate */
  reloadIntervalMs: z.int('must be a whole number of milliseconds').min(50, 'must be at least 50 ms').max(3_600_000, 'must be at most 3600000 ms (1 hour)').default(D.DEFAULT_TLS_RELOAD_INTERVAL_MS),
})

export const configSchema = z
  .strictObject({
    listen: z
      .strictObject({
        host: z.string().default(D.DEFAULT_LISTEN_HOST),
        port: port.default(D.DEFAULT_LISTEN_PORT),
        /** keep X-Forwarded-Proto/Host set by a load balancer in front of the gateway */
        trustProxy: z.boolean().default(false),
        tls: listenTlsSchema.optional(),
      })
      .default({ host: D.DEFAULT_LISTEN_HOST, port: D.DEFAULT_LISTEN_PORT, trustProxy: false }),
    admin: z
      .strictObject({
        host: z.string().default(D.DEFAULT_ADMIN_HOST),
        port: port.default(D.DEFAULT_ADMIN_PORT),
        token: z
          .string()
          .min(16, 'must be at least 16 characters')
          // a bearer token is one run of visible characters (RFC 6750 §2.1): one with a space can never be presented
          .regex(/^\S+$/, 'must not contain whitespace')
          .optional(),
      })
      .default({ host: D.DEFAULT_ADMIN_HOST, port: D.DEFAULT_ADMIN_PORT }),
    backends: z.record(z.string().regex(/^[a-z][a-z0-9-]*$/, 'backend names are lower-case words'), backendEntry),
    routes: z.array(routeSchema).default([]),
    fallback: z.union([z.string(), z.literal(404)]).default(D.DEFAULT_FALLBACK),
    kafka: z
      .strictObject({
        brokers: z.array(z.string().regex(/^[^:\s]+:\d+$/, 'must be host:port')).min(1, 'must list at least one broker'),
        clientId: z.string().default('cutover'),
        ssl: kafkaSslSchema.optional(),
        sasl: kafkaSaslSchema.optional(),
        topics: z
          .strictObject({
            diffs: z.string().default(D.DEFAULT_TOPICS.diffs),
            replay: z.string().default(D.DEFAULT_TOPICS.replay),
            control: z.string().default(D.DEFAULT_TOPICS.control),
            audit: z.string().default(D.DEFAULT_TOPICS.audit),
            ids: z.string().default(D.DEFAULT_TOPICS.ids),
            // with state.shared: learned noise, shared by every replica (docs/fleet.md)
            noise: z.string().default(D.DEFAULT_TOPICS.noise),
            // with state.shared: each replica's readiness inputs, for a fleet-wide GET /readiness
            readiness: z.string().default(D.DEFAULT_TOPICS.readiness),
            replayDead: z.string().default(D.DEFAULT_TOPICS.replayDead),
            replayDone: z.string().default(D.DEFAULT_TOPICS.replayDone),
          })
          .default({ ...D.DEFAULT_TOPICS }),
      })
      .optional(),
    spool: z
      .strictObject({
        dir: z.string().default(D.DEFAULT_SPOOL_DIR),
        maxBytes: z.int().min(1024, 'must be at least 1024 bytes').default(D.DEFAULT_SPOOL_MAX_BYTES),
        queueSize: z.int().min(1).default(D.DEFAULT_QUEUE_SIZE),
      })
      .default({ dir: D.DEFAULT_SPOOL_DIR, maxBytes: D.DEFAULT_SPOOL_MAX_BYTES, queueSize: D.DEFAULT_QUEUE_SIZE }),
    state: z
      // shared: route state lives on the control topic, shared by every replica (docs/fleet.md)
      .strictObject({ file: z.string().default(D.DEFAULT_STATE_FILE), shared: z.boolean().default(false) })
      .default({ file: D.DEFAULT_STATE_FILE, shared: false }),
    /** id translation store: `dir` defaults to `ids/` next to the state file */
    ids: z
      .strictObject({ maxPairs: z.int('must be an integer').min(1, 'must be at least 1').default(D.DEFAULT_ID_MAX_PAIRS), dir: z.string().optional() })
      .default({ maxPairs: D.DEFAULT_ID_MAX_PAIRS }),
    /** the mirror journal (docs/mirroring.md#crash-safety-the-mirror-journal), under spool.dir */
    journal: z
      .strictObject({
        enabled: z.boolean().default(true),
        maxBytes: z.int().min(65_536, 'must be at least 65536 bytes').default(D.DEFAULT_JOURNAL_MAX_BYTES),
        segmentBytes: z.int().min(4096, 'must be at least 4096 bytes').default(D.DEFAULT_JOURNAL_SEGMENT_BYTES),
      })
      .default({ enabled: true, maxBytes: D.DEFAULT_JOURNAL_MAX_BYTES, segmentBytes: D.DEFAULT_JOURNAL_SEGMENT_BYTES }),
    replay: z
      .strictObject({
        maxAttempts: z.int('must be a whole number from 1 to 100').min(1, 'must be a whole number from 1 to 100').max(100, 'must be a whole number from 1 to 100').default(D.DEFAULT_REPLAY_MAX_ATTEMPTS),
      })
      .default({ maxAttempts: D.DEFAULT_REPLAY_MAX_ATTEMPTS }),
    limits: z
      .strictObject({
        bodyBytes: z.int().min(0).default(D.DEFAULT_BODY_BYTES),
        mirrorBodyBytes: z.int().min(0).default(D.DEFAULT_MIRROR_BODY_BYTES),
        compareBodyBytes: z.int().min(0).default(D.DEFAULT_COMPARE_BODY_BYTES),
        mirrorInFlight: z.int().min(1).default(D.DEFAULT_MIRROR_IN_FLIGHT),
        cacheBytes: z.int().min(65_536, 'must be at least 65536 bytes').default(D.DEFAULT_CACHE_BYTES),
      })
      .default({
        bodyBytes: D.DEFAULT_BODY_BYTES,
        mirrorBodyBytes: D.DEFAULT_MIRROR_BODY_BYTES,
        compareBodyBytes: D.DEFAULT_COMPARE_BODY_BYTES,
        mirrorInFlight: D.DEFAULT_MIRROR_IN_FLIGHT,
        cacheBytes: D.DEFAULT_CACHE_BYTES,
      }),
    shutdown: z.strictObject({ drainTimeoutMs: positiveMs.default(D.DEFAULT_DRAIN_TIMEOUT_MS) }).default({ drainTimeoutMs: D.DEFAULT_DRAIN_TIMEOUT_MS }),
  })
  // `when`: the cross-field checks run even when a field failed (a backend's type error must not
  // hide a duplicate route id), so `cfg` may hold raw input where parsing failed: every step
  // checks the shape it reads and skips what was already reported.
  .superRefine((parsed, ctx) => {
    const cfg = parsed as unknown as LooseConfig
    if (isRecord(cfg.state) && cfg.state.shared === true && cfg.kafka === undefined) ctx.addIssue({ code: 'custom', path: ['state', 'shared'], message: 'needs a kafka section' })
    const backends = isRecord(cfg.backends) ? cfg.backends : null
    if (backends !== null) {
      for (const required of ['legacy', 'cloud']) {
        if (!(required in backends)) ctx.addIssue({ code: 'custom', path: ['backends', required], message: 'is required' })
      }
      if (typeof cfg.fallback === 'string' && !(cfg.fallback in backends)) {
        ctx.addIssue({ code: 'custom', path: ['fallback'], message: `must be a backend name (${Object.keys(backends).join(', ')}) or 404` })
      }
    }
    const seen = new Set<string>()
    const routes = Array.isArray(cfg.routes) ? (cfg.routes as unknown[]) : []
    const idsOf = (r: Record<string, unknown>): { from?: unknown; map?: unknown; params?: unknown } | undefined => (isRecord(r.ids) ? r.ids : undefined)
    // a map no route records pairs for would never translate anything: most likely a misspelt name
    const recorded = new Set(routes.filter(isRecord).filter((r) => idsOf(r)?.from !== undefined).map((r) => idsOf(r)?.map ?? r.id))
    routes.forEach((route, i) => {
      if (!isRecord(route)) return
      const ids = idsOf(route)
      if (ids !== undefined && !recorded.has(ids.map ?? route.id)) {
        const map = String(ids.map ?? route.id)
        ctx.addIssue({ code: 'custom', path: ['routes', i, 'ids', ids.map === undefined ? 'from' : 'map'], message: `no route records pairs for map '${map}' (a route with ids.from and ids.map '${map}')` })
      }
      if (typeof route.id === 'string') {
        if (seen.has(route.id)) ctx.addIssue({ code: 'custom', path: ['routes', i, 'id'], message: `duplicate route id '${route.id}'` })
        seen.add(route.id)
      }
      let params: readonly string[] = []
      try {
        params = compilePathPattern(route.path as string).params
      } catch {
        return // already reported on routes[i].path
      }
      for (const backend of Object.keys(isRecord(route.transform) ? route.transform : {})) {
        if (backends !== null && !(backend in backends)) ctx.addIssue({ code: 'custom', path: ['routes', i, 'transform', backend], message: 'is not a configured backend' })
      }
      for (const [backend, template] of Object.entries(isRecord(route.rewrite) ? route.rewrite : {})) {
        if (typeof template !== 'string') continue
        if (backends !== null && !(backend in backends)) {
          ctx.addIssue({ code: 'custom', path: ['routes', i, 'rewrite', backend], message: 'is not a configured backend' })
        }
        for (const m of template.matchAll(/:([A-Za-z_][A-Za-z0-9_]*)|\*/g)) {
          const name = m[1] ?? '*'
          if (!params.includes(name)) {
            ctx.addIssue({ code: 'custom', path: ['routes', i, 'rewrite', backend], message: `uses '${m[0]}' which the route path does not define` })
          }
        }
      }
      ;(Array.isArray(ids?.params) ? (ids.params as unknown[]) : []).forEach((name, j) => {
        if (typeof name !== 'string') return
        if (name === '*' || !params.includes(name)) {
          const named = params.filter((p) => p !== '*')
          ctx.addIssue({ code: 'custom', path: ['routes', i, 'ids', 'params', j], message: `'${name}' is not a parameter of the route path (${named.length === 0 ? 'it has none' : named.map((p) => `:${p}`).join(', ')})` })
        }
      })
    })
  }, { when: () => true })

/** The config as the cross-field checks see it: parsed where parsing succeeded, raw elsewhere. */
interface LooseConfig {
  backends?: unknown
  fallback?: unknown
  routes?: unknown
  state?: unknown
  kafka?: unknown
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

/** What users write (defaults optional). */
export type CutoverConfigInput = z.input<typeof configSchema>
/** What the gateway runs on: every default filled in, frozen. */
export type CutoverConfig = DeepReadonly<z.output<typeof configSchema>>
export type RouteConfig = CutoverConfig['routes'][number]
export type BackendConfig = CutoverConfig['backends'][string]
export type MirrorMode = z.output<typeof mirrorSchema>
export type ResponseTransformConfig = DeepReadonly<z.output<typeof responseTransformSchema>>
export type RequestTransformConfig = DeepReadonly<z.output<typeof requestTransformSchema>>
export type BodyOpConfig = DeepReadonly<z.output<typeof bodyOpSchema>>

type DeepReadonly<T> = T extends (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T
