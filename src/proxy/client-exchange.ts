import type { IncomingHttpHeaders, ServerResponse } from 'node:http'
import type { Dispatcher } from 'undici'
import type { Logger } from 'pino'
import { CutoverError } from '../errors.ts'
import { responseGone } from './http2-compat.ts'
import { BodyCollector } from '../compare/captured-response.ts'
import type { BreakerTicket } from '../resilience/breaker.ts'
import type { ResponseTransform } from '../transform/response-transform.ts'
import { hostnameOf, type BackendUrls } from './backend-urls.ts'
import { sendGatewayError } from './errors-reply.ts'
import { stripResponseHeaders } from './headers.ts'
import type { RouteMetrics } from './route-metrics.ts'
import { classifyUpstreamError, nothingSent, upstreamErrorReason, type UpstreamErrorReason } from './upstream-error.ts'
import type { CacheTap } from './stages/cache-tap.ts'
import { SAFE_METHODS, type ProxyRequest } from './stages/request.ts'
import type { MirrorTap } from './stages/tap.ts'

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

/** Resends a request that got no answer from its backend to the route's other side (the forward stage). */
export interface Failover {
  /** false when the other side cannot take it now (its breaker is open) */
  available(r: ProxyRequest): boolean
  resend(r: ProxyRequest): void
}

/**
 * Where an exchange is. It starts `sent` (dispatched, perhaps still queued for a connection) and
 * ends in exactly one of the finished states; callbacks that arrive after that do nothing.
 *
 *   sent ──head──▶ streaming ──end──▶ answered
 *     │    └─────▶ reshaping ──end──▶ streaming… (a transformed body, written whole)
 *     │    └─────▶ holding ───end──▶ held ──journal durable──▶ answered
 *     └─ any unfinished state ─▶ stale | refused | failed-over | client-gone
 */
export type ExchangeState =
  | 'sent'
  /** the head is in; the body is collected whole for the route's response transform */
  | 'reshaping'
  /** the head is written; the body streams to the client */
  | 'streaming'
  /** a journalled write: head and body held back until the journal record is durable */
  | 'holding'
  /** finished upstream, the answer complete but held; recorded and sent on release */
  | 'held'
  /** finished: the client has the backend's answer */
  | 'answered'
  /** finished: the backend failed and the client got the cache's stale copy */
  | 'stale'
  /** finished: a gateway error (502, 504, 413), or a cut connection once the head had gone */
  | 'refused'
  /** finished here: the request went to the other backend in a new exchange */
  | 'failed-over'
  /** finished: the client left before the answer was complete (499) */
  | 'client-gone'

const kExchange = Symbol('cutover.exchange')
type ExchangeResponse = ServerResponse & { [kExchange]?: ClientExchange }

/**
 * Streams one primary answer to the client: an undici dispatch handler writing straight into the
 * client's ServerResponse, with backpressure both ways, an end-to-end deadline that also covers
 * time spent queued for a pooled connection, and gateway-made errors when nothing was sent yet.
 * The cache and mirror taps (src/proxy/stages/cache.ts, tap.ts) see the answer as it passes.
 * docs/architecture.md places it in the request path.
 */
export class ClientExchange implements Dispatcher.DispatchHandler {
  readonly #request: ProxyRequest
  readonly #res: ServerResponse
  readonly #backend: string
  readonly #requestId: string
  readonly #metrics: RouteMetrics
  readonly #start: number
  readonly #log: Logger
  readonly #route: string
  #state: ExchangeState = 'sent'
  #controller: Dispatcher.DispatchController | null = null
  #timer: NodeJS.Timeout | null
  #status = 0
  #ticket: BreakerTicket | null = null
  /** the mirror's copy of the answer (a mirrored request) */
  mirror: MirrorTap | null = null
  /** a miss being filled from this answer */
  #cacheTap: CacheTap | null
  /** Resend to the other backend when this one fails before the client got anything. */
  failover: Failover | null = null
  /** the final head as the taps keep it */
  #headers: IncomingHttpHeaders | null = null
  #held: HeldAnswer | null = null
  /** the backend's address in URL-bearing answer headers becomes the client's (see backend-urls.ts) */
  readonly #urls: BackendUrls
  readonly #client: string | null
  /** the route's reshaping of this backend's answers (src/transform/) */
  readonly #transform: ResponseTransform | null
  readonly #transformLimit: number
  /** a JSON answer held whole until its end, to be reshaped */
  #reshaping: { headers: IncomingHttpHeaders; body: BodyCollector } | null = null

