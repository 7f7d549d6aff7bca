/** Versioned event shapes on the Kafka topics (docs/events.md). */
import type { DifferenceKind } from '../compare/json-diff.ts'

export const DIFF_SCHEMA = 'cutover.diff/v1'
export const REPLAY_SCHEMA = 'cutover.replay/v1'
export const AUDIT_SCHEMA = 'cutover.audit/v1'
export const ID_SCHEMA = 'cutover.id/v1'

export type DiffKind = 'mismatch' | 'secondary-error' | 'secondary-timeout' | 'not-mirrored' | 'primary-unknown'

export interface DiffEvent {
  schema: typeof DIFF_SCHEMA
  id: string
  time: string
  route: string
  method: string
  path: string
  requestId: string
  primary: string
  secondary: string
  kind: DiffKind
  status: Record<string, number | null>
  latencyMs: Record<string, number | null>
  /** the first differences in full (at most the route's compare.maxExamples) */
  differences: { path: string; kind: DifferenceKind; [backend: string]: unknown }[]
  /** every difference, counted by generalised path (`body.items[*].price`) and kind */
  fields: { path: string; kind: DifferenceKind; count: number }[]
  /** how many differences there were in all */
  total: number
  /** how many differences learned noise hid (counted, not listed) */
  noise: number
  /** true when `differences` does not show all `total`, or `fields` was cut */
  truncated: boolean
  /** for secondary-error / secondary-timeout / not-mirrored: why, in words */
  reason?: string
}

export interface ReplayEvent {
  schema: typeof REPLAY_SCHEMA
  id: string
  time: string
  route: string
  /** the backend the write must still reach */
  backend: string
  method: string
  /** path and query as the target backend expects them (rewrite applied) */
  path: string
  headers: Record<string, string>
  /** base64 */
  body: string
  idempotencyKey: string
  requestId: string
  reason: 'secondary-error' | 'secondary-timeout' | 'skipped' | 'primary-unknown'
  attempts: number
  /** the id the primary gave a created resource (routes with `ids.from`): a replayed create pairs it with the id the backend answers */
  primaryId?: string
  /** 'unknown': the primary may or may not have applied this write (client abort, deadline, reset after send) */
  outcome?: 'unknown'
}

/** One pair of ids on cutover.ids (compacted, key `${map}\0${legacy}`). */
export interface IdPairEvent {
  schema: typeof ID_SCHEMA
  map: string
  legacy: string
  cloud: string
  time: string
}

export const NOISE_SCHEMA = 'cutover.noise/v1'

/**
 * On the compacted `kafka.topics.noise` (with `state.shared`). A learned field, keyed
 * `${route}\0${field}`: `epoch` is the id of the last clear of the route its replica had read
 * (null before any), so a field learned before a clear never comes back after it.
 */
export interface NoiseFieldEvent {
  schema: typeof NOISE_SCHEMA
  route: string
  field: string
  epoch: string | null
  replica: string
  time: string
}

/** A clear of a route's learned noise, keyed by route: every replica forgets what it learned. */
export interface NoiseClearEvent {
  schema: typeof NOISE_SCHEMA
  route: string
  clear: string
  replica: string
  time: string
}

export type Topic = 'diffs' | 'replay' | 'control' | 'audit' | 'ids' | 'noise'

export interface OutgoingRecord {
  topic: Topic
  key: string
  value: unknown
  /** called once the record is durable: acknowledged by Kafka or fsync'd in the spool (never serialised) */
  durable?: () => void
}

export const REPLAY_DEAD_SCHEMA = 'cutover.replay.dead/v1'
export const REPLAY_DONE_SCHEMA = 'cutover.replay.done/v1'

/** Why `cutover replay` gave up on an event. */
export type DeadReason = 'refused' | 'attempts'

/** On `kafka.topics.replayDead`, keyed by route id: a replay event `cutover replay` gave up on. */
export interface ReplayDeadEvent {
  schema: typeof REPLAY_DEAD_SCHEMA
  /** the replay event's id */
  id: string
  time: string
  route: string
  backend: string
  /** `refused`: answered 400 or 422; `attempts`: every allowed resend failed */
  reason: DeadReason
  /** resends tried by the run that gave up */
  attempts: number
  /** the last answer's status, null when there was none (connection error, timeout) */
  status: number | null
  /** the last transport error, when there was no answer */
  error?: string
  /** the replay event as read, enough to resend it by hand */
  event: ReplayEvent
}

/** On the compacted `kafka.topics.replayDone`, keyed by event id: that event needs no more resends. */
export interface ReplayDoneRecord {
  schema: typeof REPLAY_DONE_SCHEMA
  id: string
  time: string
  route: string
  backend: string
  /** `sent`: the backend took it (2xx/3xx, or 409); `dead`: it is on the dead-letter topic */
  result: 'sent' | 'dead'
  status: number | null
}
