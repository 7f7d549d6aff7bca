import type { CutoverConfig } from '../config/schema.ts'
import { mergeSummaries, type DiffSummary } from '../compare/diff-log.ts'
import type { RouteStateStore } from '../control/route-state-store.ts'
import type { GuardSnapshot } from '../resilience/guard.ts'
import type { RampState } from '../resilience/ramp.ts'
import { MetricSample, type MetricFamily } from './metric-sample.ts'
import { PhaseClock, type Phase, type PhaseEntry } from './phase-clock.ts'
import type { ReplayTopicCounts } from './replay-topics.ts'
import { READINESS_INPUTS_SCHEMA, READINESS_PUBLISH_MS, type FleetReadiness, type ReplicaInputs, type RouteInputs } from './fleet-readiness.ts'
import { latencyRatio, mismatchRate, thresholdsOf, verdictFor, type BackendFacts, type ReadinessThresholds, type RouteFacts, type TopField, type Verdict } from './readiness.ts'

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])
const TOP_FIELDS = 5
/** The metric families a route's readiness reads (what a replica sends the fleet). */
const ROUTE_FAMILIES = ['cutover_requests_total', 'cutover_upstream_errors_total', 'cutover_request_duration_seconds', 'cutover_mirror_total']
/** Diff groups per route a replica sends: enough for the fleet's top fields. */
const SENT_GROUPS = 20

export interface ReadinessRoute {
  readonly id: string
  readonly methods: readonly string[]
  readonly path: string
  readonly thresholds: ReadinessThresholds
}

/** What readiness needs from the config, per route (built once at start). */
export function readinessRoutesOf(config: CutoverConfig): ReadinessRoute[] {
  return config.routes.map((r) => ({ id: r.id, methods: r.methods, path: r.path, thresholds: thresholdsOf(r) }))
}

export interface RouteReadiness {
  readonly id: string
  readonly methods: readonly string[]
  readonly path: string
  readonly weight: number
  readonly mirror: string
  readonly version: number
  readonly phase: Phase
  readonly phaseSince: string
  readonly phaseSeconds: number
  /** the phase began before this process started: `phaseSince` is the process start */
  readonly phaseSinceStart: boolean
  readonly traffic: { readonly requests: number; readonly legacy: number; readonly cloud: number; readonly cloudShare: number | null }
  readonly mirrored: { readonly compared: number; readonly mismatches: number; readonly mismatchRate: number | null; readonly topFields: readonly TopField[] }
  readonly cloud: BackendFacts
  readonly legacy: BackendFacts
  readonly latencyRatio: number | null
  readonly guard: RouteFacts['guard']
  readonly ramp: RampState | null
  readonly breakers: Readonly<Record<string, string>>
  readonly thresholds: ReadinessThresholds
  /** any request reached the route, or any exchange was compared */
  readonly hasTraffic: boolean
  readonly verdict: Verdict
}

export interface ReadinessReport {
  readonly generatedAt: string
  readonly routes: readonly RouteReadiness[]
  readonly overall: {
    readonly requests: number
    /** share of all routed requests that cloud answered; null without requests */
    readonly cloudShare: number | null
    /** requests on routes that take only writes (POST, PUT, PATCH, DELETE) */
    readonly writeRequests: number
    readonly writeCloudShare: number | null
    readonly phases: Readonly<Record<Phase, number>>
    /** every route with traffic is green */
    readonly green: boolean
  }
  readonly backlog: {
    /** events waiting to be published (memory queue plus spool), cutover_publish_backlog */
    readonly publish: number
    /** replay events (mirrored writes the other side missed) by publish outcome, cutover_publish_total{topic="replay"} */
    readonly replay: { readonly sent: number; readonly spooled: number; readonly dropped: number }
    /** what Kafka holds: replay events `cutover replay` has not reached yet, and dead letters; null without Kafka or when it did not answer */
    readonly replayTopic: ReplayTopicCounts | null
  }
  /** with `state.shared`: the replicas whose inputs the report adds up (this one first) */
  readonly fleet?: { readonly replicas: readonly string[] }
}

