import cluster, { type Worker } from 'node:cluster'
import type { Logger } from 'pino'
import { AggregatorRegistry, Registry } from 'prom-client'
import type { CutoverConfig } from './config/schema.ts'
import { AuditLog } from './control/audit.ts'
import { createAdminApi } from './control/admin-api.ts'
import type { RouteState } from './control/route-state.ts'
import { applyState, RouteStateStore } from './control/route-state-store.ts'
import { adminOptionsBase, breakerStates, buildDataPlane, checkStartup, SHUTDOWN_MARGIN_MS, urlOf, warnOpenAdmin, type DataPlaneHandle } from './gateway.ts'
import { mergeDiffs, mergeSummaries, type DiffFilter, type DiffSummary } from './compare/diff-log.ts'
import { mergeNoise, type NoiseSnapshot } from './compare/noise-learner.ts'
import { AUDIT_SCHEMA, type DiffEvent } from './publish/events.ts'
import { createPublisher } from './publish/publisher.ts'
import { RampSet } from './control/ramps.ts'
import type { GuardSnapshot, GuardStatus } from './resilience/guard.ts'
import { worstStatus } from './resilience/guard-set.ts'
import { join } from 'node:path'
import { createMetrics, mergeRouteStats, routeStats, type RouteStats } from './metrics/metrics.ts'
import { FleetReadiness } from './readiness/fleet-readiness.ts'
import type { MetricFamily } from './readiness/metric-sample.ts'
import type { IdPair } from './ids/id-map.ts'
import type { IdSummary } from './ids/id-store.ts'

/**
 * `--workers N`: N data-plane processes share the listening port (node:cluster); the primary owns
 * route state, the admin API and the state file, and pushes every change to every worker over
 * the cluster IPC channel. A worker only starts listening once it has the primary's state, so no
 * request is ever routed on stale weights.
 */
type Query =
  | { what: 'stats' }
  | { what: 'diffs'; filter: DiffFilter; limit: number }
  | { what: 'diff-summary'; route: string | undefined }
  | { what: 'noise' }
  | { what: 'noise-detail'; route: string }
  | { what: 'noise-clear'; route: string }
  | { what: 'breakers' }
  | { what: 'guards' }
  | { what: 'guard-status'; route: string }
  | { what: 'metrics-json' }
  | { what: 'ids'; map: string | undefined; limit: number }

type ToWorker =
  | { type: 'cutover:state'; routes: Record<string, RouteState> }
  | { type: 'cutover:route-state'; id: string; state: RouteState }
  | { type: 'cutover:query'; seq: number; query: Query }
  | { type: 'cutover:drain' }
  | { type: 'cutover:id-pair'; pair: IdPair }

type ToPrimary =
  | { type: 'cutover:hello' }
  | { type: 'cutover:listening'; url: string }
  | { type: 'cutover:answer'; seq: number; value: unknown }
  | { type: 'cutover:guard-trip'; route: string; to: number; reason: string; detail: string }
  | { type: 'cutover:id-pair'; pair: IdPair }

function isMessage<T extends { type: string }>(msg: unknown): msg is T {
  return typeof msg === 'object' && msg !== null && typeof (msg as { type?: unknown }).type === 'string' && (msg as { type: string }).type.startsWith('cutover:')
}

const QUERY_TIMEOUT_MS = 1000
const WORKER_INDEX_ENV = 'CUTOVER_WORKER_INDEX'

