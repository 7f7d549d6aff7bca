import type { ServerResponse } from 'node:http'
import type { Dispatcher } from 'undici'
import type { IncomingHttpHeaders } from 'node:http'
import type { Logger } from 'pino'
import { CutoverError } from '../errors.ts'
import { stripResponseHeaders } from './headers.ts'
import { sendGatewayError } from './errors-reply.ts'
import { responseGone } from './http2-compat.ts'
import { classifyUpstreamError, nothingSent, upstreamErrorReason, type UpstreamErrorReason } from './upstream-error.ts'
import type { RouteMetrics } from './route-metrics.ts'
import { BodyCollector } from '../compare/captured-response.ts'
import type { BodyCapture } from '../mirror/body-capture.ts'
import type { Mirror, MirrorJob } from '../mirror/mirror.ts'
import type { BreakerTicket } from '../resilience/breaker.ts'
import { serveEntry, type CacheTap } from './cache-serve.ts'
import type { BackendUrls } from './backend-urls.ts'
import type { ResponseTransform } from '../transform/response-transform.ts'

/**
 * A journalled write's answer is held (not sent) until its journal record is durable; past this
 * many bytes it streams on, all but its last chunk, which the client cannot complete without.
 */
export const HOLD_ANSWER_BYTES = 65_536

/** A journalled write's answer not sent yet: the head (null once sent), then the chunks. */
interface HeldAnswer {
  head: IncomingHttpHeaders | null
  readonly chunks: Buffer[]
  bytes: number
}

/** What a mirrored exchange carries besides the client answer. */
export interface MirrorTap {
  readonly mirror: Mirror
  readonly job: MirrorJob
  /** the request body's copy, when it had one */
  readonly capture: BodyCapture | null
  readonly collector: BodyCollector
}

/** Resends a request that got no answer from its backend to the route's other side. */
export interface Failover {
  /** a safe method (RFC 9110 §9.2.1): resent after any failure but a deadline; otherwise only when the request never reached the backend */
  readonly safe: boolean
  /** false when the other side cannot take it now (its breaker is open) */
  available(): boolean
  resend(): void
}

/**
 * Streams one primary answer to the client: an undici dispatch handler writing straight into the
 * client's ServerResponse, with backpressure both ways, an end-to-end deadline that also covers
 * time spent queued for a pooled connection, and gateway-made errors when nothing was sent yet.
 */
export class ClientExchange implements Dispatcher.DispatchHandler {
  readonly #res: ServerResponse
  readonly #backend: string
  readonly #requestId: string
  readonly #metrics: RouteMetrics
  readonly #start: number
  readonly #log: Logger
  readonly #route: string
  #controller: Dispatcher.DispatchController | null = null
  #timer: NodeJS.Timeout | null = null
  #done = false
  #status = 0
  #tap: MirrorTap | null = null
  #ticket: BreakerTicket | null = null
  #cacheTap: CacheTap | null = null
  /** a write's client-facing path: its cached reads are dropped again once it has an answer */
  #invalidate: { cache: CacheTap['cache']; path: string } | null = null
  /** Resend to the other backend when this one fails before the client got anything. */
  failover: Failover | null = null
  #headers: IncomingHttpHeaders | null = null
  /** a journalled write's answer, held until its record is durable: the head, then the chunks not sent yet */
  #held: HeldAnswer | null = null
  /** the backend's address in URL-bearing answer headers becomes the client's (see backend-urls.ts) */
  #urls: { rewriter: BackendUrls; client: string; hostname: string } | null = null
  /** the route's reshaping of this backend's answers (src/transform/) */
  #transform: ResponseTransform | null = null
  #transformLimit = 0
  /** a JSON answer held whole until its end, to be reshaped; null while streaming */
  #reshaping: { headers: IncomingHttpHeaders; body: BodyCollector } | null = null

