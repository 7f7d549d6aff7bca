import { randomUUID } from 'node:crypto'
import { Readable } from 'node:stream'
import type { Logger } from 'pino'
import type { CutoverConfig } from '../../config/schema.ts'
import type { BackendBreaker } from '../../resilience/breaker.ts'
import { upstreamPath } from '../../routing/route-table.ts'
import { compileRequestTransforms, type RequestTransform } from '../../transform/request-transform.ts'
import { compileTransforms, type ResponseTransform } from '../../transform/response-transform.ts'
import { ClientExchange, type Failover } from '../client-exchange.ts'
import { appendForwardedHeaders } from '../headers.ts'
import { derivedIdempotencyKey } from '../idempotency-key.ts'
import type { MetricsTable } from '../route-metrics.ts'
import type { ChooseSideStage } from './choose-side.ts'
import { SAFE_METHODS, type ProxyRequest } from './request.ts'
import { swapSides, type TapStage } from './tap.ts'

export interface ForwardOptions {
  readonly config: CutoverConfig
  readonly sides: ChooseSideStage
  readonly tap: TapStage
  readonly breakers: ReadonlyMap<string, BackendBreaker>
  readonly metrics: MetricsTable
  readonly log: Logger
}

/**
 * Stage 6, forward (docs/architecture.md): completes the request's head (X-Forwarded-*, Host for
 * `preserveHost`, the Idempotency-Key of a write), reshapes it for its backend (route transform),
 * and streams it there through a ClientExchange, which writes the answer to the client with the
 * cache and mirror taps attached. Also the failover: a request whose backend failed before the
 * client got anything is sent once more, to the other side.
 */
export class ForwardStage implements Failover {
  readonly #sides: ChooseSideStage
  readonly #tap: TapStage
  readonly #breakers: ReadonlyMap<string, BackendBreaker>
  readonly #metrics: MetricsTable
  readonly #log: Logger
  readonly #trustProxy: boolean
  readonly #compareLimit: number
  /** route → backend → how its answers are reshaped for clients */
  readonly #transforms: ReadonlyMap<string, ReadonlyMap<string, ResponseTransform>>
  readonly #requestTransforms: ReadonlyMap<string, ReadonlyMap<string, RequestTransform>>

  constructor(opts: ForwardOptions) {
    this.#sides = opts.sides
    this.#tap = opts.tap
    this.#breakers = opts.breakers
    this.#metrics = opts.metrics
    this.#log = opts.log
    this.#trustProxy = opts.config.listen.trustProxy
    this.#compareLimit = opts.config.limits.compareBodyBytes
    this.#transforms = compileTransforms(opts.config)
    this.#requestTransforms = compileRequestTransforms(opts.config)
  }

  run(r: ProxyRequest): void {
    this.#completeHead(r)
    this.#send(r)
  }

  #completeHead(r: ProxyRequest): void {
    const { headers, facts, method } = r
    r.client = appendForwardedHeaders(headers, facts, r.req.socket, r.requestId, this.#trustProxy)
    // preserveHost: the backend sees the Host the client used (undici sends a given host header as is)
    if (r.route !== null && r.route.config.preserveHost === true && facts.host !== undefined) headers.push('host', facts.host)
    // a client's retry with the same x-request-id keeps its key (src/proxy/idempotency-key.ts)
    const key =
      facts.idempotencyKey ??
      (SAFE_METHODS.has(method) ? undefined : facts.requestId === undefined ? randomUUID() : derivedIdempotencyKey(facts.requestId, method, r.path + r.query))
    if (key === undefined) return
    headers.push('idempotency-key', key)
    if (r.job !== null) r.job.idempotencyKey = key
  }

  /** Streams the request to `r.upstream` through a ClientExchange with whatever taps it needs. */
  #send(r: ProxyRequest): void {
    const { upstream, routeId, body } = r
    const exchange = new ClientExchange(r, this.#log, this.#transforms.get(routeId)?.get(upstream.name) ?? null, this.#compareLimit)
    exchange.mirror = this.#tap.tapFor(r)
    const breaker = this.#breakers.size === 0 ? undefined : this.#breakers.get(upstream.name)
    if (breaker !== undefined) exchange.guard(breaker.ticket())
    // a routed request whose body is in memory (or absent) can be sent again to the other side
    if (r.mayFailOver && r.route !== null && !(body instanceof Readable)) exchange.failover = this
    // the request as this backend expects it (route transform); the mirror reshapes its own copy
    const reshape = this.#requestTransforms.get(routeId)?.get(upstream.name)
    const sent = reshape === undefined || body instanceof Readable ? null : reshape.apply(r.headers, body)
    upstream.pool.dispatch(
      { method: r.method, path: upstream.basePath + r.target + r.query, headers: sent === null ? r.headers : sent.headers, body: sent === null ? body : sent.body },
      exchange,
    )
  }

  available(r: ProxyRequest): boolean {
    return this.#sides.allows(this.#sides.otherSide(r.upstream))
  }

  /**
   * The failover retry: a plain send to the other side, with no second failover and no cache
   * fill. A mirrored write keeps its mirror with the sides swapped, so the side that failed still
   * gets the write (as the mirrored copy, or through replay when it fails again).
   */
  resend(r: ProxyRequest): void {
    const other = this.#sides.otherSide(r.upstream)
    r.upstream = other
    r.metrics = this.#metrics.get(r.routeId, other.name)
    r.target = upstreamPath(r.route as NonNullable<ProxyRequest['route']>, r.path, other.name)
    r.job = r.job !== null && r.job.isWrite ? swapSides(r.job) : null
    r.capture = null
    r.cacheTap = null
    r.mayFailOver = false
    this.#send(r)
  }
}

