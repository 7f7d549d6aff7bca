import { randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { Readable } from 'node:stream'
import type { TLSSocket } from 'node:tls'
import type { Logger } from 'pino'
import type { CutoverConfig } from '../config/schema.ts'
import { normalisePath } from '../routing/normalise-path.ts'
import { chooseCloud, stickyKey, upstreamPath, type RouteMatch, type RouteTable } from '../routing/route-table.ts'
import { BodyCollector } from '../compare/captured-response.ts'
import { BodyCapture } from '../mirror/body-capture.ts'
import type { Mirror, MirrorJob } from '../mirror/mirror.ts'
import type { BackendBreaker } from '../resilience/breaker.ts'
import { BodyLimit, readBody } from './body-limit.ts'
import { ClientExchange } from './client-exchange.ts'
import { sendGatewayError } from './errors-reply.ts'
import { copyRequestHeaders, emptyHeaderFacts } from './headers.ts'
import { derivedIdempotencyKey } from './idempotency-key.ts'
import { hostnameOf } from './backend-urls.ts'
import { compileTransforms, type ResponseTransform } from '../transform/response-transform.ts'
import { compileRequestTransforms, type RequestTransform } from '../transform/request-transform.ts'
import type { MetricsTable, RouteMetrics } from './route-metrics.ts'
import { compileCachePolicies, type CachedEntry, type CachePolicy, type ReadCache } from '../cache/read-cache.ts'
import { CacheCounters, serveEntry, type CacheTap } from './cache-serve.ts'
import type { Metrics } from '../metrics/metrics.ts'
import type { Upstream } from './upstreams.ts'

/** Route label for requests no rule matched and that went to the fallback backend. */
export const FALLBACK_ROUTE = 'fallback'
/** Labels for requests the gateway answered itself (bad path, no route). */
export const NO_ROUTE = 'none'

// RFC 9110 §9.2.1: safe methods do not change state, so they get no generated Idempotency-Key
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE'])

export interface ForwarderOptions {
  readonly config: CutoverConfig
  readonly table: RouteTable
  readonly upstreams: ReadonlyMap<string, Upstream>
  readonly metrics: MetricsTable
  readonly log: Logger
  /** null: no mirroring in this process (tests of the bare data plane) */
  readonly mirror: Mirror | null
  /** backends with a `breaker` configured */
  readonly breakers: ReadonlyMap<string, BackendBreaker>
  /** null when no route configures `cache` */
  readonly cache: ReadCache | null
  readonly metricsRegistry: Metrics
}

/**
 * The data plane's per-request work, independent of the HTTP server framework: normalise, match,
 * choose the primary, and stream the request to it. Everything it looks up per request was built
 * at start.
 */
export class Forwarder {
  readonly #table: RouteTable
  readonly #legacy: Upstream
  readonly #cloud: Upstream
  readonly #fallback: Upstream | null
  readonly #metrics: MetricsTable
  readonly #bodyLimit: number
  readonly #mirrorBodyLimit: number
  readonly #compareBodyLimit: number
  readonly #log: Logger
  readonly #mirror: Mirror | null
  readonly #breakers: ReadonlyMap<string, BackendBreaker>
  readonly #cache: ReadCache | null
  /** keep X-Forwarded-Proto/Host from the client (a load balancer in front of us) */
  readonly #trustProxy: boolean
  readonly #cachePolicies: ReadonlyMap<string, CachePolicy>
  readonly #cacheCounters = new Map<string, CacheCounters>()
  /** route → backend → how its answers are reshaped for clients */
  readonly #transforms: ReadonlyMap<string, ReadonlyMap<string, ResponseTransform>>
  readonly #requestTransforms: ReadonlyMap<string, ReadonlyMap<string, RequestTransform>>

  constructor(opts: ForwarderOptions) {
    this.#table = opts.table
    this.#legacy = mustGet(opts.upstreams, 'legacy')
    this.#cloud = mustGet(opts.upstreams, 'cloud')
    const fb = opts.config.fallback
    this.#fallback = fb === 404 ? null : mustGet(opts.upstreams, fb)
    this.#metrics = opts.metrics
    this.#bodyLimit = opts.config.limits.bodyBytes
    this.#mirrorBodyLimit = opts.config.limits.mirrorBodyBytes
    this.#compareBodyLimit = opts.config.limits.compareBodyBytes
    this.#log = opts.log
    this.#mirror = opts.mirror
    this.#breakers = opts.breakers
    this.#trustProxy = opts.config.listen.trustProxy
    this.#cachePolicies = compileCachePolicies(opts.config.routes)
    this.#transforms = compileTransforms(opts.config)
    this.#requestTransforms = compileRequestTransforms(opts.config)
    this.#cache = opts.cache
    for (const id of this.#cachePolicies.keys()) this.#cacheCounters.set(id, new CacheCounters(opts.metricsRegistry, id))
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    const start = performance.now()
    const url = req.url ?? '/'
    const method = req.method ?? 'GET'
    const q = url.indexOf('?')
    const path = normalisePath(q < 0 ? url : url.slice(0, q))
    const query = q < 0 ? '' : url.slice(q)

    const headers: string[] = []
    const facts = emptyHeaderFacts()
    copyRequestHeaders(req.rawHeaders, headers, facts)
    const requestId = facts.requestId ?? randomUUID()

    if (path === null) {
      this.#metrics.get(NO_ROUTE, NO_ROUTE).record(400, (performance.now() - start) / 1000)
      sendGatewayError(res, 'CUTOVER_BAD_PATH', requestId)
      return
    }
    if (facts.duplicateHost) {
      // RFC 9112 §3.2: two Host lines name two targets; the gateway and a backend could each pick another one
      this.#metrics.get(NO_ROUTE, NO_ROUTE).record(400, (performance.now() - start) / 1000)
      sendGatewayError(res, 'CUTOVER_BAD_REQUEST', requestId, undefined, true)
      return
    }

    let upstream: Upstream
    let routeId: string
    let target: string
    let job: MirrorJob | null = null
    const found = this.#table.match(method, path, req.headers)
    if (found !== null) {
      const { route, match } = found
      let cloud = chooseCloud(route, stickyKey(route.sticky, { headers: req.headers, remoteAddress: req.socket.remoteAddress }))
      if (this.#breakers.size > 0 && !this.#allows(cloud ? this.#cloud : this.#legacy)) {
        // the chosen side's breaker is open, so nothing has been sent: the other side serves,
        // reads and writes alike (a write reaches the open side later through replay)
        if (!this.#allows(cloud ? this.#legacy : this.#cloud)) {
          this.#metrics.get(route.id, (cloud ? this.#cloud : this.#legacy).name).record(503, (performance.now() - start) / 1000)
          sendGatewayError(res, 'CUTOVER_BREAKER_OPEN', requestId)
          return
        }
        cloud = !cloud
      }
      upstream = cloud ? this.#cloud : this.#legacy
      routeId = route.id
      target = upstreamPath(route, match, upstream.name, path)
      const state = route.state
      if (this.#mirror !== null && state.mirror !== 'off') {
        const isWrite = !SAFE_METHODS.has(method)
        if (isWrite || (state.mirror === 'all' && (state.readSample >= 1 || Math.random() < state.readSample))) {
          const secondary = cloud ? this.#legacy : this.#cloud
          job = {
            routeId,
            method,
            clientPath: path + query,
            requestId,
            idempotencyKey: undefined,
            isWrite,
            primary: upstream,
            secondary,
            primaryPath: upstream.basePath + target + query,
            secondaryPath: secondary.basePath + upstreamPath(route, match, secondary.name, path) + query,
            headers,
            body: null,
            learn: !isWrite && this.#mirror.wantsNoiseSample(routeId),
            writeSeq: this.#mirror.writeSeq,
            match,
            query,
          }
        }
      }
    } else if (this.#fallback !== null) {
      if (!this.#allows(this.#fallback)) {
        this.#metrics.get(FALLBACK_ROUTE, this.#fallback.name).record(503, (performance.now() - start) / 1000)
        sendGatewayError(res, 'CUTOVER_BREAKER_OPEN', requestId)
        return
      }
      upstream = this.#fallback
      routeId = FALLBACK_ROUTE
      target = path
    } else {
      this.#metrics.get(NO_ROUTE, NO_ROUTE).record(404, (performance.now() - start) / 1000)
      sendGatewayError(res, 'CUTOVER_NO_ROUTE', requestId)
      return
    }

    // noise learning must know that this write came between two reads of what it changes
    if (this.#mirror !== null && !SAFE_METHODS.has(method)) this.#mirror.noteWrite(routeId, path)
    const routeMetrics = this.#metrics.get(routeId, upstream.name)
    if (facts.contentLength > this.#bodyLimit) {
      routeMetrics.recordServed(413, (performance.now() - start) / 1000)
      sendGatewayError(res, 'CUTOVER_BODY_TOO_LARGE', requestId, undefined, true)
      return
    }

    const remote = req.socket.remoteAddress ?? ''
    const proto = (this.#trustProxy ? facts.forwardedProto : undefined) ?? ((req.socket as TLSSocket).encrypted === true ? 'https' : 'http')
    headers.push('x-request-id', requestId, 'x-forwarded-for', facts.forwardedFor === undefined ? remote : `${facts.forwardedFor}, ${remote}`, 'x-forwarded-proto', proto)
    const forwardedHost = (this.#trustProxy ? facts.forwardedHost : undefined) ?? facts.host
    if (forwardedHost !== undefined) headers.push('x-forwarded-host', forwardedHost)
    // preserveHost: the backend sees the Host the client used (undici sends a given host header as is)
    if (found !== null && found.route.config.preserveHost === true && facts.host !== undefined) headers.push('host', facts.host)
    // a client's retry with the same x-request-id keeps its key (src/proxy/idempotency-key.ts)
    const idempotencyKey =
      facts.idempotencyKey ??
      (SAFE_METHODS.has(method) ? undefined : facts.requestId === undefined ? randomUUID() : derivedIdempotencyKey(facts.requestId, method, path + query))
    if (idempotencyKey !== undefined) headers.push('idempotency-key', idempotencyKey)

    const hasBody = facts.chunked || facts.contentLength > 0
    if (job !== null) job.idempotencyKey = idempotencyKey
    const out: Outgoing = { req, res, upstream, routeId, requestId, routeMetrics, start, method, path, target, query, headers, body: null, job, capture: null, found, cacheTap: null, invalidate: null, client: forwardedHost === undefined ? null : `${proto}://${forwardedHost}` }
    if (!hasBody) {
      this.#proceed(out)
      return
    }
    if (found === null || !found.route.config.streamBody) {
      // the body reaches a backend only once it is known to fit (and can then be sent again on failover)
      readBody(req, this.#bodyLimit, upstream.timeoutMs, (body) => {
        if (body === 'too-large' || body === 'timeout') {
          // the client's doing, not the backend's: counted for the client only
          routeMetrics.recordServed(body === 'timeout' ? 408 : 413, (performance.now() - start) / 1000)
          sendGatewayError(res, body === 'timeout' ? 'CUTOVER_BODY_TIMEOUT' : 'CUTOVER_BODY_TOO_LARGE', requestId, undefined, true)
          return
        }
        if (body === 'aborted') {
          routeMetrics.record(499, (performance.now() - start) / 1000)
          return
        }
        if (job !== null) job.body = body.length > this.#mirrorBodyLimit ? 'overflow' : body
        this.#proceed({ ...out, body })
      })
      return
    }
    // streamBody: the route opted into streaming; a chunked body over the limit is cut on its way
    let body: Readable
    let capture: BodyCapture | null = null
    if (job !== null) {
      if (facts.contentLength > this.#mirrorBodyLimit) {
        job.body = 'overflow'
        body = facts.chunked ? req.pipe(new BodyLimit(this.#bodyLimit)) : req
      } else {
        capture = new BodyCapture(this.#mirrorBodyLimit, this.#bodyLimit)
        body = req.pipe(capture)
      }
    } else body = facts.chunked ? req.pipe(new BodyLimit(this.#bodyLimit)) : req
    this.#proceed({ ...out, body, capture })
  }

  /** The cache stage (hit, shared fill, or invalidation), then the send. */
  #proceed(out: Outgoing): void {
    const { method, path, query, found, routeId, req } = out
    const cache = this.#cache
    if (cache !== null) {
      if (!SAFE_METHODS.has(method)) {
        // a write drops the cached reads of its resource and collection, now and when it answers
        cache.invalidate(path)
        out.invalidate = path
      } else if (found !== null && (method === 'GET' || method === 'HEAD')) {
        const policy = this.#cachePolicies.get(routeId)
        const counters = this.#cacheCounters.get(routeId)
        if (policy !== undefined && counters !== undefined) {
          const c = cache.lookup(policy, method, path, query, req.headers)
          if (c.result === 'hit' && c.entry !== null) {
            counters.hit.inc()
            this.#serveCached(out, c.entry)
            return
          }
          if (c.result === 'bypass') counters.bypass.inc()
          else if (method === 'HEAD') counters.miss.inc()
          else {
            const fill = cache.beginFill(c)
            const tap: CacheTap = { cache, lookup: c, fill: fill.leader ? fill : null, collector: new BodyCollector(cache.maxBodyBytes), counters }
            out.cacheTap = tap
            if (!fill.leader) {
              // another request is already fetching this: share its answer (RFC 9111 §4 allows one fill per key)
              void fill.wait.then((entry) => {
                if (entry !== null) {
                  counters.hit.inc()
                  this.#serveCached(out, entry)
                } else this.#send(out)
              })
              return
            }
          }
        }
      }
    }
    this.#send(out)
  }

  #serveCached(out: Outgoing, entry: CachedEntry): void {
    const cache = this.#cache as ReadCache
    serveEntry(out.res, entry, 'hit', out.requestId, cache, out.method === 'HEAD')
    // a hit is not the backend's doing: counted for the client, not fed to the route's guard
    this.#metrics.get(out.routeId, entry.backend).recordServed(entry.status, (performance.now() - out.start) / 1000)
  }

  /** Streams the request to its upstream through a ClientExchange with whatever taps it needs. */
  #send(out: Outgoing): void {
    const { res, upstream, routeId, requestId, routeMetrics, start, method, query, headers, body, job, found } = out
    const exchange = new ClientExchange(res, upstream.name, routeId, requestId, routeMetrics, start, upstream.timeoutMs, this.#log)
    if (out.client !== null) exchange.rewriteUrls(upstream.urls, out.client, hostnameOf(out.client.slice(out.client.indexOf('://') + 3)))
    const transform = this.#transforms.get(routeId)?.get(upstream.name)
    if (transform !== undefined) exchange.transformWith(transform, this.#compareBodyLimit)
    if (job !== null && this.#mirror !== null) {
      exchange.tap({ mirror: this.#mirror, job, capture: out.capture, collector: new BodyCollector(this.#compareBodyLimit) })
    }
    if (out.cacheTap !== null) exchange.fillCache(out.cacheTap)
    if (out.invalidate !== null && this.#cache !== null) exchange.invalidateAfter(this.#cache, out.invalidate)
    const breaker = this.#breakers.get(upstream.name)
    if (breaker !== undefined) exchange.guard(breaker.ticket())
    // a routed request whose body is in memory (or absent) can be sent again to the other side
    if (found !== null && !(body instanceof Readable)) {
      const other = upstream === this.#cloud ? this.#legacy : this.#cloud
      exchange.failover = {
        safe: SAFE_METHODS.has(method),
        available: () => this.#allows(other),
        resend: () => this.#resend(out, other),
      }
    }
    // the request as this backend expects it (route transform); the mirror reshapes its own copy
    const reshape = this.#requestTransforms.get(routeId)?.get(upstream.name)
    const sent = reshape === undefined || body instanceof Readable ? { headers, body } : reshape.apply(headers, body)
    upstream.pool.dispatch({ method, path: upstream.basePath + out.target + query, headers: sent.headers, body: sent.body }, exchange)
  }

  /**
   * The failover retry: a plain send to the other side, with no second failover and no cache
   * fill. A mirrored write keeps its mirror with the sides swapped, so the side that failed still
   * gets the write (as the mirrored copy, or through replay when it fails again).
   */
  #resend(out: Outgoing, other: Upstream): void {
    const { route, match } = out.found as RouteMatch
    const job = out.job !== null && out.job.isWrite ? swapSides(out.job) : null
    this.#send({
      ...out,
      upstream: other,
      routeMetrics: this.#metrics.get(out.routeId, other.name),
      target: upstreamPath(route, match, other.name, out.path),
      job,
      capture: null,
      found: null,
      cacheTap: null,
    })
  }

  #allows(upstream: Upstream): boolean {
    const b = this.#breakers.get(upstream.name)
    return b === undefined || b.allows()
  }
}

/** Everything #send needs about one request, decided by handle(). */
interface Outgoing {
  readonly req: IncomingMessage
  readonly res: ServerResponse
  readonly upstream: Upstream
  readonly routeId: string
  readonly requestId: string
  readonly routeMetrics: RouteMetrics
  readonly start: number
  readonly method: string
  /** the client-facing, normalised path */
  readonly path: string
  /** the path for this upstream (rewrite applied) */
  readonly target: string
  readonly query: string
  readonly headers: string[]
  /** a Buffer once read in full (the default), a stream on a `streamBody` route */
  readonly body: Readable | Buffer | null
  readonly job: MirrorJob | null
  readonly capture: BodyCapture | null
  readonly found: RouteMatch | null
  cacheTap: CacheTap | null
  invalidate: string | null
  /** `proto://host` the client reached the gateway at, for rewriting backend URLs; null without a Host */
  readonly client: string | null
}

function swapSides(job: MirrorJob): MirrorJob {
  return { ...job, primary: job.secondary, secondary: job.primary, primaryPath: job.secondaryPath, secondaryPath: job.primaryPath }
}

function mustGet(upstreams: ReadonlyMap<string, Upstream>, name: string): Upstream {
  const u = upstreams.get(name)
  if (u === undefined) throw new Error(`backend '${name}' is not configured`)
  return u
}
