import type { Logger } from 'pino'
import type { RampHold, RouteState } from './route-state.ts'

export interface AuditRecord {
  readonly time: string
  readonly who: string
  readonly action: 'patch' | 'rollback' | string
  readonly route: string
  readonly before: RouteState
  readonly after: RouteState
  /** the ramp hold the change set (with `state.shared`: pause, resume, guard trip, rollback) */
  readonly ramp?: RampHold
  /** the replica the change came from (with `state.shared`) */
  readonly replica?: string
  /** the control request that made the change (with `state.shared`) */
  readonly request?: string
}

export type AuditSink = (record: AuditRecord) => void

/**
 * Every change to a route's state goes through here: one structured log line (`audit: true`), a
 * bounded in-memory history for the admin API, and any extra sinks (a Kafka topic, later).
 */
export class AuditLog {
  readonly #log: Logger
  readonly #recent: AuditRecord[] = []
  readonly #limit: number
  readonly #sinks: AuditSink[] = []
  /** set with `state.shared`: every record this process makes names it */
  replica: string | undefined

  constructor(log: Logger, limit = 1000) {
    this.#log = log
    this.#limit = limit
  }

  addSink(sink: AuditSink): void {
    this.#sinks.push(sink)
  }

  record(entry: Omit<AuditRecord, 'time'>): AuditRecord {
    const record: AuditRecord = { time: new Date().toISOString(), ...entry, ...(this.replica === undefined ? {} : { replica: this.replica }) }
    this.#recent.push(record)
    if (this.#recent.length > this.#limit) this.#recent.shift()
    this.#log.info({ audit: record }, `route ${record.route}: ${record.action} by ${record.who}`)
    for (const sink of this.#sinks) sink(record)
    return record
  }

  /**
   * Keeps a record another process made (read from the audit topic) without passing it to the
   * sinks again: with `state.shared`, GET /audit lists the whole fleet's changes.
   */
  ingest(record: AuditRecord): void {
    this.#recent.push(record)
    if (this.#recent.length > this.#limit) this.#recent.shift()
    this.#log.debug({ audit: record }, `route ${record.route}: ${record.action} by ${record.who} (from the audit topic)`)
  }

  /** Newest first. */
  recent(limit = 100): AuditRecord[] {
    return this.#recent.slice(-limit).reverse()
  }
}
