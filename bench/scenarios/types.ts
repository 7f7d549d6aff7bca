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
}

export interface RequestSpec {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
  /** Path and query; every target is asked the same. */
  readonly path: string
  readonly headers?: Readonly<Record<string, string>>
  readonly body?: string
}

/** A pass/fail line under the table: `subject` against `baseline`, on the bounds it names. */
export interface Gate {
  readonly subject: string
  readonly baseline: string
  /** subject req/s ÷ baseline req/s must be at least this. */
  readonly minRps?: number
  /** subject CPU/req ÷ baseline CPU/req must be at most this. */
  readonly maxCpu?: number
  /** subject p99 ÷ baseline p99 must be at most this. */
  readonly maxP99?: number
}

export interface Scenario {
  /** Used in BENCH_SCENARIOS and as the JSON key. */
  readonly name: string
  readonly title: string
  readonly request: RequestSpec
  readonly targets: readonly TargetSpec[]
  /** [subject, baseline] pairs printed as ratios under the table. */
  readonly compare: readonly (readonly [string, string])[]
  readonly gate?: Gate
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
