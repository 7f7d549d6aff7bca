import type { Readable } from 'node:stream'
import { BodyCapture } from '../../mirror/body-capture.ts'
import { BodyLimit, readBody, type ReadBody } from '../body-limit.ts'
import { sendGatewayError } from '../errors-reply.ts'
import type { ProxyRequest } from './request.ts'

/** Where the body stage hands a request whose body is ready (or absent). */
export interface BodyReady {
  bodyReady(r: ProxyRequest): void
}

/**
 * Stage 4, body (docs/architecture.md): refuses a Content-Length over `limits.bodyBytes`, then
 * reads the body into memory (the default: it reaches a backend only once it is known to fit, and
 * can be sent again on failover) or, on a `streamBody` route, passes it through as a stream, cut
 * at the limit, with a bounded copy for the mirror. Sets `r.body` (and `r.job.body` / `r.capture`).
 */
export class BodyStage {
  readonly #limit: number
  readonly #mirrorLimit: number

  constructor(limit: number, mirrorLimit: number) {
    this.#limit = limit
    this.#mirrorLimit = mirrorLimit
  }

  run(r: ProxyRequest, next: BodyReady): void {
    const { facts } = r
    if (facts.contentLength > this.#limit) {
      r.metrics.recordServed(413, r.elapsed())
      sendGatewayError(r.res, 'CUTOVER_BODY_TOO_LARGE', r.requestId, undefined, true)
      return
    }
    if (!facts.chunked && !(facts.contentLength > 0)) {
      next.bodyReady(r)
      return
    }
    if (r.route === null || !r.route.config.streamBody) {
      readBody(r.req, this.#limit, r.upstream.timeoutMs, (body) => this.#read(r, body, next))
      return
    }
    r.body = this.#stream(r)
    next.bodyReady(r)
  }

  #read(r: ProxyRequest, body: ReadBody, next: BodyReady): void {
    if (body === 'too-large' || body === 'timeout') {
      // the client's doing, not the backend's: counted for the client only
      r.metrics.recordServed(body === 'timeout' ? 408 : 413, r.elapsed())
      sendGatewayError(r.res, body === 'timeout' ? 'CUTOVER_BODY_TIMEOUT' : 'CUTOVER_BODY_TOO_LARGE', r.requestId, undefined, true)
      return
    }
    if (body === 'aborted') {
      r.metrics.record(499, r.elapsed())
      return
    }
    if (r.job !== null) r.job.body = body.length > this.#mirrorLimit ? 'overflow' : body
    r.body = body
    next.bodyReady(r)
  }

  /** streamBody: the route opted into streaming; a chunked body over the limit is cut on its way. */
  #stream(r: ProxyRequest): Readable {
    const { req, facts, job } = r
    if (job === null) return facts.chunked ? req.pipe(new BodyLimit(this.#limit)) : req
    if (facts.contentLength > this.#mirrorLimit) {
      job.body = 'overflow'
      return facts.chunked ? req.pipe(new BodyLimit(this.#limit)) : req
    }
    const capture = new BodyCapture(this.#mirrorLimit, this.#limit)
    r.capture = capture
    return req.pipe(capture)
  }
}
