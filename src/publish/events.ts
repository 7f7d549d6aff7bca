/** Versioned event shapes on the Kafka topics (docs/events.md). */

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
  differences: { path: string; [backend: string]: unknown }[]
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
  /** 'unknown': the primary may or may not have applied this write (client abort, deadline, reset after send) */
  outcome?: 'unknown'
}

export type Topic = 'diffs' | 'replay' | 'control' | 'audit'

export interface OutgoingRecord {
  topic: Topic
  key: string
  value: unknown
  /** called once the record is durable: acknowledged by Kafka or fsync'd in the spool (never serialised) */
  durable?: () => void
}
