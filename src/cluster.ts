import cluster, { type Worker } from 'node:cluster'
import type { Logger } from 'pino'
import { AggregatorRegistry, Registry } from 'prom-client'
import type { CutoverConfig } from './config/schema.ts'
import { AuditLog } from './control/audit.ts'
import { createAdminApi } from './control/admin-api.ts'
import type { RouteState } from './control/route-state.ts'
import { applyState, RouteStateStore } from './control/route-state-store.ts'
import { adminOptionsBase, buildDataPlane, checkAdminExposure, urlOf } from './gateway.ts'
import { createMetrics, mergeRouteStats, routeStats, type RouteStats } from './metrics/metrics.ts'

/**
 * `--workers N`: N data-plane processes share the listening port (node:cluster); the primary owns
 * route state, the admin API and the state file, and pushes every change to every worker over
 * the cluster IPC channel. A worker only starts listening once it has the primary's state, so no
 * request is ever routed on stale weights.
 */
type ToWorker =
  | { type: 'cutover:state'; routes: Record<string, RouteState> }
  | { type: 'cutover:route-state'; id: string; state: RouteState }
  | { type: 'cutover:stats-req'; seq: number }
  | { type: 'cutover:drain' }

type ToPrimary =
  | { type: 'cutover:hello' }
  | { type: 'cutover:listening'; url: string }
  | { type: 'cutover:stats'; seq: number; stats: Record<string, RouteStats> }

function isMessage<T extends { type: string }>(msg: unknown): msg is T {
  return typeof msg === 'object' && msg !== null && typeof (msg as { type?: unknown }).type === 'string' && (msg as { type: string }).type.startsWith('cutover:')
}

const STATS_TIMEOUT_MS = 1000

export async function runPrimary(config: CutoverConfig, workers: number, log: Logger): Promise<void> {
  checkAdminExposure(config)
  const audit = new AuditLog(log)
  const store = await RouteStateStore.open(config, audit, log)
  const aggregator = new AggregatorRegistry()
  const listening = new Set<number>()
  let draining = false
  let seq = 0
  const pendingStats = new Map<number, { parts: Record<string, RouteStats>[]; expect: number; done: (v: Record<string, RouteStats>) => void }>()

  const send = (w: Worker, msg: ToWorker): void => {
    if (w.isConnected()) w.send(msg)
  }
  const each = (fn: (w: Worker) => void): void => {
    for (const w of Object.values(cluster.workers ?? {})) if (w !== undefined) fn(w)
  }

  store.onChange((id, state) => each((w) => send(w, { type: 'cutover:route-state', id, state })))

  cluster.on('message', (worker, msg: unknown) => {
    if (!isMessage<ToPrimary>(msg)) return
    if (msg.type === 'cutover:hello') send(worker, { type: 'cutover:state', routes: store.snapshot() })
    else if (msg.type === 'cutover:listening') {
      listening.add(worker.id)
      log.info({ worker: worker.id, workerPid: worker.process.pid, url: msg.url }, 'worker listening')
    } else if (msg.type === 'cutover:stats') {
      const p = pendingStats.get(msg.seq)
      if (p !== undefined) {
        p.parts.push(msg.stats)
        if (p.parts.length >= p.expect) p.done(mergeRouteStats(p.parts))
      }
    }
  })

  cluster.on('exit', (worker, code, signal) => {
    listening.delete(worker.id)
    if (draining) return
    log.error({ worker: worker.id, code, signal }, 'worker died; starting a replacement')
    cluster.fork()
  })

  const stats = (): Promise<Record<string, RouteStats>> =>
    new Promise((resolve) => {
      const id = ++seq
      const targets = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && listening.has(w.id))
      const finish = (v: Record<string, RouteStats>): void => {
        clearTimeout(timer)
        pendingStats.delete(id)
        resolve(v)
      }
      const entry = { parts: [] as Record<string, RouteStats>[], expect: targets.length, done: finish }
      const timer = setTimeout(() => finish(mergeRouteStats(entry.parts)), STATS_TIMEOUT_MS)
      pendingStats.set(id, entry)
      if (targets.length === 0) finish({})
      for (const w of targets) send(w, { type: 'cutover:stats-req', seq: id })
    })

  const admin = createAdminApi({
    ...adminOptionsBase(config),
    store,
    audit,
    log,
    ready: () => !draining && listening.size === workers,
    metrics: async () => ({ contentType: aggregator.contentType, body: await aggregator.clusterMetrics() }),
    stats,
  })
  await admin.listen({ host: config.admin.host, port: config.admin.port })
  log.info({ admin: urlOf(admin), workers }, 'admin API listening')
  for (let i = 0; i < workers; i++) cluster.fork()

  const shutdown = async (signal: string): Promise<void> => {
    if (draining) return
    draining = true
    log.info({ signal }, 'draining workers')
    const exits = Object.values(cluster.workers ?? {})
      .filter((w): w is Worker => w !== undefined)
      .map((w) => new Promise<void>((resolve) => (w.isDead() ? resolve() : w.once('exit', () => resolve()))))
    each((w) => send(w, { type: 'cutover:drain' }))
    await Promise.all(exits)
    await admin.close()
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
          }
          break
        }
        case 'cutover:stats-req':
          void routeStats(metrics).then((stats) => reply({ type: 'cutover:stats', seq: msg.seq, stats }))
          break
        case 'cutover:drain':
          void drain()
          break
      }
    })
  })
  reply({ type: 'cutover:hello' })
  for (const [id, state] of Object.entries(await initial)) {
    const live = states.get(id)
    if (live !== undefined) applyState(live, state)
  }

  const data = buildDataPlane(config, states, log, metrics)
  let closing = false
  async function drain(): Promise<void> {
    if (closing) return
    closing = true
    await data.close()
    process.exit(0)
  }
  // the primary coordinates shutdown; a signal sent to a worker alone drains just that worker
  process.once('SIGTERM', () => void drain())
  process.once('SIGINT', () => undefined)
  const url = await data.listen()
  reply({ type: 'cutover:listening', url })
}