  constructor(res: ServerResponse, backend: string, route: string, requestId: string, metrics: RouteMetrics, start: number, deadlineMs: number, log: Logger) {
    this.#res = res
    this.#backend = backend
    this.#route = route
    this.#requestId = requestId
    this.#metrics = metrics
    this.#start = start
    this.#log = log
    this.#timer = setTimeout(this.#onDeadline, deadlineMs)
    res.once('close', this.#onClientClose)
  }

  /** Makes this exchange feed the mirror: the primary's answer is captured (bounded) as it streams. */
  tap(tap: MirrorTap): void {
    this.#tap = tap
  }

  /** Fills the read cache from this answer (leader of a miss), or serves stale if it fails. */
  fillCache(tap: CacheTap): void {
    this.#cacheTap = tap
  }

  /** Reshapes this backend's answer before the client (and the comparison) sees it; `limit` bounds a held body. */
  transformWith(transform: ResponseTransform, limit: number): void {
    this.#transform = transform
    this.#transformLimit = limit
  }

  /** Rewrites the backend's address in Location, Content-Location, Link and Set-Cookie to `client`. */
  rewriteUrls(rewriter: BackendUrls, client: string, hostname: string): void {
    this.#urls = { rewriter, client, hostname }
  }

  /** Drops the cached reads of `path` again when this write has its answer. */
  invalidateAfter(cache: CacheTap['cache'], path: string): void {
    this.#invalidate = { cache, path }
  }

  /**
   * The backend failed (5xx, transport error, deadline) and the cache holds an expired copy
   * inside its stale-if-error window: serve that instead. True when it did.
   */
  #serveStale(): boolean {
    const tap = this.#cacheTap
    if (tap === null || tap.lookup.entry === null || this.#res.headersSent) return false
    this.#cacheTap = null
    tap.fill?.complete(null)
    tap.counters.stale.inc()
    this.#done = true
    this.#clearTimer()
    this.#metrics.recordServed(tap.lookup.entry.status, (performance.now() - this.#start) / 1000)
    serveEntry(this.#res, tap.lookup.entry, 'stale', this.#requestId, tap.cache, false)
    return true
  }

  #cacheDone(): void {
    if (this.#invalidate !== null) {
      this.#invalidate.cache.invalidate(this.#invalidate.path)
      this.#invalidate = null
    }
    const tap = this.#cacheTap
    if (tap === null) return
    this.#cacheTap = null
    tap.fill?.complete(null)
  }

  /** The backend's breaker learns this call's outcome. */
  guard(ticket: BreakerTicket): void {
    this.#ticket = ticket
  }

  #settle(failure: Error | null): void {
    const t = this.#ticket
    if (t === null) return
    this.#ticket = null
    if (failure === null) t.success()
    else t.failure(failure)
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller
    // the deadline or the client may have given up while the request was still queued
    if (this.#done) controller.abort(new CutoverError('CUTOVER_UPSTREAM_TIMEOUT'))
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    if (this.#done) return
    this.#clearTimer()
    this.#status = statusCode
    if (this.#ticket !== null) this.#settle(statusCode >= 500 ? new Error(`upstream answered ${statusCode}`) : null)
    if (this.#cacheTap !== null) {
      if (statusCode >= 500 && this.#serveStale()) {
        this.#hiddenFailure('5xx')
        // the rest of this answer is not wanted
        controller.abort(new Error('served stale'))
        return
      }
      this.#cacheTap.counters.miss.inc()
      headers['x-cutover-cache'] = 'miss'
    }
    // passed through: the client's 5xx, recorded when it ends, is what the guard sees
    if (statusCode >= 500) this.#metrics.upstreamError('5xx', false)
    stripResponseHeaders(headers)
    if (this.#urls !== null && this.#urls.rewriter.rewrite(headers, this.#urls.client, this.#urls.hostname) && this.#cacheTap !== null) {
      // the answer now names this client's Host, which the cache key does not hold: never cache
      // it, or one client's Host would reach every other (cache poisoning)
      this.#cacheTap.fill?.complete(null)
      this.#cacheTap = null
    }
    headers['x-request-id'] = this.#requestId
    headers['x-cutover-backend'] = this.#backend
    if (this.#transform !== null) {
      this.#status = this.#transform.head(statusCode, headers)
      if (this.#transform.wantsBody(headers)) {
        // the body is reshaped at its end: nothing goes on until then
        this.#reshaping = { headers, body: new BodyCollector(this.#transformLimit) }
        return
      }
    }
    this.#begin(headers)
    if (this.#res.writableNeedDrain) controller.pause()
  }

  /** The head is final: the copy the taps keep, then the journal hold or the client's head. */
  #begin(headers: IncomingHttpHeaders): void {
    if (this.#tap !== null || this.#cacheTap !== null) this.#headers = { ...headers }
    if (this.#tap !== null && this.#tap.job.isWrite && this.#tap.mirror.journals) {
      this.#held = { head: headers, chunks: [], bytes: 0 }
      return
    }
    this.#res.writeHead(this.#status, headers)
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#done) return
    const r = this.#reshaping
    if (r !== null) {
      if (r.body.length + chunk.length <= this.#transformLimit) {
        r.body.push(chunk)
        return
      }
      // too large to reshape: what was held goes out as sent, then this chunk streams as usual
      this.#reshaping = null
      this.#log.warn({ route: this.#route, backend: this.#backend, requestId: this.#requestId, limit: this.#transformLimit }, 'answer too large to transform: passed through as sent')
      this.#begin(r.headers)
      this.#pass(null, r.body.body)
    }
    this.#pass(controller, chunk)
  }

  /** One piece of the answer's body on its way: to the taps, then held (journal) or to the client. */
  #pass(controller: Dispatcher.DispatchController | null, chunk: Buffer): void {
    this.#tap?.collector.push(chunk)
    this.#cacheTap?.collector.push(chunk)
    if (this.#held !== null) {
      this.#hold(controller, chunk)
      return
    }
    if (!this.#res.write(chunk) && controller !== null) {
      controller.pause()
      this.#res.once('drain', () => controller.resume())
    }
  }

  #hold(controller: Dispatcher.DispatchController | null, chunk: Buffer): void {
    const held = this.#held as HeldAnswer
    held.chunks.push(chunk)
    held.bytes += chunk.length
    if (held.bytes <= HOLD_ANSWER_BYTES) return
    this.#writeHeld(held, 1)
    if (this.#res.writableNeedDrain && controller !== null) {
      controller.pause()
      this.#res.once('drain', () => controller.resume())
    }
  }

  /** Sends the held head and all but `keep` held chunks. */
  #writeHeld(held: HeldAnswer, keep: number): void {
    if (held.head !== null) {
      this.#res.writeHead(this.#status, held.head)
      held.head = null
    }
    while (held.chunks.length > keep) this.#res.write(held.chunks.shift() as Buffer)
  }

  /** The journal record is durable (or failed: the primary has the write, so the client is answered either way). */
  readonly #release = (): void => {
    const held = this.#held
    if (held === null) return
    this.#held = null
    const now = performance.now()
    this.#metrics.record(this.#status, (now - this.#start) / 1000, now)
    if (responseGone(this.#res)) return
    this.#writeHeld(held, 0)
    this.#res.end()
  }

  onResponseEnd(): void {
    if (this.#done) return
    const r = this.#reshaping
    if (r !== null) {
      this.#reshaping = null
      const body = this.#transform?.body(r.body.body) ?? r.body.body
      r.headers['content-length'] = String(body.length)
      delete r.headers['transfer-encoding']
      this.#begin(r.headers)
      this.#pass(null, body)
    }
    const holding = this.#held !== null
    const latencyMs = holding ? this.#stop() : this.#finish(this.#status)
    if (!holding) this.#res.end()
    const fill = this.#cacheTap
    if (fill !== null) {
      this.#cacheTap = null
      const { collector } = fill
      const stored =
        collector.truncated || this.#headers === null
          ? null
          : fill.cache.store(fill.lookup, { method: 'GET', status: this.#status, headers: this.#headers, body: collector.body, backend: this.#backend }).entry
      fill.fill?.complete(stored)
    }
    if (this.#invalidate !== null) this.#cacheDone()
    const tap = this.#tap
    if (tap !== null) {
      settleJobBody(tap)
      const { collector } = tap
      const durable = tap.mirror.primaryAnswered(tap.job, {
        status: this.#status,
        headers: this.#headers ?? {},
        body: collector.body,
        length: collector.length,
        truncated: collector.truncated,
        latencyMs,
      })
      if (holding) {
        if (durable === null) this.#release()
        else void durable.then(this.#release)
      }
    }
  }

  /**
   * `why`: how the exchange failed. When the request had reached the primary in full, the primary
   * may have applied it, so the mirror is told the outcome is unknown.
   */
  #primaryFailed(why: string): void {
    const tap = this.#tap
    if (tap === null) return
    settleJobBody(tap)
    const sent = this.#controller !== null && (tap.capture === null || tap.capture.writableEnded)
    tap.mirror.primaryFailed(tap.job, sent ? why : null)
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    if (this.#done) return
    this.#settle(err)
    const code = classifyUpstreamError(err)
    // the client's own body was over the limit: nothing the backend did
    const backendFailed = code !== 'CUTOVER_BODY_TOO_LARGE'
    if (backendFailed && this.#serveStale()) {
      this.#hiddenFailure(upstreamErrorReason(err))
      this.#log.warn({ err, route: this.#route, backend: this.#backend, requestId: this.#requestId }, 'upstream failed; served stale from cache')
      return
    }
    this.#cacheDone()
    const f = this.failover
    if (f !== null && backendFailed && !this.#res.headersSent && code !== 'CUTOVER_UPSTREAM_TIMEOUT' && (f.safe || nothingSent(err)) && f.available()) {
      // nothing reached the client, and either the method is safe or nothing reached the backend:
      // the other side can take the request unchanged
      this.#done = true
      this.#clearTimer()
      this.#res.removeListener('close', this.#onClientClose)
      this.#hiddenFailure(upstreamErrorReason(err))
      this.#log.warn({ err, route: this.#route, backend: this.#backend, requestId: this.#requestId }, 'upstream failed; request sent to the other backend')
      f.resend()
      return
    }
    if (backendFailed) this.#metrics.upstreamError(upstreamErrorReason(err), false)
    const status = code === 'CUTOVER_BODY_TOO_LARGE' ? 413 : this.#res.headersSent ? this.#status : code === 'CUTOVER_UPSTREAM_TIMEOUT' ? 504 : 502
    this.#finish(status)
    if (code !== 'CUTOVER_BODY_TOO_LARGE') this.#log.warn({ err, route: this.#route, backend: this.#backend, requestId: this.#requestId }, 'upstream request failed')
    sendGatewayError(this.#res, code, this.#requestId, this.#backend, code === 'CUTOVER_BODY_TOO_LARGE')
    // undici's own headers/body timeout is the same deadline as ours (both backend timeoutMs): one wording
    if (code === 'CUTOVER_UPSTREAM_TIMEOUT') this.#primaryFailed('gateway deadline passed after the request was sent (504)')
    else if (code !== 'CUTOVER_BODY_TOO_LARGE') this.#primaryFailed(`primary failed after the request was sent: ${err.message}`)
  }

  /** The backend failed but the client is answered another way: the failure still counts against it. */
  #hiddenFailure(reason: UpstreamErrorReason): void {
    const now = performance.now()
    this.#metrics.upstreamError(reason, true, (now - this.#start) / 1000, now)
  }

  /** Records the outcome once; returns the exchange's latency in ms. */
  #finish(status: number): number {
    const ms = this.#stop()
    this.#metrics.record(status, ms / 1000, this.#start + ms)
    return ms
  }

  /** Ends the exchange without recording it yet (a held answer is recorded when released). */
  #stop(): number {
    this.#done = true
    this.#clearTimer()
    return performance.now() - this.#start
  }

  #clearTimer(): void {
    if (this.#timer !== null) {
      clearTimeout(this.#timer)
      this.#timer = null
    }
  }

  readonly #onDeadline = (): void => {
    this.#timer = null
    if (this.#done) return
    this.#settle(new CutoverError('CUTOVER_UPSTREAM_TIMEOUT'))
    // mark the exchange done before aborting: the abort reports back through onResponseError
    const stale = this.#serveStale()
    if (stale) this.#hiddenFailure('timeout')
    else {
      this.#metrics.upstreamError('timeout', false)
      this.#cacheDone()
      this.#finish(504)
    }
    this.#controller?.abort(new CutoverError('CUTOVER_UPSTREAM_TIMEOUT'))
    if (stale) return
    this.#log.warn({ route: this.#route, backend: this.#backend, requestId: this.#requestId }, 'upstream deadline passed')
    sendGatewayError(this.#res, 'CUTOVER_UPSTREAM_TIMEOUT', this.#requestId, this.#backend)
    this.#primaryFailed('gateway deadline passed after the request was sent (504)')
  }

  readonly #onClientClose = (): void => {
    if (this.#done) return
    // the client went away before the answer was complete: stop the upstream work too
    this.#finish(499)
    this.#cacheDone()
    this.#ticket?.release()
    this.#ticket = null
    this.#controller?.abort(new Error('client closed the connection'))
    this.#primaryFailed('client closed the connection after the request was sent (499)')
  }
}

/** The request body the mirror resends: the captured copy, or 'overflow' when it was too big. */
function settleJobBody(tap: MirrorTap): void {
  if (tap.capture !== null) tap.job.body = tap.capture.overflow ? 'overflow' : tap.capture.body
}