  constructor(r: ProxyRequest, log: Logger, transform: ResponseTransform | null, transformLimit: number) {
    this.#request = r
    this.#res = r.res
    this.#backend = r.upstream.name
    this.#route = r.routeId
    this.#requestId = r.requestId
    this.#metrics = r.metrics
    this.#start = r.start
    this.#log = log
    this.#urls = r.upstream.urls
    this.#client = r.client
    this.#cacheTap = r.cacheTap
    this.#transform = transform
    this.#transformLimit = transformLimit
    // module-level callbacks: no closure per request
    this.#timer = setTimeout(ClientExchange.#onTimer, r.upstream.timeoutMs, this)
    const res = r.res as ExchangeResponse
    res[kExchange] = this
    res.on('close', ClientExchange.#onResponseClose)
  }

  get state(): ExchangeState {
    return this.#state
  }

  /** Still waiting on the backend (also while queued): callbacks may act. */
  #open(): boolean {
    const s = this.#state
    return s === 'sent' || s === 'reshaping' || s === 'streaming' || s === 'holding'
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

  /**
   * The backend failed (5xx, transport error, deadline) and the cache holds an expired copy
   * inside its stale-if-error window: serve that instead. True when it did.
   */
  #serveStale(): boolean {
    const tap = this.#cacheTap
    if (tap === null || !tap.canServeStale || this.#res.headersSent) return false
    this.#cacheTap = null
    this.#state = 'stale'
    this.#clearTimer()
    tap.serveStale(this.#res, this.#requestId, this.#metrics, (performance.now() - this.#start) / 1000)
    return true
  }

  /** Nothing from this exchange goes into the cache; a write's path is invalidated again. */
  #cacheDone(): void {
    const cache = this.#request.invalidate
    if (cache !== null) {
      cache.invalidate(this.#request.path)
      this.#request.invalidate = null
    }
    const tap = this.#cacheTap
    if (tap === null) return
    this.#cacheTap = null
    tap.abandon()
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller
    // the deadline or the client may have given up while the request was still queued
    if (!this.#open()) controller.abort(new CutoverError('CUTOVER_UPSTREAM_TIMEOUT'))
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    if (!this.#open()) return
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
      this.#cacheTap.missed(headers)
    }
    // passed through: the client's 5xx, recorded when it ends, is what the guard sees
    if (statusCode >= 500) this.#metrics.upstreamError('5xx', false)
    stripResponseHeaders(headers)
    if (this.#rewriteUrls(headers) && this.#cacheTap !== null) {
      // the answer now names this client's Host, which the cache key does not hold: never cache
      // it, or one client's Host would reach every other (cache poisoning)
      this.#cacheTap.abandon()
      this.#cacheTap = null
    }
    headers['x-request-id'] = this.#requestId
    headers['x-cutover-backend'] = this.#backend
    if (this.#transform !== null) {
      this.#status = this.#transform.head(statusCode, headers)
      if (this.#transform.wantsBody(headers)) {
        // the body is reshaped at its end: nothing goes on until then
        this.#reshaping = { headers, body: new BodyCollector(this.#transformLimit) }
        this.#state = 'reshaping'
        return
      }
    }
    this.#begin(headers)
    if (this.#res.writableNeedDrain) controller.pause()
  }

  /** Rewrites the backend's address in Location, Content-Location, Link and Set-Cookie to the client's. */
  #rewriteUrls(headers: IncomingHttpHeaders): boolean {
    const client = this.#client
    if (client === null) return false
    if (headers.location === undefined && headers['content-location'] === undefined && headers.link === undefined && headers['set-cookie'] === undefined) return false
    return this.#urls.rewrite(headers, client, hostnameOf(client.slice(client.indexOf('://') + 3)))
  }

  /** The head is final: the copy the taps keep, then the journal hold or the client's head. */
  #begin(headers: IncomingHttpHeaders): void {
    if (this.mirror !== null || this.#cacheTap !== null) this.#headers = { ...headers }
    if (this.mirror !== null && this.mirror.holdsAnswer) {
      this.#held = { head: headers, chunks: [], bytes: 0 }
      this.#state = 'holding'
      return
    }
    this.#res.writeHead(this.#status, headers)
    this.#state = 'streaming'
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.#open()) return
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
    this.mirror?.push(chunk)
    this.#cacheTap?.push(chunk)
    if (this.#state === 'holding') {
      this.#hold(controller, chunk)
      return
    }
    if (!this.#res.write(chunk) && controller !== null) this.#pauseUntilDrain(controller)
  }

  /** Backpressure: the backend waits until the client has taken what was written. */
  #pauseUntilDrain(controller: Dispatcher.DispatchController): void {
    controller.pause()
    this.#res.once('drain', ClientExchange.#onResponseDrain)
  }

  #hold(controller: Dispatcher.DispatchController | null, chunk: Buffer): void {
    const held = this.#held as HeldAnswer
    held.chunks.push(chunk)
    held.bytes += chunk.length
    if (held.bytes <= HOLD_ANSWER_BYTES) return
    this.#writeHeld(held, 1)
    if (this.#res.writableNeedDrain && controller !== null) this.#pauseUntilDrain(controller)
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
  #release(): void {
    const held = this.#held
    if (this.#state !== 'held' || held === null) return
    this.#held = null
    this.#state = 'answered'
    const now = performance.now()
    this.#metrics.record(this.#status, (now - this.#start) / 1000, now)
    if (responseGone(this.#res)) return
    this.#writeHeld(held, 0)
    this.#res.end()
  }

  onResponseEnd(): void {
    if (!this.#open()) return
    const r = this.#reshaping
    if (r !== null) {
      this.#reshaping = null
      const body = this.#transform?.body(r.body.body) ?? r.body.body
      r.headers['content-length'] = String(body.length)
      delete r.headers['transfer-encoding']
      this.#begin(r.headers)
      this.#pass(null, body)
    }
    const holding = this.#state === 'holding'
    const latencyMs = holding ? this.#stop('held') : this.#finish(this.#status, 'answered')
    if (!holding) this.#res.end()
    const fill = this.#cacheTap
    if (fill !== null) {
      this.#cacheTap = null
      fill.store(this.#status, this.#headers, this.#backend)
    }
    this.#cacheDone()
    const tap = this.mirror
    if (tap === null) return
    const durable = tap.answered(this.#status, this.#headers ?? {}, latencyMs)
    if (!holding) return
    if (durable === null) this.#release()
    else void durable.then(() => this.#release())
  }

  /** `why`: how the exchange failed, for the mirror (which then decides what the write's fate is). */
  #primaryFailed(why: string): void {
    this.mirror?.failed(why, this.#controller !== null)
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    if (!this.#open()) return
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
    if (backendFailed && this.#failOver(err, code)) return
    if (backendFailed) this.#metrics.upstreamError(upstreamErrorReason(err), false)
    const status = code === 'CUTOVER_BODY_TOO_LARGE' ? 413 : this.#res.headersSent ? this.#status : code === 'CUTOVER_UPSTREAM_TIMEOUT' ? 504 : 502
    this.#finish(status, 'refused')
    if (code !== 'CUTOVER_BODY_TOO_LARGE') this.#log.warn({ err, route: this.#route, backend: this.#backend, requestId: this.#requestId }, 'upstream request failed')
    sendGatewayError(this.#res, code, this.#requestId, this.#backend, code === 'CUTOVER_BODY_TOO_LARGE')
    // undici's own headers/body timeout is the same deadline as ours (both backend timeoutMs): one wording
    if (code === 'CUTOVER_UPSTREAM_TIMEOUT') this.#primaryFailed('gateway deadline passed after the request was sent (504)')
    else if (code !== 'CUTOVER_BODY_TOO_LARGE') this.#primaryFailed(`primary failed after the request was sent: ${err.message}`)
  }

  /**
   * Nothing reached the client, and either the method is safe or nothing reached the backend:
   * the other side can take the request unchanged. True when it was resent.
   */
  #failOver(err: Error, code: ReturnType<typeof classifyUpstreamError>): boolean {
    const f = this.failover
    const r = this.#request
    if (f === null || this.#res.headersSent || code === 'CUTOVER_UPSTREAM_TIMEOUT') return false
    if (!(SAFE_METHODS.has(r.method) || nothingSent(err)) || !f.available(r)) return false
    this.#state = 'failed-over'
    this.#clearTimer()
    this.#res.removeListener('close', ClientExchange.#onResponseClose)
    this.#hiddenFailure(upstreamErrorReason(err))
    this.#log.warn({ err, route: this.#route, backend: this.#backend, requestId: this.#requestId }, 'upstream failed; request sent to the other backend')
    f.resend(r)
    return true
  }

  /** The backend failed but the client is answered another way: the failure still counts against it. */
  #hiddenFailure(reason: UpstreamErrorReason): void {
    const now = performance.now()
    this.#metrics.upstreamError(reason, true, (now - this.#start) / 1000, now)
  }

  /** Records the outcome once; returns the exchange's latency in ms. */
  #finish(status: number, state: ExchangeState): number {
    const ms = this.#stop(state)
    this.#metrics.record(status, ms / 1000, this.#start + ms)
    return ms
  }

  /** Ends the exchange without recording it yet (a held answer is recorded when released). */
  #stop(state: ExchangeState): number {
    this.#state = state
    this.#clearTimer()
    return performance.now() - this.#start
  }

  #clearTimer(): void {
    if (this.#timer !== null) {
      clearTimeout(this.#timer)
      this.#timer = null
    }
  }

  static #onTimer(exchange: ClientExchange): void {
    exchange.#deadline()
  }

  /** undici hands every callback of one dispatch the same controller as onRequestStart. */
  static #onResponseDrain(this: ExchangeResponse): void {
    const exchange = this[kExchange]
    if (exchange !== undefined) exchange.#controller?.resume()
  }

  static #onResponseClose(this: ExchangeResponse): void {
    const exchange = this[kExchange]
    if (exchange !== undefined) exchange.#clientClosed()
  }

  #deadline(): void {
    this.#timer = null
    if (!this.#open()) return
    this.#settle(new CutoverError('CUTOVER_UPSTREAM_TIMEOUT'))
    // mark the exchange finished before aborting: the abort reports back through onResponseError
    const stale = this.#serveStale()
    if (stale) this.#hiddenFailure('timeout')
    else {
      this.#metrics.upstreamError('timeout', false)
      this.#cacheDone()
      this.#finish(504, 'refused')
    }
    this.#controller?.abort(new CutoverError('CUTOVER_UPSTREAM_TIMEOUT'))
    if (stale) return
    this.#log.warn({ route: this.#route, backend: this.#backend, requestId: this.#requestId }, 'upstream deadline passed')
    sendGatewayError(this.#res, 'CUTOVER_UPSTREAM_TIMEOUT', this.#requestId, this.#backend)
    this.#primaryFailed('gateway deadline passed after the request was sent (504)')
  }

  #clientClosed(): void {
    if (!this.#open()) return
    // the client went away before the answer was complete: stop the upstream work too
    this.#finish(499, 'client-gone')
    this.#cacheDone()
    this.#ticket?.release()
    this.#ticket = null
    this.#controller?.abort(new Error('client closed the connection'))
    this.#primaryFailed('client closed the connection after the request was sent (499)')
  }
}
