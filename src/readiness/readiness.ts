/**
 * Readiness: can this route's weight be raised? The one place that turns what a route measured
 * (traffic, mismatches, errors and p99 per backend, guard, ramp, breaker) into a verdict with
 * its reasons. Pure: readiness-service.ts gathers the facts, this decides (docs/readiness.md).
 */
import type { MirrorMode, RouteConfig } from '../config/schema.ts'
import { DEFAULT_READINESS, type ReadinessThresholds } from '../config/defaults.ts'
import type { Phase } from './phase-clock.ts'

// defined beside the config defaults, which the schema reads them from
export { DEFAULT_READINESS, type ReadinessThresholds }

/** The ladder a route without a ramp is raised along. */
export const DEFAULT_LADDER: readonly number[] = Object.freeze([1, 5, 25, 50, 100])

/**
 * p99s below this are compared as this: on a fast network both sides answer in a millisecond or
 * two, and a ratio of two such numbers (histogram buckets 0.5, 1, 2.5 ms apart) is noise, not a
 * reason to roll back.
 */
export const LATENCY_FLOOR_MS = 5

export function thresholdsOf(route: RouteConfig): ReadinessThresholds {
  return { ...DEFAULT_READINESS, ...(route.readiness ?? {}) }
}

export interface BackendFacts {
  /** attempts on the client path (failed ones hidden by failover included, when counted) */
  readonly requests: number
  readonly errors: number
  /** null without requests */
  readonly errorRate: number | null
  /** null without requests */
  readonly p99Ms: number | null
}

export interface TopField {
  /** null for events that are not about a field (a secondary error or timeout) */
  readonly field: string | null
  readonly kind: string
  readonly count: number
}

export interface RouteFacts {
  readonly weight: number
  readonly mirror: MirrorMode
  readonly phase: Phase
  readonly cloud: BackendFacts
  readonly legacy: BackendFacts
  /** mirrored exchanges compared (match, noise, mismatch, secondary error or timeout) */
  readonly compared: number
  /** mismatches, counting cloud failing to answer a mirrored call */
  readonly mismatches: number
  readonly topFields: readonly TopField[]
  readonly guard: { readonly status: string; readonly breach?: { readonly reason: string; readonly value: number; readonly threshold: number } | undefined } | null
  readonly ramp: { readonly steps: readonly number[]; readonly paused: boolean; readonly pausedReason?: string | undefined; readonly done: boolean } | null
  /** the cloud backend's breaker, when it has one */
  readonly cloudBreaker: string | undefined
}

export type VerdictAction = 'ready' | 'hold' | 'roll-back' | 'done'

export interface Verdict {
  readonly action: VerdictAction
  /** one line: `ready to raise to 5 %`, `hold: too little traffic (…)`, `roll back: …` */
  readonly summary: string
  /** every finding, worst first */
  readonly reasons: readonly string[]
  /** the weight `ready` suggests; null when there is none (already at 100) */
  readonly nextWeight: number | null
  /** ready or done: nothing stands in the way */
  readonly green: boolean
}

const pct = (x: number): string => `${(x * 100).toFixed(x < 0.1 && x > 0 ? 2 : 1)} %`

/** The weight after `weight`: the route's next ramp step, or the next rung of DEFAULT_LADDER. */
export function nextWeight(weight: number, rampSteps: readonly number[] | undefined): number | null {
  const ladder = rampSteps !== undefined && rampSteps.length > 0 ? rampSteps : DEFAULT_LADDER
  return ladder.find((w) => w > weight) ?? (weight < 100 ? 100 : null)
}

export function mismatchRate(f: Pick<RouteFacts, 'compared' | 'mismatches'>): number | null {
  return f.compared === 0 ? null : f.mismatches / f.compared
}

