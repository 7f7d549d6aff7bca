/** The shape of bench/results/latest.json. */
import type { Gate, RequestSpec, TargetKind } from '../scenarios/types.ts'
import type { BenchSettings } from './settings.ts'
import type { LoadResult } from './load.ts'

export interface RunRecord {
  readonly round: number
  /** Position within its round (targets alternate direction each round). */
  readonly position: number
  readonly load: LoadResult
  /** CPU time of the target's own process during the measured run, µs. */
  readonly cpuMicros: number
  readonly cpuPerReq: number
  /** Both origins' CPU per upstream request (for the origin target: the same process as cpuPerReq). */
  readonly originCpuPerReq: number
  /** This process (autocannon) CPU per request: the load generator shares the 2 cores. */
  readonly loadgenCpuPerReq: number
  /** Requests each origin saw during the measured run. */
  readonly upstream: { readonly legacy: number; readonly cloud: number }
  /** Change in the target's own counters during the measured run (Cutover: `mirror.match`, `cache.hit`, …). */
  readonly counters: Readonly<Record<string, number>>
  /** Cores' worth of CPU used by processes outside the bench during the run (null off Linux). */
  readonly otherCores: number | null
  /** otherCores above the threshold: left out of the medians when the target has a clean run. */
  readonly noisy: boolean
  readonly warmup: { readonly requests: number; readonly non2xx: number; readonly errors: number; readonly unanswered: number } | null
  readonly valid: boolean
  readonly problems: readonly string[]
}

export interface TargetSummary {
  readonly id: string
  readonly kind: TargetKind
  readonly process: string
  readonly pid: number | undefined
  /** The path and query it was asked (the scenario's, or the target's own). */
  readonly path: string
  readonly runs: readonly RunRecord[]
  /** Medians over the clean runs (all runs when none was clean). */
  readonly median: {
    readonly rps: number
    readonly p50Ms: number
    readonly p99Ms: number
    /** Fixed-rate runs: p99 from each request's due time (NaN for saturated runs). */
    readonly p99FromDueMs: number
    readonly cpuPerReq: number
    readonly originCpuPerReq: number
    readonly loadgenCpuPerReq: number
    /** Share of upstream requests the cloud origin served, 0..1. */
    readonly cloudShare: number
    readonly otherCores: number
  }
  /** (max − min) ÷ median of req/s across rounds. */
  readonly rpsSpread: number
  readonly cpuSpread: number
  /** Runs without noticeable outside load; the medians use only these when there is one. */
  readonly cleanRuns: number
  readonly usedRounds: readonly number[]
  /** Sums over all measured runs, noisy or not: client responses, origin requests, own counters. */
  readonly totals: {
    readonly responses: number
    readonly legacy: number
    readonly cloud: number
    readonly counters: Readonly<Record<string, number>>
  }
  readonly valid: boolean
}

/** subject ÷ baseline within one round. */
export interface RoundRatio {
  readonly round: number
  readonly rps: number
  readonly p50: number
  readonly p99: number
  readonly cpuPerReq: number
  /** Either run was noisy. */
  readonly noisy: boolean
}

/** subject ÷ baseline round by round, and the median of those over the clean rounds. */
export interface Comparison {
  readonly subject: string
  readonly baseline: string
  readonly rounds: readonly RoundRatio[]
  /** Rounds the medians below are taken over: those where neither run was noisy, else all. */
  readonly usedRounds: readonly number[]
  readonly cleanRounds: number
  readonly rps: number
  readonly p50: number
  readonly p99: number
  readonly cpuPerReq: number
  readonly valid: boolean
}

export type GateResult = Gate & {
  readonly scenario: string
  /** The ratio (RatioGate) or the count (CountGate) the bound was checked against. */
  readonly value: number
  /** Ratio gates: the lowest and highest per-round ratio the median is taken over (null for counts or one round). */
  readonly range: readonly [number, number] | null
  /** Ratio gates: rounds where neither run was noisy, of all rounds (null for counts). */
  readonly clean: { readonly rounds: number; readonly of: number } | null
  readonly pass: boolean
  /** Why it failed besides the bound: an INVALID run, a counter the target did not report. */
  readonly problems: readonly string[]
}

/** The rate of the fixed-rate scenarios, found once per run (scenarios/fixed-rate.ts). */
export interface FixedRate {
  /** Requests per second every fixed-rate run is asked for. */
  readonly rate: number
  readonly source: 'measured' | 'BENCH_RATE'
  /** The saturated mirror-off req/s it is a fraction of (null with BENCH_RATE). */
  readonly saturatedRps: number | null
  /** Where that came from: `dual-write/mirror-off` (its median), or a calibration run of its own. */
  readonly measuredBy: string | null
  /** That calibration run, when there was one. */
  readonly saturated?: LoadResult
}

export interface ScenarioResult {
  readonly name: string
  readonly title: string
  readonly request: RequestSpec
  readonly showSplit: boolean
  readonly showUpstream: boolean
  /** Fixed-rate scenarios: the rate every run was asked for; null when saturated. */
  readonly rate: number | null
  readonly targets: readonly TargetSummary[]
  readonly comparisons: readonly Comparison[]
  /** The scenario's gates whose targets ran. */
  readonly gates: readonly GateResult[]
}

export interface BenchResult {
  readonly startedAt: string
  readonly finishedAt: string
  readonly wallSeconds: number
  readonly machine: { readonly node: string; readonly platform: string; readonly cpus: number; readonly cpuModel: string; readonly loadavg: readonly number[] }
  readonly commit: string | null
  /** Files under src/ (and the package manifests) that differed from HEAD when the run started. */
  readonly uncommitted: readonly string[]
  readonly settings: BenchSettings
  /** null when no fixed-rate scenario ran. */
  readonly fixedRate: FixedRate | null
  readonly scenarios: readonly ScenarioResult[]
}
