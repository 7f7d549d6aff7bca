import type { AddressInfo } from 'node:net'
import { Server as TlsServer } from 'node:tls'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { Registry } from 'prom-client'
import type { CutoverConfig } from './config/schema.ts'
import { AuditLog } from './control/audit.ts'
import { createAdminApi, type AdminApiOptions } from './control/admin-api.ts'
import { isLoopback } from './control/auth.ts'
import type { RouteState } from './control/route-state.ts'
import { RouteStateStore } from './control/route-state-store.ts'
import { CutoverError } from './errors.ts'
import { createLogger } from './log.ts'
import { createMetrics, routeStats, type Metrics } from './metrics/metrics.ts'
import { createDataPlane, listenerConnections } from './proxy/data-plane.ts'
import { CertificateWatcher, loadListenerCredentials, serverTlsOptions, tlsReloadCounter } from './proxy/listener-tls.ts'
import { FALLBACK_ROUTE, Forwarder, NO_ROUTE } from './proxy/forwarder.ts'
import { MetricsTable } from './proxy/route-metrics.ts'
import { closeUpstreamsWithin, createUpstreams, type Upstream } from './proxy/upstreams.ts'
import { UpgradeProxy } from './proxy/upgrade-proxy.ts'
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { RouteTable } from './routing/route-table.ts'
import { DiffLog } from './compare/diff-log.ts'
import { Mirror } from './mirror/mirror.ts'
import { CLOSE_FLUSH_MS, createPublisher, type Publisher } from './publish/publisher.ts'
import { waitAtMost } from './publish/deadline.ts'
import { Journal } from './mirror/journal.ts'
import { JournalRecovery } from './mirror/journal-recovery.ts'
import { AUDIT_SCHEMA } from './publish/events.ts'
import { createBreakers, type BackendBreaker, type BreakerState } from './resilience/breaker.ts'
import { GuardSet } from './resilience/guard-set.ts'
import { ReadCache } from './cache/read-cache.ts'
import { RampSet } from './control/ramps.ts'
import { join } from 'node:path'
import { readinessRoutesOf } from './readiness/readiness-service.ts'
import { ReplayTopics } from './readiness/replay-topics.ts'
import { FleetReadiness } from './readiness/fleet-readiness.ts'
import { IdStore } from './ids/id-store.ts'
import { checkKafkaSecurity } from './publish/kafka-client.ts'
import { NoiseShare } from './mirror/noise-share.ts'

export interface GatewayOptions {
  readonly log?: Logger
  /** Keep route state in `config.state.file` (default true). */
  readonly persistState?: boolean
  /** `start --reset-state`: delete the state file and start from the config. */
  readonly resetState?: boolean
  readonly processMetrics?: boolean
}

export interface Gateway {
  readonly config: CutoverConfig
  /** `http://host:port` of the client-facing listener (`https://` with listen.tls). */
  readonly dataUrl: string
  readonly adminUrl: string
  readonly store: RouteStateStore
  readonly metrics: Metrics
  readonly data: DataPlaneHandle
  readonly ramps: RampSet
  /** SIGTERM behaviour: not ready, stop accepting, finish in-flight requests (bounded), close. */
  close(): Promise<void>
}

/** The admin port refuses to listen beyond loopback without a token. */
export function checkAdminExposure(config: CutoverConfig): void {
  if (config.admin.token === undefined && !isLoopback(config.admin.host)) {
    throw new CutoverError(
      'CUTOVER_CONFIG_INVALID',
      `admin.host: ${config.admin.host} is not a loopback address, so admin.token (or CUTOVER_ADMIN_TOKEN) is required`,
      { details: [`admin.token: is required when admin.host (${config.admin.host}) is not a loopback address`] },
    )
  }
}

/**
 * listen.tls: the certificate, key and CA files can be read and serve together. Run at start
 * (and by `cutover check`) so that a bad file is one clear error, not a worker failing in a loop.
 */
export function checkListenerTls(config: CutoverConfig): void {
  if (config.listen.tls !== undefined) loadListenerCredentials(config.listen.tls)
}

/**
 * What has to hold before anything listens, checked the same way by `cutover check`, a
 * single-process start and the `--workers` primary (a worker failing on it would be restarted
 * forever): the admin API's exposure, the listener's TLS files, the Kafka secrets.
 */
