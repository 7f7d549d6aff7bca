import type { CutoverConfigInput } from '../../src/config/schema.ts'

/** One Cutover route as a user writes it (validated by Cutover's own schema in bench/cutover.ts). */
export type RouteInput = NonNullable<CutoverConfigInput['routes']>[number]

/**
 * - origin: the legacy origin, hit directly (the ceiling: no proxy at all)
 * - bare: fastify + @fastify/http-proxy → legacy origin
 * - undici: node:http + undici Pool.stream → legacy origin
 * - cutover: Cutover with `routes`, legacy and cloud origins as backends
 */
export type TargetKind = 'origin' | 'bare' | 'undici' | 'cutover'

export interface TargetSpec {
  /** Row label and JSON key; unique within a scenario. */
  readonly id: string
  readonly kind: TargetKind
  /** kind 'cutover' only. */
  readonly routes?: readonly RouteInput[]
  /** kind 'cutover' only: false runs it with `journal: { enabled: false }` (no mirror journal). */
  readonly journal?: boolean
  /**
   * Ask this target this path (and query) instead of the scenario's: the same route, and so the
   * same process, with the origins answering differently (`?same=1` left out, a slow secondary).
   */
  readonly path?: string
  /**
   * kind 'cutover': publish diff and replay events to the Kafka brokers in CUTOVER_KAFKA_BROKERS
   * (topics unique to the bench run) instead of the spool. Left out when the variable is unset.
   */
  readonly kafka?: boolean
}

export interface RequestSpec {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
  /** Path and query; every target is asked the same. */
  readonly path: string
  readonly headers?: Readonly<Record<string, string>>
  readonly body?: string
}

export type RatioMetric = 'rps' | 'p99' | 'cpuPerReq'

/**
 * A pass/fail line under the table: the median per-round ratio subject ÷ baseline of one metric
 * (see run.ts `compare`) against one bound.
 */
export interface RatioGate {
  readonly kind: 'ratio'
  /** What the gate stands for, e.g. 'mirrored POST CPU/req'. */
  readonly label: string
  readonly subject: string
  readonly baseline: string
  readonly metric: RatioMetric
  /** The ratio must be at least this (req/s). */
  readonly min?: number
  /** The ratio must be at most this (p99, CPU/req). */
  readonly max?: number
}

/** A pass/fail line on one of a target's own counters, summed over its measured runs. */
export interface CountGate {
  readonly kind: 'count'
  readonly label: string
  readonly target: string
  /** A key of the target's counters, e.g. 'mirror.skipped' (bench/cutover.ts). */
  readonly counter: string
  readonly max: number
}

export type Gate = RatioGate | CountGate

export interface Scenario {
  /** Used in BENCH_SCENARIOS and as the JSON key. */
  readonly name: string
  readonly title: string
  readonly request: RequestSpec
  readonly targets: readonly TargetSpec[]
  /** [subject, baseline] pairs printed as ratios under the table. */
  readonly compare: readonly (readonly [string, string])[]
  readonly gates?: readonly Gate[]
  /**
   * 'saturated' (the default): autocannon, closed loop, every connection sends as soon as its last
   * answer came. 'fixed-rate': open loop (lib/open-loop.ts) at the run's fixed rate, half the
   * mirror-off POST saturation measured at the start of the run (`FIXED_RATE` in fixed-rate.ts).
   */
  readonly load?: 'saturated' | 'fixed-rate'
  /** Print the share of upstream requests each origin served (weighted routes). */
  readonly showSplit?: boolean
  /**
   * Print, per target, the requests each origin saw over its measured runs next to the responses
   * the client got, and Cutover's own mirror / cache counters (dual-write, cache).
   */
  readonly showUpstream?: boolean
}

/**
 * The pass-through route of the `get` and `post` scenarios: weight 0 (legacy only), mirror off.
 * Variants spread it and change one option, so the comparison is that option alone; a target with
 * exactly this route shares its Cutover process with the other scenarios that use it.
 */
export const PASS_ROUTE: RouteInput = { id: 'pass', methods: ['GET', 'POST'], path: '/api/*', weight: 0, mirror: 'off' }

/**
 * The four targets most scenarios run: no proxy, two baselines, Cutover with `routes`. Run order
 * is this order (reversed every other round), so bare and Cutover, the gated pair, always run
 * back to back.
 */
export function standardTargets(routes: readonly RouteInput[]): TargetSpec[] {
  return [
    { id: 'origin', kind: 'origin' },
    { id: 'undici', kind: 'undici' },
    { id: 'bare', kind: 'bare' },
    { id: 'cutover', kind: 'cutover', routes },
  ]
}

export const STANDARD_COMPARE: readonly (readonly [string, string])[] = [
  ['cutover', 'bare'],
  ['cutover', 'undici'],
]
