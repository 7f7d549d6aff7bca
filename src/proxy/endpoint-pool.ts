import { DecoratorHandler, Dispatcher, type Pool } from 'undici'
import type { Endpoint, EndpointHealth } from './endpoint-health.ts'
import { errorCode } from './upstream-error.ts'

/** The connection never carried the request: nothing was written, so any method may go elsewhere. */
const CONNECT_FAILURES = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL'])
/** The connection was lost before any response byte (whether the request was written or not). */
const RESET_FAILURES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET'])

/**
 * A backend with several endpoints: one undici Pool per endpoint, a healthy one picked round-robin
 * per request. undici's BalancedPool only lowers a failing upstream's weight (never below 1) and
 * so keeps sending it traffic; this skips it until its ejection time has passed.
 */
export class EndpointPool extends Dispatcher {
  readonly #health: EndpointHealth
  readonly #pools: readonly Pool[]
  #next = -1

  constructor(health: EndpointHealth, createPool: (origin: string) => Pool) {
    super()
    this.#health = health
    this.#pools = health.endpoints.map((e) => createPool(e.origin))
  }

  override dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    // the data plane's handlers speak the new callback API; `request()` (api layer) the old one
    const inner = handler.onRequestStart !== undefined ? handler : (new DecoratorHandler(handler) as Dispatcher.DispatchHandler)
    return new Attempt(this, opts, inner).send() ?? false
  }

  /**
   * The next endpoint round-robin that may take a request and is not in `tried`; when every
   * endpoint is ejected, the next untried one anyway (sending to a maybe-dead endpoint beats
   * failing without trying). null once every endpoint was tried.
   */
  pick(tried: ReadonlySet<Endpoint> | null): { endpoint: Endpoint; probe: boolean } | null {
    const all = this.#health.endpoints
    let fallback: Endpoint | null = null
    for (let i = 0; i < all.length; i++) {
      this.#next = (this.#next + 1) % all.length
      const e = all[this.#next] as Endpoint
      if (tried !== null && tried.has(e)) continue
      const wasHealthy = e.healthy
      if (this.#health.admit(e)) return { endpoint: e, probe: !wasHealthy }
      fallback ??= e
    }
    return fallback === null ? null : { endpoint: fallback, probe: false }
  }

  send(e: Endpoint, opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    return (this.#pools[e.index] as Pool).dispatch(opts, handler)
  }

  settle(e: Endpoint, outcome: 'response' | 'failed' | 'error', probe: boolean): void {
    this.#health.settle(e, outcome, probe)
  }

  override close(): Promise<void>
  override close(callback: () => void): void
  override close(callback?: () => void): Promise<void> | void {
    const done = Promise.all(this.#pools.map((p) => p.close())).then(() => undefined)
    if (callback === undefined) return done
    void done.then(callback, callback)
  }

  override destroy(): Promise<void>
  override destroy(err: Error | null): Promise<void>
  override destroy(callback: () => void): void
  override destroy(err: Error | null, callback: () => void): void
  override destroy(a?: Error | null | (() => void), b?: () => void): Promise<void> | void {
    const err = typeof a === 'function' ? null : (a ?? null)
    const callback = typeof a === 'function' ? a : b
    const done = Promise.all(this.#pools.map((p) => p.destroy(err))).then(() => undefined)
    if (callback === undefined) return done
    void done.then(callback, callback)
  }
}

/**
 * One request through an EndpointPool: watches what the chosen endpoint did and, when the
 * connection failed before the request was written, sends it to the next endpoint instead of
 * telling the caller. The caller's handler sees exactly one request start and one ending.
 */
class Attempt implements Dispatcher.DispatchHandler {
  readonly #pool: EndpointPool
  readonly #opts: Dispatcher.DispatchOptions
  readonly #handler: Dispatcher.DispatchHandler
  /** the endpoints tried before the current one: null until a first resend (most requests never need it) */
  #tried: Set<Endpoint> | null = null
  #endpoint: Endpoint | null = null
  #probe = false
  /** the request reached a connection (onRequestStart): from here on it is not resent */
  #started = false
  #settled = false

  constructor(pool: EndpointPool, opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler) {
    this.#pool = pool
    this.#opts = opts
    this.#handler = handler
  }

  /** Sends to the next endpoint untried: what its Pool's dispatch said, null when none is left. */
  send(): boolean | null {
    if (this.#endpoint !== null) (this.#tried ??= new Set()).add(this.#endpoint)
    const next = this.#pool.pick(this.#tried)
    if (next === null) return null
    this.#endpoint = next.endpoint
    this.#probe = next.probe
    this.#settled = false
    return this.#pool.send(next.endpoint, this.#opts, this)
  }

  #settle(outcome: 'response' | 'failed' | 'error'): void {
    if (this.#settled || this.#endpoint === null) return
    this.#settled = true
    this.#pool.settle(this.#endpoint, outcome, this.#probe)
  }

  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    this.#started = true
    this.#handler.onRequestStart?.(controller, context)
  }

  onRequestUpgrade(controller: Dispatcher.DispatchController, statusCode: number, headers: Parameters<NonNullable<Dispatcher.DispatchHandler['onRequestUpgrade']>>[2], socket: Parameters<NonNullable<Dispatcher.DispatchHandler['onRequestUpgrade']>>[3]): void {
    this.#settle('response')
    this.#handler.onRequestUpgrade?.(controller, statusCode, headers, socket)
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: Parameters<NonNullable<Dispatcher.DispatchHandler['onResponseStart']>>[2], statusMessage?: string): void {
    this.#settle('response')
    this.#handler.onResponseStart?.(controller, statusCode, headers, statusMessage)
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#handler.onResponseData?.(controller, chunk)
  }

  onResponseEnd(controller: Dispatcher.DispatchController, trailers: Parameters<NonNullable<Dispatcher.DispatchHandler['onResponseEnd']>>[1]): void {
    this.#handler.onResponseEnd?.(controller, trailers)
  }

  onResponseError(controller: Dispatcher.DispatchController, err: Error): void {
    if (!this.#settled) {
      const code = errorCode(err) ?? ''
      const failed = CONNECT_FAILURES.has(code) || RESET_FAILURES.has(code)
      this.#settle(failed ? 'failed' : 'error')
      // never written (no onRequestStart): resending cannot apply a write twice, for any method
      if (failed && !this.#started && this.send() !== null) return
    }
    this.#handler.onResponseError?.(controller, err)
  }
}