/** cloud p99 ÷ legacy p99, each at least LATENCY_FLOOR_MS; null until both have minRequests. */
export function latencyRatio(f: Pick<RouteFacts, 'cloud' | 'legacy'>, minRequests: number): number | null {
  const c = f.cloud.p99Ms
  const l = f.legacy.p99Ms
  if (c === null || l === null || f.cloud.requests < minRequests || f.legacy.requests < minRequests) return null
  return Math.max(c, LATENCY_FLOOR_MS) / Math.max(l, LATENCY_FLOOR_MS)
}

function describeField(t: TopField): string {
  return t.field === null ? `${t.kind} ×${t.count}` : `${t.field} ${t.kind} ×${t.count}`
}

/** The verdict for one route. Roll back beats hold beats ready; every finding is listed. */
export function verdictFor(f: RouteFacts, t: ReadinessThresholds): Verdict {
  const rollBack: string[] = []
  const hold: string[] = []
  const servesCloud = f.weight > 0

  if (f.phase === 'retired') return { action: 'done', summary: 'done: cloud serves everything and legacy is no longer mirrored', reasons: [], nextWeight: null, green: true }

  if (servesCloud) {
    if (f.guard?.status === 'breached' && f.guard.breach !== undefined) {
      rollBack.push(`guard breached: ${f.guard.breach.reason} ${f.guard.breach.value.toFixed(4)} > ${f.guard.breach.threshold}`)
    }
    if (f.cloudBreaker === 'open') rollBack.push('cloud circuit breaker is open')
    if (f.cloud.requests >= t.minRequests && f.cloud.errorRate !== null) {
      const legacyRate = f.legacy.errorRate ?? 0
      const delta = f.cloud.errorRate - legacyRate
      if (delta > t.maxErrorRateDelta) rollBack.push(`cloud error rate ${pct(f.cloud.errorRate)} vs legacy ${pct(legacyRate)} (more than ${pct(t.maxErrorRateDelta)} above)`)
    }
    const ratio = latencyRatio(f, t.minRequests)
    if (ratio !== null && ratio > t.maxLatencyRatio) {
      rollBack.push(`cloud p99 ${f.cloud.p99Ms?.toFixed(1)} ms is ${ratio.toFixed(2)}× legacy's ${f.legacy.p99Ms?.toFixed(1)} ms (limit ${t.maxLatencyRatio}×)`)
    }
  }

  if (f.phase === 'legacy') hold.push('mirror is off: cloud sees no traffic (set mirror to writes or all to start the shadow phase)')
  const evidence = f.phase === 'shadow' ? f.compared : f.cloud.requests
  const evidenceName = f.phase === 'shadow' ? 'compared exchanges' : 'cloud requests'
  if (f.phase !== 'legacy' && evidence < t.minRequests) hold.push(`too little traffic: ${evidence} of ${t.minRequests} ${evidenceName}`)
  const rate = mismatchRate(f)
  if (rate !== null && rate > t.maxMismatchRate) {
    const top = f.topFields.slice(0, 3).map(describeField)
    hold.push(`mismatch rate ${pct(rate)} > ${pct(t.maxMismatchRate)}${top.length > 0 ? ` (top: ${top.join(', ')})` : ''}`)
  }
  if (f.ramp?.paused === true) hold.push(`ramp paused${f.ramp.pausedReason === undefined ? '' : `: ${f.ramp.pausedReason}`}`)
  if (!servesCloud && f.guard?.status === 'breached' && f.guard.breach !== undefined) hold.push(`guard breached: ${f.guard.breach.reason}`)

  const reasons = [...rollBack, ...hold]
  if (rollBack.length > 0) return { action: 'roll-back', summary: `roll back: ${rollBack[0]}`, reasons, nextWeight: null, green: false }
  if (hold.length > 0) return { action: 'hold', summary: `hold: ${hold[0]}`, reasons, nextWeight: null, green: false }
  if (f.phase === 'cloud-primary') return { action: 'ready', summary: 'ready to retire legacy: set mirror off', reasons, nextWeight: null, green: true }
  const next = nextWeight(f.weight, f.ramp?.steps)
  return { action: 'ready', summary: next === null ? 'ready' : `ready to raise to ${next} %`, reasons, nextWeight: next, green: true }
}
