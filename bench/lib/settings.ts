/**
 * The bench's knobs, read once from the environment. A value that is not a number in range is
 * refused with the variable's name, never silently replaced by the default.
 */

export interface BenchSettings {
  /** Measured seconds per run. */
  readonly duration: number
  /** Unmeasured seconds before a process's first measured run in the bench run (JIT, pools, connections). */
  readonly warmup: number
  /** Unmeasured seconds before its later runs, in this scenario or a later one: the process is hot. */
  readonly rewarm: number
  readonly connections: number
  readonly pipelining: number
  /** Interleaved rounds per scenario; medians are taken across them. */
  readonly rounds: number
  /** Scenario names to run; empty → all. */
  readonly scenarios: readonly string[]
  /** Target ids to run; empty → all of each scenario's. */
  readonly targets: readonly string[]
  /** Target kinds started with --cpu-prof (profiles land in bench/results/profiles). */
  readonly profile: readonly string[]
  /** BENCH_RATE: the fixed-rate scenarios' rate, req/s; null → half the measured mirror-off saturation. */
  readonly rate: number | null
}

// 3 scenarios × 4 targets + 2 saturated scenarios × 2 Cutover variants + 4 fixed-rate scenarios
// × 2 (3 with Kafka), × 3 rounds of these, fit a 4-minute budget with the process start-ups
export const DEFAULTS = Object.freeze({ duration: 2, warmup: 2, rewarm: 0.5, connections: 50, pipelining: 1, rounds: 3 })

function num(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number, integer: boolean): number {
  const raw = env[name]
  if (raw === undefined || raw.trim() === '') return fallback
  const n = Number(raw)
  if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    throw new Error(`${name}=${raw}: must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}`)
  }
  return n
}

function list(env: NodeJS.ProcessEnv, name: string): string[] {
  const raw = env[name]
  if (raw === undefined) return []
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
}

export function readSettings(env: NodeJS.ProcessEnv = process.env): BenchSettings {
  return {
    // bounded, so a typo cannot turn a bench into a soak test
    duration: num(env, 'BENCH_DURATION', DEFAULTS.duration, 1, 120, false),
    warmup: num(env, 'BENCH_WARMUP', DEFAULTS.warmup, 0, 30, false),
    rewarm: num(env, 'BENCH_REWARM', DEFAULTS.rewarm, 0, 30, false),
    connections: num(env, 'BENCH_CONNECTIONS', DEFAULTS.connections, 1, 1000, true),
    pipelining: num(env, 'BENCH_PIPELINING', DEFAULTS.pipelining, 1, 64, true),
    rounds: num(env, 'BENCH_ROUNDS', DEFAULTS.rounds, 1, 20, true),
    scenarios: list(env, 'BENCH_SCENARIOS'),
    targets: list(env, 'BENCH_TARGETS'),
    profile: list(env, 'BENCH_PROFILE'),
    rate: env.BENCH_RATE === undefined || env.BENCH_RATE.trim() === '' ? null : num(env, 'BENCH_RATE', 0, 1, 100_000, true),
  }
}