export interface ReadinessDeps {
  readonly routes: readonly ReadinessRoute[]
  readonly store: Pick<RouteStateStore, 'snapshot' | 'onChange'>
  /** every data-plane process's `registry.getMetricsAsJSON()` */
  readonly metrics: () => Promise<readonly (readonly MetricFamily[])[]>
  readonly diffSummary: (route: string | undefined) => Promise<DiffSummary>
  readonly guards: () => Promise<Record<string, GuardSnapshot>>
  readonly ramps: { state(route: string): RampState | null }
  readonly breakers: () => Promise<Record<string, string>>
  /** the replay topics' backlog and dead letters; absent without Kafka */
  readonly replayTopics?: (() => Promise<ReplayTopicCounts | null>) | undefined
  /** with `state.shared`: the other replicas' inputs, and where this one publishes its own */
  readonly fleet?: FleetReadiness | null
  readonly now?: () => number
}

/**
 * What a backend did on a route. The requests counter is by the backend that *answered*: with
 * failover, a cloud failure answered by legacy shows as a legacy 200. When the gateway counts
 * backend failures themselves (cutover_upstream_errors_total, failover-hidden ones included),
 * those are the errors, and the hidden ones are added to the attempts.
 */
export function backendFacts(m: MetricSample, route: string, backend: string): BackendFacts {
  let served = 0
  let served5xx = 0
  for (const s of m.select('cutover_requests_total', { route, backend })) {
    served += s.value
    if (Number(s.labels.code) >= 500) served5xx += s.value
  }
  let requests = served
  let errors = served5xx
  if (m.has('cutover_upstream_errors_total')) {
    const failed = m.sum('cutover_upstream_errors_total', { route, backend })
    errors = Math.max(served5xx, failed)
    requests = served + Math.max(0, failed - served5xx)
  }
  const p99 = m.quantile('cutover_request_duration_seconds', 0.99, { route, backend })
  return { requests, errors, errorRate: requests === 0 ? null : errors / requests, p99Ms: p99 === null ? null : p99 * 1000 }
}

/**
 * Builds the readiness report from live state and metrics; owns the phase clock. A route is
 * judged on what happened in its current phase: when the phase changes, the metrics are read
 * once and kept as the route's baseline, so the errors cloud made before a rollback do not
 * count against its next canary.
 */
export class ReadinessService {
  readonly #deps: ReadinessDeps
  readonly #clock: PhaseClock
  readonly #now: () => number
  readonly #baselines = new Map<string, MetricSample>()
  readonly #capturing = new Set<Promise<void>>()
  #publishTimer: NodeJS.Timeout | null = null

