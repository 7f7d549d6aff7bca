/** Versioned event shapes on the Kafka topics (docs/events.md). */
import type { DifferenceKind } from '../compare/json-diff.ts'

export const DIFF_SCHEMA = 'cutover.diff/v1'
export const REPLAY_SCHEMA = 'cutover.replay/v1'
export const AUDIT_SCHEMA = 'cutover.audit/v1'

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
  reason: 'secondary-error' | 'secondary-timeout' | 'skipped'
  attempts: number
}

export type Topic = 'diffs' | 'replay' | 'control' | 'audit'

export interface OutgoingRecord {
  topic: Topic
  key: string
  value: unknown
}
