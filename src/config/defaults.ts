/** Defaults, named so docs and tests can refer to them. */
export const DEFAULT_LISTEN_HOST = '0.0.0.0'
export const DEFAULT_LISTEN_PORT = 8080
/** listen.tls: how often the certificate and key files are checked for a change (stat, no read). */
export const DEFAULT_TLS_RELOAD_INTERVAL_MS = 1000
export const DEFAULT_ADMIN_HOST = '127.0.0.1'
export const DEFAULT_ADMIN_PORT = 9901
export const DEFAULT_TIMEOUT_MS = 5000
/** A backend's pool for mirrored calls, apart from client traffic; past it mirrored calls queue (bounded by limits.mirrorInFlight). */
export const DEFAULT_MIRROR_CONNECTIONS = 128
export const DEFAULT_CONNECTIONS = 128
export const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 4_000
/** Passive health of a backend's endpoints (`urls`): consecutive connection failures that eject one, and for how long. */
export const DEFAULT_HEALTH_FAILURES = 3
export const DEFAULT_HEALTH_EJECT_MS = 10_000
export const DEFAULT_BODY_BYTES = 1_048_576
export const DEFAULT_MIRROR_BODY_BYTES = 262_144
export const DEFAULT_MIRROR = 'writes'
export const DEFAULT_READ_SAMPLE = 1
export const DEFAULT_WEIGHT = 0
export const DEFAULT_FALLBACK = 'legacy'
export const DEFAULT_SPOOL_DIR = '.cutover/spool'
export const DEFAULT_SPOOL_MAX_BYTES = 1024 * 1024 * 1024
export const DEFAULT_QUEUE_SIZE = 10_000
export const DEFAULT_JOURNAL_MAX_BYTES = 256 * 1024 * 1024
export const DEFAULT_JOURNAL_SEGMENT_BYTES = 16 * 1024 * 1024
export const DEFAULT_COMPARE_BODY_BYTES = 1_048_576
export const DEFAULT_MIRROR_IN_FLIGHT = 256
export const DEFAULT_CACHE_BYTES = 64 * 1024 * 1024
export const DEFAULT_STATE_FILE = '.cutover/state.json'
export const DEFAULT_DRAIN_TIMEOUT_MS = 10_000
export const DEFAULT_TOPICS = Object.freeze({
  diffs: 'cutover.diffs',
  replay: 'cutover.replay',
  control: 'cutover.control',
  audit: 'cutover.audit',
  ids: 'cutover.ids',
  noise: 'cutover.noise',
  readiness: 'cutover.readiness',
  replayDead: 'cutover.replay.dead',
  replayDone: 'cutover.replay.done',
})
/** Id pairs kept (all maps together); past it the oldest pair is forgotten. */
export const DEFAULT_ID_MAX_PAIRS = 1_000_000
/** `cutover replay`: tries of one event in a run before it is dead-lettered */
export const DEFAULT_REPLAY_MAX_ATTEMPTS = 5
export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const

/**
 * Why a ladder of ramp steps is unusable, or undefined when it is fine. Here rather than in
 * src/resilience/ramp.ts (which re-exports it) so that the config schema imports no module that
 * imports the schema back.
 */
export function rampStepsProblem(steps: readonly number[]): string | undefined {
  if (steps.length === 0) return 'must list at least one step'
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i] as number
    if (!Number.isInteger(s) || s < 1 || s > 100) return `step ${s} must be an integer from 1 to 100`
    if (i > 0 && s <= (steps[i - 1] as number)) return `must be strictly increasing (${steps[i - 1]} then ${s})`
  }
  return undefined
}

/** A route's readiness thresholds (docs/readiness.md); src/readiness/readiness.ts re-exports them. */
export interface ReadinessThresholds {
  /** evidence needed before a verdict other than `hold`: compared exchanges in shadow, cloud requests after */
  readonly minRequests: number
  /** mismatches ÷ compared above this holds the route */
  readonly maxMismatchRate: number
  /** cloud error rate minus legacy error rate above this says roll back */
  readonly maxErrorRateDelta: number
  /** cloud p99 ÷ legacy p99 above this says roll back */
  readonly maxLatencyRatio: number
}

export const DEFAULT_READINESS: ReadinessThresholds = Object.freeze({ minRequests: 100, maxMismatchRate: 0.01, maxErrorRateDelta: 0.01, maxLatencyRatio: 2 })