export async function runPrimary(config: CutoverConfig, workers: number, log: Logger, options: { resetState?: boolean } = {}): Promise<void> {
  // here, once: a worker failing on it would be restarted forever
  checkStartup(config)
  warnOpenAdmin(config, log)
  const audit = new AuditLog(log)
  const store = await RouteStateStore.open(config, audit, log, { reset: options.resetState ?? false })
  // the primary publishes audit records itself (workers publish diffs and replays)
  const auditPublisher =
    config.kafka === undefined ? null : await createPublisher({ config, metrics: createMetrics(new Registry(), { processMetrics: false }), log, spoolDir: join(config.spool.dir, 'primary') })
  if (auditPublisher !== null) audit.addSink((record) => auditPublisher.publish('audit', record.route, { schema: AUDIT_SCHEMA, ...record }))
  const aggregator = new AggregatorRegistry()
  const listening = new Set<number>()
  /** cluster worker id → stable index 0..N-1 (names the worker's spool folder; kept on respawn) */
  const indexOf = new Map<number, number>()
  let draining = false
  let seq = 0
  const pending = new Map<number, { parts: unknown[]; expect: number; done: () => void }>()

  const send = (w: Worker, msg: ToWorker): void => {
    if (w.isConnected()) w.send(msg)
  }
  const each = (fn: (w: Worker) => void): void => {
    for (const w of Object.values(cluster.workers ?? {})) if (w !== undefined) fn(w)
  }
  const fork = (index: number): void => {
    const w = cluster.fork({ [WORKER_INDEX_ENV]: String(index) })
    indexOf.set(w.id, index)
  }

  store.onChange((id, state) => each((w) => send(w, { type: 'cutover:route-state', id, state })))

  cluster.on('message', (worker, msg: unknown) => {
    if (!isMessage<ToPrimary>(msg)) return
    if (msg.type === 'cutover:hello') {
      // a worker that was still loading when the drain began missed the drain message
      send(worker, draining ? { type: 'cutover:drain' } : { type: 'cutover:state', routes: store.snapshot() })
    }
    else if (msg.type === 'cutover:listening') {
      listening.add(worker.id)
      log.info({ worker: worker.id, workerPid: worker.process.pid, url: msg.url }, 'worker listening')
    } else if (msg.type === 'cutover:guard-trip') {
      // the first worker to see the breach acts; later reports find the weight already down
      if ((store.get(msg.route)?.weight ?? 0) > msg.to) {
        const hold = ramps.holdOnRollback(msg.route, msg.detail)
        void store
          .update(msg.route, { weight: msg.to }, { who: `guard (worker ${worker.id})`, action: `guard-trip:${msg.reason}`, expect: store.get(msg.route)?.version ?? 0, ...(hold === undefined ? {} : { ramp: hold }) })
          .catch((err: unknown) => log.error({ err, route: msg.route }, 'guard could not set the weight back'))
      }
      ramps.onRollback(msg.route, msg.detail)
    } else if (msg.type === 'cutover:id-pair') {
      // a pair one worker recorded: every other worker learns it (the recording worker persists it)
      each((w) => {
        if (w.id !== worker.id) send(w, msg)
      })
    } else if (msg.type === 'cutover:answer') {
      const p = pending.get(msg.seq)
      if (p !== undefined) {
        p.parts.push(msg.value)
        if (p.parts.length >= p.expect) p.done()
      }
    }
  })

  cluster.on('exit', (worker, code, signal) => {
    listening.delete(worker.id)
    const index = indexOf.get(worker.id) ?? 0
    indexOf.delete(worker.id)
    if (draining) return
    log.error({ worker: worker.id, code, signal }, 'worker died; starting a replacement')
    fork(index)
  })

  /** Asks every listening worker; answers from those that reply within QUERY_TIMEOUT_MS. */
  const ask = <T>(query: Query): Promise<T[]> =>
    new Promise((resolve) => {
      const id = ++seq
      const targets = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && listening.has(w.id))
      const entry = {
        parts: [] as unknown[],
        expect: targets.length,
        done: () => {
          clearTimeout(timer)
          pending.delete(id)
          resolve(entry.parts as T[])
        },
      }
      const timer = setTimeout(() => entry.done(), QUERY_TIMEOUT_MS)
      pending.set(id, entry)
      if (targets.length === 0) entry.done()
      for (const w of targets) send(w, { type: 'cutover:query', seq: id, query })
    })

  const ramps = new RampSet(config, store, async (route) => worstStatus(await ask<GuardStatus | undefined>({ what: 'guard-status', route })), log)

  // with state.shared, GET /readiness adds up every replica's traffic (this one: all its workers)
  const fleetReadiness = FleetReadiness.open(config, log)
  const admin = createAdminApi({
    ...adminOptionsBase(config),
    fleetReadiness,
    store,
    audit,
    log,
    ready: () => !draining && listening.size === workers,
    metrics: async () => ({ contentType: aggregator.contentType, body: await aggregator.clusterMetrics() }),
    metricsJson: () => ask<MetricFamily[]>({ what: 'metrics-json' }),
    stats: async () => mergeRouteStats(await ask<Record<string, RouteStats>>({ what: 'stats' })),
    diffs: async (filter, limit) => mergeDiffs(await ask<DiffEvent[]>({ what: 'diffs', filter, limit }), limit),
    diffSummary: async (route) => mergeSummaries(await ask<DiffSummary>({ what: 'diff-summary', route })),
    noiseDetail: async (route) => mergeNoise(await ask<NoiseSnapshot | null>({ what: 'noise-detail', route })),
    clearNoise: async (route) => (await ask<boolean>({ what: 'noise-clear', route })).some(Boolean),
    ramps,
    ids: async (map, limit) => {
      // per map, the fewest pairs any worker holds: what every worker can translate
      const parts = (await ask<IdSummary | null>({ what: 'ids', map, limit })).filter((p): p is IdSummary => p !== null)
      const maps: Record<string, number> = {}
      for (const name of new Set(parts.flatMap((p) => Object.keys(p.maps)))) maps[name] = Math.min(...parts.map((p) => p.maps[name] ?? 0))
      const pairs = parts.reduce<IdPair[]>((most, p) => (p.pairs.length > most.length ? p.pairs : most), [])
      return { maps, pairs }
    },
    guards: async () => {
      // each worker guards its share of the traffic: show the window with the most cloud requests
      const out: Record<string, GuardSnapshot> = {}
      for (const part of await ask<Record<string, GuardSnapshot>>({ what: 'guards' })) {
        for (const [route, snap] of Object.entries(part)) {
          const have = out[route]
          if (have === undefined || snap.status === 'breached' || snap.cloud.requests > have.cloud.requests) out[route] = snap
        }
      }
      return out
    },
    breakers: async () => {
      // a backend is as open as the most open view any worker has of it
      const rank: Record<string, number> = { closed: 0, 'half-open': 1, open: 2 }
      const out: Record<string, string> = {}
      for (const part of await ask<Record<string, string>>({ what: 'breakers' })) {
        for (const [b, st] of Object.entries(part)) if ((rank[st] ?? 0) >= (rank[out[b] ?? 'closed'] ?? 0)) out[b] = st
      }
      return out
    },
    noise: async () => {
      // each worker learns from its own samples: the union is what the gateway ignores somewhere
      const out: Record<string, string[]> = {}
      for (const part of await ask<Record<string, string[]>>({ what: 'noise' })) {
        for (const [route, fields] of Object.entries(part)) out[route] = [...new Set([...(out[route] ?? []), ...fields])]
      }
      return out
    },
  })
  await admin.listen({ host: config.admin.host, port: config.admin.port })
  log.info({ admin: urlOf(admin), workers }, 'admin API listening')
  // with state.shared: workers start on the fleet's state, not the config's (/readyz 503 meanwhile)
  await store.synced()
  for (let i = 0; i < workers; i++) fork(i)
  ramps.start()

  const shutdown = async (signal: string): Promise<void> => {
    if (draining) return
    draining = true
    ramps.stop()
    log.info({ signal }, 'draining workers')
    const exits = Object.values(cluster.workers ?? {})
      .filter((w): w is Worker => w !== undefined)
      .map((w) => new Promise<void>((resolve) => (w.isDead() ? resolve() : w.once('exit', () => resolve()))))
    each((w) => send(w, { type: 'cutover:drain' }))
    await Promise.all(exits)
    await admin.close()
    await fleetReadiness?.stop()
    // the workers used the drain time; audit events get the margin, then the spool
    await auditPublisher?.close(SHUTDOWN_MARGIN_MS / 2)
    await store.close()
    log.info('stopped')
    process.exit(0)
  }
  process.once('SIGTERM', () => void shutdown('SIGTERM'))
  process.once('SIGINT', () => void shutdown('SIGINT'))
}