export function checkStartup(config: CutoverConfig): void {
  checkAdminExposure(config)
  checkListenerTls(config)
  checkKafkaSecurity(config.kafka)
}

/** A loopback admin API may run without a token, but never silently: anyone on the host can change weights. */
export function warnOpenAdmin(config: CutoverConfig, log: Logger): void {
  if (config.admin.token !== undefined) return
  log.warn(
    { admin: `${config.admin.host}:${config.admin.port}` },
    `admin API on ${config.admin.host}:${config.admin.port} has no token: every local process can change routes; set admin.token or CUTOVER_ADMIN_TOKEN`,
  )
}

export interface DataPlaneHandle {
  readonly app: FastifyInstance
  readonly metrics: Metrics
  readonly table: RouteTable
  readonly mirror: Mirror
  readonly diffs: DiffLog
  readonly publisher: Publisher
  readonly breakers: ReadonlyMap<string, BackendBreaker>
  readonly guards: GuardSet
  readonly cache: ReadCache | null
  /** null when no route configures `ids` */
  readonly ids: IdStore | null
  /** null with `journal.enabled: false` */
  readonly journal: Journal | null
  /** finishing the jobs a previous run left in the journal */
  readonly recovery: JournalRecovery | null
  /** A route's state changed: its cached reads came from the side that served before. */
  routeChanged(id: string): void
  listen(): Promise<string>
  /** Stops accepting, waits for in-flight requests up to the drain timeout, then cuts the rest. */
  close(): Promise<void>
}

/** The most shutdown waits for mirrored calls still in flight, within what is left of the drain time. */
export const MIRROR_DRAIN_MS = 5000
/**
 * Shutdown's margin past `shutdown.drainTimeoutMs`: for cut mirror calls to report (their writes
 * go to replay) and for queued events to reach Kafka or the spool.
 */
export const SHUTDOWN_MARGIN_MS = 500

/**
 * Builds everything a data-plane process needs around the given live route states (how the pieces
 * fit and where their state lives: docs/architecture.md). `worker` names this process's spool
 * folder: every process appends to files of its own.
 */
