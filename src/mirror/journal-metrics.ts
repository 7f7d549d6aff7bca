import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

/** Records per fsync: 1 at low load, growing with load (group commit). */
export const JOURNAL_BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]
/** Time of one batch's write + fsync, in seconds. */
export const JOURNAL_SYNC_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1]

export type JournalOutcome = 'journalled' | 'full' | 'failed' | 'recovered' | 'resent' | 'replayed'

export interface JournalMetrics {
  readonly jobs: Counter<'outcome'>
  readonly batch: Histogram
  readonly sync: Histogram
}

/** The mirror journal's metrics (docs/metrics.md); gauges read the journal at scrape time. */
export function createJournalMetrics(registry: Registry, source: { readonly pending: number; readonly bytes: number }): JournalMetrics {
  new Gauge({
    name: 'cutover_journal_pending',
    help: 'Mirrored writes journalled and not yet finished (secondary answered or replay event durable)',
    registers: [registry],
    collect() {
      this.set(source.pending)
    },
  })
  new Gauge({
    name: 'cutover_journal_bytes',
    help: 'Bytes of mirror journal files on disk',
    registers: [registry],
    collect() {
      this.set(source.bytes)
    },
  })
  const jobs = new Counter({
    name: 'cutover_journal_jobs_total',
    help: 'Mirror journal jobs by outcome: journalled, full (not journalled: journal.maxBytes reached), failed (write or fsync failed), recovered (unfinished at start), resent / replayed (a recovered job sent to the secondary / published for replay)',
    labelNames: ['outcome'],
    registers: [registry],
  })
  for (const outcome of ['journalled', 'full', 'failed', 'recovered', 'resent', 'replayed'] as const) jobs.labels(outcome)
  return {
    jobs,
    batch: new Histogram({ name: 'cutover_journal_fsync_batch_records', help: 'Records written per journal fsync', buckets: JOURNAL_BATCH_BUCKETS, registers: [registry] }),
    sync: new Histogram({ name: 'cutover_journal_fsync_seconds', help: 'Time to write and fsync one journal batch', buckets: JOURNAL_SYNC_BUCKETS, registers: [registry] }),
  }
}