  constructor(deps: ReadinessDeps) {
    this.#deps = deps
    this.#now = deps.now ?? Date.now
    this.#clock = new PhaseClock(deps.store.snapshot(), this.#now)
    deps.store.onChange((id, state) => {
      if (this.#clock.onState(id, state)) this.#capture(id)
    })
    const fleet = deps.fleet
    if (fleet !== undefined && fleet !== null) {
      const publish = (): void => {
        void this.#inputs(fleet.replica)
          .then(async (inputs) => fleet.publish(inputs))
          .catch(() => undefined) // the next round tries again
      }
      this.#publishTimer = setInterval(publish, READINESS_PUBLISH_MS)
      this.#publishTimer.unref()
      publish()
    }
  }

  /** Stops publishing this replica's inputs. */
  stop(): void {
    if (this.#publishTimer !== null) clearInterval(this.#publishTimer)
    this.#publishTimer = null
  }

  /** This replica's readiness inputs, for the other replicas: each route since its phase began here. */
  async #inputs(replica: string): Promise<ReplicaInputs> {
    const d = this.#deps
    await Promise.all(this.#capturing)
    const [parts, summary, guards, breakers] = await Promise.all([d.metrics(), d.diffSummary(undefined), d.guards(), d.breakers()])
    const all = MetricSample.merge(parts)
    const routes: Record<string, RouteInputs> = {}
    const now = this.#now()
    for (const r of d.routes) {
      const baseline = this.#baselines.get(r.id)
      const m = baseline === undefined ? all : all.minus(baseline)
      const entry = this.#clock.get(r.id)
      const guard = guards[r.id]
      routes[r.id] = {
        metrics: m.toFamilies(ROUTE_FAMILIES, { route: r.id }),
        phase: entry?.phase ?? 'legacy',
        since: entry?.since ?? now,
        sinceStart: entry?.sinceStart ?? true,
        guard: guard === undefined ? null : { status: guard.status, ...(guard.breach === undefined ? {} : { breach: guard.breach }) },
      }
    }
    const perRoute = new Map<string, number>()
    const groups = summary.groups.filter((g) => {
      const n = (perRoute.get(g.route) ?? 0) + 1
      perRoute.set(g.route, n)
      return n <= SENT_GROUPS
    })
    return {
      schema: READINESS_INPUTS_SCHEMA,
      replica,
      at: now,
      routes,
      backlog: [...all.toFamilies(['cutover_publish_backlog']), ...all.toFamilies(['cutover_publish_total'], { topic: 'replay' })],
      summary: { ...summary, groups },
      breakers,
    }
  }

  #capture(id: string): void {
    const p = this.#deps
      .metrics()
      .then((parts) => void this.#baselines.set(id, MetricSample.merge(parts)))
      // without a baseline the route is judged since start: less precise, never wrong-footed
      .catch(() => void this.#baselines.delete(id))
      .finally(() => this.#capturing.delete(p))
    this.#capturing.add(p)
  }

  async report(): Promise<ReadinessReport> {
    const d = this.#deps
    // a report right after a phase change waits for that change's baseline
    await Promise.all(this.#capturing)
    const [parts, ownSummary, guards, ownBreakers, replayTopic] = await Promise.all([d.metrics(), d.diffSummary(undefined), d.guards(), d.breakers(), d.replayTopics?.() ?? null])
    const all = MetricSample.merge(parts)
    const states = d.store.snapshot()
    const now = this.#now()
    // with state.shared: every other replica's inputs, each since the phase began there
    const others = d.fleet?.others(now) ?? []
    const summary = others.length === 0 ? ownSummary : mergeSummaries([ownSummary, ...others.map((o) => o.summary)])
    const breakers = others.length === 0 ? ownBreakers : mostOpen([ownBreakers, ...others.map((o) => o.breakers)])
    const routes: RouteReadiness[] = []
    for (const r of d.routes) {
      const state = states[r.id]
      if (state === undefined) continue
      const baseline = this.#baselines.get(r.id)
      const own = baseline === undefined ? all : all.minus(baseline)
      const theirs = others.map((o) => o.routes[r.id]).filter((x): x is RouteInputs => x !== undefined)
      const m = theirs.length === 0 ? own : own.plus(theirs.map((t) => t.metrics))
      const phaseEntry = earliestOf(this.#clock.get(r.id), theirs)
      const phase = phaseEntry?.phase ?? 'legacy'
      const cloud = backendFacts(m, r.id, 'cloud')
      const legacy = backendFacts(m, r.id, 'legacy')
      const outcome = (o: string): number => m.sum('cutover_mirror_total', { route: r.id, outcome: o })
      // at weight 100 the mirrored side is legacy: its failures are not cloud's mismatches
      const failures = state.weight >= 100 ? 0 : outcome('error') + outcome('timeout')
      const compared = outcome('match') + outcome('noise') + outcome('mismatch') + failures
      const mismatches = outcome('mismatch') + failures
      const topFields = summary.groups
        .filter((g) => g.route === r.id)
        .slice(0, TOP_FIELDS)
        .map((g) => ({ field: g.field, kind: g.kind, count: g.count }))
      // a replica whose window is breached speaks for the fleet
      const guardSnap = theirs.find((t) => t.guard?.status === 'breached')?.guard ?? guards[r.id]
      const ramp = d.ramps.state(r.id)
      const facts: RouteFacts = {
        weight: state.weight,
        mirror: state.mirror,
        phase,
        cloud,
        legacy,
        compared,
        mismatches,
        topFields,
        guard: guardSnap === undefined ? null : { status: guardSnap.status, breach: guardSnap.breach },
        ramp: ramp === null ? null : { steps: ramp.steps, paused: ramp.paused, pausedReason: ramp.pausedReason, done: ramp.done },
        cloudBreaker: breakers.cloud,
      }
      const servedLegacy = m.sum('cutover_requests_total', { route: r.id, backend: 'legacy' })
      const servedCloud = m.sum('cutover_requests_total', { route: r.id, backend: 'cloud' })
      const total = m.sum('cutover_requests_total', { route: r.id })
      const since = phaseEntry?.since ?? now
      routes.push({
        id: r.id,
        methods: r.methods,
        path: r.path,
        weight: state.weight,
        mirror: state.mirror,
        version: state.version,
        phase,
        phaseSince: new Date(since).toISOString(),
        phaseSeconds: Math.max(0, Math.round((now - since) / 1000)),
        phaseSinceStart: phaseEntry?.sinceStart ?? true,
        traffic: { requests: total, legacy: servedLegacy, cloud: servedCloud, cloudShare: total === 0 ? null : servedCloud / total },
        mirrored: { compared, mismatches, mismatchRate: mismatchRate(facts), topFields },
        cloud,
        legacy,
        latencyRatio: latencyRatio(facts, r.thresholds.minRequests),
        guard: facts.guard,
        ramp,
        breakers,
        thresholds: r.thresholds,
        hasTraffic: total > 0 || compared > 0,
        verdict: verdictFor(facts, r.thresholds),
      })
    }
    const backlog = { ...backlogOf(others.length === 0 ? all : all.plus(others.map((o) => o.backlog))), replayTopic }
    const fleet = d.fleet === undefined || d.fleet === null ? {} : { fleet: { replicas: [d.fleet.replica, ...others.map((o) => o.replica).sort()] } }
    return { generatedAt: new Date(now).toISOString(), routes, overall: overallOf(routes), backlog, ...fleet }
  }
}

/** The earliest time any replica saw the route's current phase begin (replicas that read it later, or started in it, saw it later). */
function earliestOf(own: PhaseEntry | undefined, theirs: readonly RouteInputs[]): PhaseEntry | undefined {
  if (own === undefined) return own
  let best = own
  for (const t of theirs) if (t.phase === own.phase && t.since < best.since) best = { phase: t.phase, since: t.since, sinceStart: t.sinceStart }
  return best
}

/** A backend is as open as the most open view any replica has of it. */
function mostOpen(parts: readonly Readonly<Record<string, string>>[]): Record<string, string> {
  const rank: Record<string, number> = { closed: 0, 'half-open': 1, open: 2 }
  const out: Record<string, string> = {}
  for (const part of parts) for (const [b, st] of Object.entries(part)) if ((rank[st] ?? 0) >= (rank[out[b] ?? 'closed'] ?? 0)) out[b] = st
  return out
}

function overallOf(routes: readonly RouteReadiness[]): ReadinessReport['overall'] {
  let requests = 0
  let cloud = 0
  let writeRequests = 0
  let writeCloud = 0
  const phases: Record<Phase, number> = { legacy: 0, shadow: 0, canary: 0, 'cloud-primary': 0, retired: 0 }
  for (const r of routes) {
    requests += r.traffic.requests
    cloud += r.traffic.cloud
    phases[r.phase]++
    // the requests counter has no method label: a route counts as writes when it takes only writes
    if (r.methods.every((m) => WRITE_METHODS.has(m))) {
      writeRequests += r.traffic.requests
      writeCloud += r.traffic.cloud
    }
  }
  return {
    requests,
    cloudShare: requests === 0 ? null : cloud / requests,
    writeRequests,
    writeCloudShare: writeRequests === 0 ? null : writeCloud / writeRequests,
    phases,
    green: routes.every((r) => !r.hasTraffic || r.verdict.green),
  }
}

function backlogOf(m: MetricSample): Omit<ReadinessReport['backlog'], 'replayTopic'> {
  return {
    publish: m.sum('cutover_publish_backlog'),
    replay: {
      sent: m.sum('cutover_publish_total', { topic: 'replay', outcome: 'sent' }),
      spooled: m.sum('cutover_publish_total', { topic: 'replay', outcome: 'spooled' }),
      dropped: m.sum('cutover_publish_total', { topic: 'replay', outcome: 'dropped' }),
    },
  }
}