export async function buildDataPlane(config: CutoverConfig, states: ReadonlyMap<string, RouteState>, log: Logger, metrics: Metrics, worker = 0): Promise<DataPlaneHandle> {
  const tlsConfig = config.listen.tls
  // read and checked before anything is opened: a bad file stops the start, naming its field
  const credentials = tlsConfig === undefined ? null : loadListenerCredentials(tlsConfig)
  const publisher = await createPublisher({ config, metrics, log, spoolDir: join(config.spool.dir, `w${worker}`) })
  const diffs = new DiffLog()
  const breakers = createBreakers(config.backends, metrics.breakerState, log)
  const guards = new GuardSet(config, states, metrics, log)
  // the persisted pairs are loaded before this process serves: a restart keeps translating
  const ids = config.routes.some((r) => r.ids !== undefined) ? await IdStore.open(config, log, publisher, worker) : null
  const journaled = config.journal.enabled ? await Journal.open(join(config.spool.dir, `w${worker}`, 'journal'), config.journal, metrics.registry, log) : null
  const journal = journaled?.journal ?? null
  const mirror = new Mirror(config, publisher, diffs, metrics, log, breakers, guards, ids, journal)
  // with state.shared, what the fleet learned is read before this process serves
  const noiseShare = await NoiseShare.open(config, mirror, publisher, log)
  const table = new RouteTable(config, states)
  const upstreams = createUpstreams(config, metrics.registry)
  // what a previous run left unfinished is resent in the background, while this one serves
  const recovery = journaled === null ? null : new JournalRecovery(journaled.recovered, { journal: journaled.journal, publisher, upstreams, log, concurrency: config.limits.mirrorInFlight })
  const backends = [...upstreams.keys()]
  const metricsTable = new MetricsTable(metrics, [...table.routes.map((r) => r.id), FALLBACK_ROUTE], backends, guards)
  metricsTable.get(NO_ROUTE, NO_ROUTE)
  for (const route of table.routes) metrics.routeWeight.labels(route.id).set(route.state.weight)
  const cache = config.routes.some((r) => r.cache !== undefined) ? new ReadCache({ maxBytes: config.limits.cacheBytes }) : null
  const forwarder = new Forwarder({ config, table, upstreams, metrics: metricsTable, log, mirror, breakers, cache, metricsRegistry: metrics })
  const draining = { value: false }
  const tls = tlsConfig === undefined || credentials === null ? null : { config: tlsConfig, loaded: credentials }
  const app = createDataPlane({ forwarder, log, draining, bodyLimit: config.limits.bodyBytes, tls: tls === null ? null : { options: serverTlsOptions(tls.loaded.credentials, tls.config), http2: tls.config.http2 } })
  const connections = listenerConnections(app)
  // the certificate is reloaded when its files change, for as long as the listener is open
  const certificates =
    tls === null ? null : new CertificateWatcher({ server: app.server as unknown as TlsServer, tls: tls.config, loaded: tls.loaded, log, reloads: tlsReloadCounter(metrics.registry) })
  const upgrades = new UpgradeProxy({
    table,
    legacy: upstreams.get('legacy') as Upstream,
    cloud: upstreams.get('cloud') as Upstream,
    fallback: config.fallback === 404 ? null : (upstreams.get(config.fallback) ?? null),
    trustProxy: config.listen.trustProxy,
    log,
    counter: metrics.upgrades,
    open: metrics.upgradesOpen,
    draining,
    plain: (req, res) => forwarder.handle(req, res),
  })
  app.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => upgrades.handle(req, socket, head))
  return {
    app,
    metrics,
    table,
    mirror,
    diffs,
    publisher,
    breakers,
    guards,
    cache,
    ids,
    journal,
    recovery,
    routeChanged(id) {
      cache?.flushRoute(id)
    },
    async listen() {
      await app.listen({ host: config.listen.host, port: config.listen.port })
      certificates?.start()
      return urlOf(app)
    },
    async close() {
      // one budget for the whole shutdown: client requests, then mirrored calls, then the pools
      const deadline = performance.now() + config.shutdown.drainTimeoutMs
      const left = (): number => Math.max(0, deadline - performance.now())
      draining.value = true
      // WebSocket tunnels get their close frames now: server.close() waits for their sockets too
      const tunnels = upgrades.close(config.shutdown.drainTimeoutMs)
      const timer = setTimeout(() => {
        log.warn({ drainTimeoutMs: config.shutdown.drainTimeoutMs }, 'drain timeout: closing the connections still open')
        connections.closeAll()
      }, config.shutdown.drainTimeoutMs)
      timer.unref()
      // Node's server.close() closes the connections idle at that moment only; keep-alive
      // connections whose request finishes during the drain would otherwise hold it open until
      // the drain timeout.
      const sweep = setInterval(() => connections.closeIdle(), 50)
      sweep.unref()
      connections.closeIdle()
      await certificates?.stop()
      try {
        await app.close()
      } finally {
        await tunnels
        clearTimeout(timer)
        clearInterval(sweep)
        // mirrored calls finish within what is left of the drain time; the pools then cut the rest,
        // and each cut call reports its failure (a write goes to replay) before events are flushed
        await waitAtMost(mirror.idle(), Math.min(MIRROR_DRAIN_MS, left()))
        if (mirror.inFlight > 0) log.warn({ inFlight: mirror.inFlight }, 'drain time is up: cutting the mirrored calls still running')
        await recovery?.stop()
        await closeUpstreamsWithin(upstreams, left())
        await waitAtMost(mirror.idle(), SHUTDOWN_MARGIN_MS / 2)
        await ids?.close()
        await noiseShare?.stop()
        await publisher.close(Math.min(CLOSE_FLUSH_MS, Math.max(SHUTDOWN_MARGIN_MS / 2, left())))
        // after the publisher: its last spool flush marks replayed jobs done
        await journal?.close()
        for (const b of breakers.values()) b.shutdown()
        guards.stop()
      }
    },
  }
}

export function breakerStates(breakers: ReadonlyMap<string, BackendBreaker>): Record<string, BreakerState> {
  const out: Record<string, BreakerState> = {}
  for (const [name, b] of breakers) out[name] = b.state
  return out
}

export function urlOf(app: FastifyInstance): string {
  const addr = app.server.address() as AddressInfo
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address
  const scheme = (app.server as unknown) instanceof TlsServer ? 'https' : 'http'
  return `${scheme}://${host === '0.0.0.0' ? '127.0.0.1' : host === '[::]' ? '[::1]' : host}:${addr.port}`
}