export async function runWorker(config: CutoverConfig, log: Logger): Promise<void> {
  const registry = new Registry()
  AggregatorRegistry.setRegistries([registry])
  // prom-client installs the worker's answer to the primary's metrics request only when an
  // AggregatorRegistry is constructed (lib/cluster.js addListeners), not on setRegistries.
  new AggregatorRegistry()
  const metrics = createMetrics(registry)
  const states = new Map<string, RouteState>(config.routes.map((r) => [r.id, { weight: r.weight, mirror: r.mirror, readSample: r.readSample, version: 1 }]))
  const reply = (msg: ToPrimary): void => {
    process.send?.(msg)
  }

  let ready: DataPlaneHandle | null = null
  /** a drain can arrive before this worker has started: then it never starts listening */
  let closing = false
  async function drain(): Promise<void> {
    if (closing) return
    closing = true
    if (ready !== null) await ready.close()
    process.exit(0)
  }
  // the primary coordinates shutdown; a signal sent to a worker alone drains just that worker
  process.once('SIGTERM', () => void drain())
  process.once('SIGINT', () => undefined)
  const answer = async (q: Query): Promise<unknown> => {
    if (q.what === 'stats') return routeStats(metrics)
    if (q.what === 'diffs') return ready?.diffs.recent(q.filter, q.limit) ?? []
    if (q.what === 'diff-summary') return ready?.diffs.summary(q.route) ?? { groups: [], events: 0, droppedGroups: 0 }
    if (q.what === 'noise-detail') return ready?.mirror.noiseSnapshot(q.route) ?? null
    if (q.what === 'noise-clear') return ready?.mirror.clearNoise(q.route) ?? false
    if (q.what === 'breakers') return ready === null ? {} : breakerStates(ready.breakers)
    if (q.what === 'guards') return ready?.guards.snapshots() ?? {}
    if (q.what === 'guard-status') return ready?.guards.status(q.route)
    if (q.what === 'metrics-json') return registry.getMetricsAsJSON()
    if (q.what === 'ids') return ready?.ids?.summary(q.map, q.limit) ?? null
    return ready?.mirror.noise() ?? {}
  }
  const initial = new Promise<Record<string, RouteState>>((resolve) => {
    process.on('message', (msg: unknown) => {
      if (!isMessage<ToWorker>(msg)) return
      switch (msg.type) {
        case 'cutover:state':
          resolve(msg.routes)
          break
        case 'cutover:route-state': {
          const live = states.get(msg.id)
          if (live !== undefined) {
            applyState(live, msg.state)
            metrics.routeWeight.labels(msg.id).set(msg.state.weight)
            ready?.routeChanged(msg.id)
          }
          break
        }
        case 'cutover:query':
          void answer(msg.query).then((value) => reply({ type: 'cutover:answer', seq: msg.seq, value }))
          break
        case 'cutover:drain':
          void drain()
          break
        case 'cutover:id-pair':
          ready?.ids?.learn(msg.pair)
          break
      }
    })
  })
  reply({ type: 'cutover:hello' })
  for (const [id, state] of Object.entries(await initial)) {
    const live = states.get(id)
    if (live !== undefined) applyState(live, state)
  }

  const data = await buildDataPlane(config, states, log, metrics, Number(process.env[WORKER_INDEX_ENV] ?? 0))
  ready = data
  data.ids?.onRecord((pair) => reply({ type: 'cutover:id-pair', pair }))
  data.guards.start((trip) =>
    reply({ type: 'cutover:guard-trip', route: trip.route, to: trip.to, reason: trip.verdict.reason, detail: `${trip.verdict.reason} ${trip.verdict.value.toFixed(4)} > ${trip.verdict.threshold}` }),
  )
  if (closing) {
    await data.close()
    process.exit(0)
  }
  const url = await data.listen()
  reply({ type: 'cutover:listening', url })
}
