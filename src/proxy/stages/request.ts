import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Readable } from 'node:stream'
import type { CompiledRoute } from '../../routing/route-table.ts'
import type { BodyCapture } from '../../mirror/body-capture.ts'
import type { MirrorJob } from '../../mirror/mirror.ts'
import type { ClientHeaderFacts } from '../headers.ts'
import type { RouteMetrics } from '../route-metrics.ts'
import type { Upstream } from '../upstreams.ts'
import type { ReadCache } from '../../cache/read-cache.ts'
import type { CacheTap } from './cache-tap.ts'

/**
 * One client request on its way through the stages (docs/architecture.md, "The request path").
 * Created once by the match stage; every later stage fills in its own fields. One object with a
 * fixed shape per request: no stage copies it, and the failover resend reuses it.
 */
export class ProxyRequest {
  readonly req: IncomingMessage
  readonly res: ServerResponse
  /** performance.now() at arrival: every latency is taken from here */
  readonly start: number
  readonly method: string
  /** the client-facing, normalised path */
  readonly path: string
  /** '' or '?…' */
  readonly query: string
  readonly requestId: string
  /** the client's end-to-end headers, flat [name, value, …]; the forward stage appends its own */
  readonly headers: string[]
  readonly facts: ClientHeaderFacts

  /** match: the route, or null for the fallback backend */
  route: CompiledRoute | null = null
  routeId = ''
  /** choose side: the backend that answers the client */
  upstream: Upstream = null as unknown as Upstream
  /** the path for `upstream` (rewrite applied) */
  target = ''
  metrics: RouteMetrics = null as unknown as RouteMetrics
  /** tap: the mirrored copy of this request, and the copy of a streamed body it resends */
  job: MirrorJob | null = null
  capture: BodyCapture | null = null
  /** body: a Buffer once read in full (the default), a stream on a `streamBody` route, or none */
  body: Readable | Buffer | null = null
  /** cache: a miss being filled from this answer */
  cacheTap: CacheTap | null = null
  /** cache: a write drops the cached reads of `path` from this cache again when it answers */
  invalidate: ReadCache | null = null
  /** forward: `proto://host` the client reached the gateway at (null without a Host); set once the head is built */
  client: string | null = null
  /** false after the failover resend: a request fails over once */
  mayFailOver = true

  constructor(req: IncomingMessage, res: ServerResponse, start: number, method: string, path: string, query: string, requestId: string, headers: string[], facts: ClientHeaderFacts) {
    this.req = req
    this.res = res
    this.start = start
    this.method = method
    this.path = path
    this.query = query
    this.requestId = requestId
    this.headers = headers
    this.facts = facts
  }

  /** Seconds since the request arrived. */
  elapsed(): number {
    return (performance.now() - this.start) / 1000
  }
}

/** RFC 9110 §9.2.1: safe methods do not change state (no generated Idempotency-Key, resent freely on failover). */
export const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE'])