export function adminOptionsBase(config: CutoverConfig): Pick<AdminApiOptions, 'routes' | 'token' | 'readinessRoutes' | 'replayTopics'> {
  return { routes: config.routes.map((r) => ({ id: r.id, methods: r.methods, path: r.path })), token: config.admin.token, readinessRoutes: readinessRoutesOf(config), replayTopics: ReplayTopics.of(config) }
}

/** Runs the whole gateway (data plane and admin API) in this process. */
export async function startGateway(config: CutoverConfig, options: GatewayOptions = {}): Promise<Gateway> {
  checkStartup(config)
  const log = options.log ?? createLogger()
  warnOpenAdmin(config, log)
  const registry = new Registry()
  const metrics = createMetrics(registry, { processMetrics: options.processMetrics ?? true })
  const audit = new AuditLog(log)
  const store = await RouteStateStore.open(config, audit, log, { persist: options.persistState ?? true, reset: options.resetState ?? false })
  store.onChange((id, state) => metrics.routeWeight.labels(id).set(state.weight))

  const data = await buildDataPlane(config, store.states, log, metrics)
  store.onChange((id) => data.routeChanged(id))
  // every change lands in the log; with Kafka also on cutover.audit, keyed by route
  if (config.kafka !== undefined) audit.addSink((record) => data.publisher.publish('audit', record.route, { schema: AUDIT_SCHEMA, ...record }))
  const ramps = new RampSet(config, store, async (route) => data.guards.status(route) ?? 'green', log)
  data.guards.start((trip) => {
    const detail = `${trip.verdict.reason} ${trip.verdict.value.toFixed(4)} > ${trip.verdict.threshold}`
    // with state.shared the trip's one change also holds the ramp on every replica
    const hold = ramps.holdOnRollback(trip.route, detail)
    // expect: with state.shared, replicas tripping at once make one change (the rest are refused)
    void store
      .update(trip.route, { weight: trip.to }, { who: 'guard', action: `guard-trip:${trip.verdict.reason}`, expect: store.get(trip.route)?.version ?? 0, ...(hold === undefined ? {} : { ramp: hold }) })
      .catch((err: unknown) => {
        if (err instanceof CutoverError && err.code === 'CUTOVER_VERSION_CONFLICT') log.info({ route: trip.route }, 'guard trip: the route changed meanwhile (another replica tripped first)')
        else log.error({ err, route: trip.route }, 'guard could not set the weight back')
      })
    ramps.onRollback(trip.route, detail)
  })

  // with state.shared, GET /readiness adds up every replica's traffic
  const fleetReadiness = FleetReadiness.open(config, log)
  let ready = false
  const admin = createAdminApi({
    ...adminOptionsBase(config),
    fleetReadiness,
    store,
    audit,
    log,
    ready: () => ready,
    metrics: async () => ({ contentType: registry.contentType, body: await registry.metrics() }),
    metricsJson: async () => [await registry.getMetricsAsJSON()],
    stats: () => routeStats(metrics),
    diffs: async (filter, limit) => data.diffs.recent(filter, limit),
    diffSummary: async (route) => data.diffs.summary(route),
    noise: async () => data.mirror.noise(),
    noiseDetail: async (route) => data.mirror.noiseSnapshot(route),
    clearNoise: async (route) => data.mirror.clearNoise(route),
    breakers: async () => breakerStates(data.breakers),
    guards: async () => data.guards.snapshots(),
    ids: async (map, limit) => data.ids?.summary(map, limit) ?? { maps: {}, pairs: [] },
    ramps,
  })

  await admin.listen({ host: config.admin.host, port: config.admin.port })
  let dataUrl: string
  try {
    // with state.shared, /readyz says 503 until the control topic was read: no traffic before
    await store.synced()
    dataUrl = await data.listen()
  } catch (err) {
    await admin.close()
    await fleetReadiness?.stop()
    await data.close()
    await store.close()
    throw err
  }
  ready = true
  ramps.start()
  return {
    config,
    dataUrl,
    adminUrl: urlOf(admin),
    store,
    metrics,
    data,
    ramps,
    async close() {
      ready = false
      ramps.stop()
      await data.close()
      await admin.close()
      await fleetReadiness?.stop()
      await store.close()
    },
  }
}
