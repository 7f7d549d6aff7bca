import type { Logger } from 'pino'
import type { Dispatcher } from 'undici'
import type { ReplayEvent } from '../publish/events.ts'
import type { Publisher } from '../publish/publisher.ts'
import { REDACTED } from '../publish/redact.ts'
import type { Upstream } from '../proxy/upstreams.ts'
import type { Journal, JournalJob } from './journal.ts'

export interface RecoveryDeps {
  readonly journal: Journal
  readonly publisher: Publisher
  readonly upstreams: ReadonlyMap<string, Upstream>
  readonly log: Logger
  /** resends in flight at once (limits.mirrorInFlight) */
  readonly concurrency: number
}

const SKIP_HEADERS = new Set(['host', 'content-length'])

/**
 * Finishes the jobs a previous run left in the journal, in the background while the gateway
 * serves: a `send` job is resent to its secondary with its original Idempotency-Key and
 * x-request-id (the secondary may already have it: the key makes the repeat harmless); one the
 * secondary does not take, and every `publish` job, goes to the replay topic. Each job is marked
 * done once the secondary answered or its replay event is durable. Stopped at shutdown, the jobs
 * not finished yet stay in the journal for the next start.
 */
export class JournalRecovery {
  readonly #deps: RecoveryDeps
  readonly #abort = new AbortController()
  readonly finished: Promise<{ resent: number; replayed: number }>

  constructor(jobs: readonly JournalJob[], deps: RecoveryDeps) {
    this.#deps = deps
    this.finished = this.#run(jobs)
  }

  async stop(): Promise<void> {
    this.#abort.abort()
    await this.finished
  }

  async #run(jobs: readonly JournalJob[]): Promise<{ resent: number; replayed: number }> {
    const counts = { resent: 0, replayed: 0 }
    if (jobs.length === 0) return counts
    const { log } = this.#deps
    log.info({ jobs: jobs.length }, 'mirror journal: recovering unfinished mirrored writes')
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < jobs.length && !this.#abort.signal.aborted) {
        const job = jobs[next++] as JournalJob
        if (await this.#recover(job)) counts.resent++
        else if (!this.#abort.signal.aborted) counts.replayed++
      }
    }
    await Promise.all(Array.from({ length: Math.min(this.#deps.concurrency, jobs.length) }, worker))
    log.info({ ...counts, stopped: this.#abort.signal.aborted }, 'mirror journal: recovery finished')
    return counts
  }

  /** True when the secondary took the write; false when it went (or, stopped, will go) to replay. */
  async #recover(job: JournalJob): Promise<boolean> {
    const { journal, publisher, upstreams } = this.#deps
    const event = job.event
    const upstream = upstreams.get(event.backend)
    let reason: ReplayEvent['reason'] = event.reason
    if (job.mode === 'send' && upstream !== undefined) {
      const result = await resend(upstream, event, this.#abort.signal)
      if (result === 'ok') {
        journal.done(event.id)
        journal.metrics.jobs.labels('resent').inc()
        return true
      }
      // shutting down: the job stays open in the journal
      if (this.#abort.signal.aborted) return false
      reason = result
    }
    journal.metrics.jobs.labels('replayed').inc()
    publisher.publish('replay', event.route, { ...event, reason, time: new Date().toISOString() }, () => journal.done(event.id))
    return false
  }
}

/** Resends one journalled write; 'ok' for any answer below 500 (a 4xx is the secondary's considered answer). */
async function resend(upstream: Upstream, event: ReplayEvent, signal: AbortSignal): Promise<'ok' | 'secondary-error' | 'secondary-timeout'> {
  const headers: string[] = []
  for (const [k, v] of Object.entries(event.headers)) if (v !== REDACTED && !SKIP_HEADERS.has(k)) headers.push(k, v)
  const body = event.body === '' ? null : Buffer.from(event.body, 'base64')
  if (body !== null) headers.push('content-length', String(body.length))
  // tells the secondary (and its logs) that this is a resend after a gateway restart
  headers.push('x-cutover-recovered', '1')
  try {
    const res = await upstream.mirrorPool.request({
      method: event.method as Dispatcher.HttpMethod,
      path: event.path,
      headers,
      body,
      headersTimeout: upstream.timeoutMs,
      bodyTimeout: upstream.timeoutMs,
      signal: AbortSignal.any([signal, AbortSignal.timeout(upstream.timeoutMs)]),
    })
    await res.body.dump()
    return res.statusCode < 500 ? 'ok' : 'secondary-error'
  } catch (err) {
    const e = err as Error & { code?: string }
    return e.name === 'TimeoutError' || e.code === 'UND_ERR_HEADERS_TIMEOUT' || e.code === 'UND_ERR_BODY_TIMEOUT' ? 'secondary-timeout' : 'secondary-error'
  }
}
