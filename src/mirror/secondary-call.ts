import type { IncomingHttpHeaders } from 'node:http'
import type { Dispatcher } from 'undici'
import { BodyCollector, type CapturedResponse } from '../compare/captured-response.ts'

/** What a mirrored call came to: the answer as captured (body bounded), or how it failed. */
export type CallResult = { ok: true; response: CapturedResponse } | { ok: false; timeout: boolean; error: Error; latencyMs: number }

/** Told once when a call is over, with the call itself (which carries the caller's context). */
export interface CallListener<T> {
  callSettled(call: SecondaryCall<T>, result: CallResult): void
}

/** Hop-by-hop and framing headers: how the bytes travelled, not what the backend answered. */
const RESPONSE_SKIP = new Set(['content-length', 'transfer-encoding', 'connection'])

/** undici's own timeouts (headersTimeout, bodyTimeout, connect), reported as timeouts like the call's deadline. */
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT'])

/** The call's own deadline: `timeoutMs` in total, queueing in the pool included. */
export class CallTimeoutError extends Error {
  override readonly name = 'TimeoutError'
  readonly code = 'CUTOVER_MIRROR_TIMEOUT'

  constructor(ms: number) {
    super(`mirrored call did not finish within ${ms} ms`)
  }
}

/**
 * One mirrored (or repeated) call as an undici dispatch handler: the answer's body chunks go
 * straight into a bounded collector (`cap` bytes kept, the rest counted), with no body stream, no
 * async iteration and no AbortSignal. It speaks undici's handler API (onRequestStart …
 * onResponseError): a Pool adapts it to the core callbacks (onConnect, onHeaders, onData,
 * onComplete, onError) itself, and an EndpointPool passes it through unchanged. The deadline is
 * one timer for the whole call; whatever happens first (answer, error, deadline) settles it, once,
 * and later callbacks are ignored.
 */
export class SecondaryCall<T> implements Dispatcher.DispatchHandler {
  /** the caller's state for this call, handed back through the listener */
  readonly context: T
  readonly #listener: CallListener<T>
  readonly #timeoutMs: number
  readonly #started: number
  readonly #body: BodyCollector
  #controller: Dispatcher.DispatchController | null = null
  #timer: NodeJS.Timeout | null = null
  #status = 0
  #headers: IncomingHttpHeaders | null = null
  #settled = false

  constructor(listener: CallListener<T>, context: T, cap: number, timeoutMs: number) {
    this.#listener = listener
    this.context = context
    this.#timeoutMs = timeoutMs
    this.#body = new BodyCollector(cap)
    this.#started = performance.now()
  }

  /** Sends the request through `pool`; the listener hears of the outcome. */
  send(pool: Dispatcher, method: string, path: string, headers: readonly string[], body: Buffer | null): void {
    this.#timer = setTimeout(onDeadline, this.#timeoutMs, this)
    try {
      pool.dispatch({ method: method as Dispatcher.HttpMethod, path, headers: headers as string[], body, headersTimeout: this.#timeoutMs, bodyTimeout: this.#timeoutMs }, this)
    } catch (err) {
      // a closed pool or an invalid request throws instead of calling onResponseError
      this.#fail(err as Error)
    }
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller
    // the deadline passed while the request waited in the pool: never send it
    if (this.#settled) controller.abort(new CallTimeoutError(this.#timeoutMs))
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    // 1xx interim answers are not the answer
    if (statusCode < 200) return
    this.#status = statusCode
    const kept: IncomingHttpHeaders = {}
    for (const name in headers) if (!RESPONSE_SKIP.has(name)) kept[name] = headers[name]
    this.#headers = kept
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.#settled) this.#body.push(chunk)
  }

  onResponseEnd(): void {
    if (this.#settled) return
    this.#stop()
    const body = this.#body
    // latencyMs is the backend's time, read before any decoding
    const response: CapturedResponse = { status: this.#status, headers: this.#headers ?? {}, body: body.body, length: body.length, truncated: body.truncated, latencyMs: performance.now() - this.#started }
    this.#listener.callSettled(this, { ok: true, response })
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    this.#fail(err)
  }

  /** The deadline: settles the call as timed out and cuts the request wherever it is. */
  expire(): void {
    this.#timer = null
    if (this.#settled) return
    const err = new CallTimeoutError(this.#timeoutMs)
    this.#fail(err)
    this.#controller?.abort(err)
  }

  #fail(err: Error): void {
    if (this.#settled) return
    this.#stop()
    const code = (err as { code?: unknown }).code
    const timeout = err instanceof CallTimeoutError || err.name === 'TimeoutError' || (typeof code === 'string' && TIMEOUT_CODES.has(code))
    this.#listener.callSettled(this, { ok: false, timeout, error: err, latencyMs: performance.now() - this.#started })
  }

  #stop(): void {
    this.#settled = true
    if (this.#timer !== null) {
      clearTimeout(this.#timer)
      this.#timer = null
    }
  }
}

function onDeadline(call: SecondaryCall<unknown>): void {
  call.expire()
}

/** The request headers to send: the client's, except its content-length, which follows the (possibly reshaped) body. */
export function callHeaders(headers: readonly string[], body: Buffer | null): string[] {
  const out: string[] = []
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i] as string
    if (name.length !== 14 || name.toLowerCase() !== 'content-length') out.push(name, headers[i + 1] as string)
  }
  if (body !== null) out.push('content-length', String(body.length))
  return out
}

const PROMISED: CallListener<(result: CallResult) => void> = {
  callSettled(call, result) {
    call.context(result)
  },
}

/** The same call awaited, for the paths that are not per request (noise-learning repeats). */
export function callOnce(pool: Dispatcher, method: string, path: string, headers: readonly string[], body: Buffer | null, cap: number, timeoutMs: number): Promise<CallResult> {
  return new Promise((resolve) => new SecondaryCall(PROMISED, resolve, cap, timeoutMs).send(pool, method, path, callHeaders(headers, body), body))
}
