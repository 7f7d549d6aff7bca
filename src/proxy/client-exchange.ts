import type { ServerResponse } from 'node:http'
import type { Dispatcher } from 'undici'
import type { IncomingHttpHeaders } from 'node:http'
import type { Logger } from 'pino'
import { CutoverError } from '../errors.ts'
import { stripResponseHeaders } from './headers.ts'
import { sendGatewayError } from './errors-reply.ts'
import { classifyUpstreamError } from './upstream-error.ts'
import type { RouteMetrics } from './route-metrics.ts'
import type { BodyCollector } from '../compare/captured-response.ts'
import type { BodyCapture } from '../mirror/body-capture.ts'
import type { Mirror, MirrorJob } from '../mirror/mirror.ts'
import type { BreakerTicket } from '../resilience/breaker.ts'

/** What a mirrored exchange carries besides the client answer. */
export interface MirrorTap {
  readonly mirror: Mirror
  readonly job: MirrorJob
  /** the request body's copy, when it had one */
  readonly capture: BodyCapture | null
  readonly collector: BodyCollector
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
  /** For safe methods: resend to the other backend when this one fails before answering. */
  failover: (() => void) | null = null
  #headers: IncomingHttpHeaders | null = null

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
    stripResponseHeaders(headers)
    headers['x-request-id'] = this.#requestId
    headers['x-cutover-backend'] = this.#backend
    if (this.#tap !== null) this.#headers = { ...headers }
    this.#res.writeHead(statusCode, headers)
    if (this.#res.writableNeedDrain) controller.pause()
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#done) return
    this.#tap?.collector.push(chunk)
    if (!this.#res.write(chunk)) {
      controller.pause()
      this.#res.once('drain', () => controller.resume())
    }
  }

  onResponseEnd(): void {
    if (this.#done) return
    const latencyMs = this.#finish(this.#status)
    this.#res.end()
    const tap = this.#tap
    if (tap !== null) {
      tap.job.body = tap.capture === null ? tap.job.body : tap.capture.overflow ? 'overflow' : tap.capture.body
      const { collector } = tap
      tap.mirror.primaryAnswered(tap.job, {
        status: this.#status,
        headers: this.#headers ?? {},
        body: collector.body,
        length: collector.length,
        truncated: collector.truncated,
        latencyMs,
      })
    }
  }

  #primaryFailed(): void {
    const tap = this.#tap
    if (tap === null) return
    tap.job.body = tap.capture === null ? tap.job.body : tap.capture.overflow ? 'overflow' : tap.capture.body
    tap.mirror.primaryFailed(tap.job)
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    if (this.#done) return
    this.#settle(err)
    const code = classifyUpstreamError(err)
    if (this.failover !== null && !this.#res.headersSent && code !== 'CUTOVER_UPSTREAM_TIMEOUT') {
      // a safe request (RFC 9110 §9.2.1) that got no answer can go to the other side unchanged
      this.#done = true
      this.#clearTimer()
      this.#res.removeListener('close', this.#onClientClose)
      this.#log.warn({ err, route: this.#route, backend: this.#backend, requestId: this.#requestId }, 'upstream failed; read sent to the other backend')
      this.failover()
      return
    }
    const status = code === 'CUTOVER_BODY_TOO_LARGE' ? 413 : this.#res.headersSent ? this.#status : code === 'CUTOVER_UPSTREAM_TIMEOUT' ? 504 : 502
    this.#finish(status)
    if (code !== 'CUTOVER_BODY_TOO_LARGE') this.#log.warn({ err, route: this.#route, backend: this.#backend, requestId: this.#requestId }, 'upstream request failed')
    sendGatewayError(this.#res, code, this.#requestId, this.#backend, code === 'CUTOVER_BODY_TOO_LARGE')
    if (code !== 'CUTOVER_BODY_TOO_LARGE') this.#primaryFailed()
  }

  /** Records the outcome once; returns the exchange's latency in ms. */
  #finish(status: number): number {
    this.#done = true
    this.#clearTimer()
    const now = performance.now()
    const ms = now - this.#start
    this.#metrics.record(status, ms / 1000, now)
    return ms
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
    this.#finish(504)
    this.#settle(new CutoverError('CUTOVER_UPSTREAM_TIMEOUT'))
    this.#controller?.abort(new CutoverError('CUTOVER_UPSTREAM_TIMEOUT'))
    this.#log.warn({ route: this.#route, backend: this.#backend, requestId: this.#requestId }, 'upstream deadline passed')
    sendGatewayError(this.#res, 'CUTOVER_UPSTREAM_TIMEOUT', this.#requestId, this.#backend)
    this.#primaryFailed()
  }

  readonly #onClientClose = (): void => {
    if (this.#done) return
    // the client went away before the answer was complete: stop the upstream work too
    this.#finish(499)
    this.#ticket?.release()
    this.#ticket = null
    this.#controller?.abort(new Error('client closed the connection'))
    this.#primaryFailed()
  }
}
