import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Logger } from 'pino'
import type { ReadCache } from '../cache/read-cache.ts'
import type { CutoverConfig } from '../config/schema.ts'
import type { Metrics } from '../metrics/metrics.ts'
import type { Mirror } from '../mirror/mirror.ts'
import type { BackendBreaker } from '../resilience/breaker.ts'
import type { RouteTable } from '../routing/route-table.ts'
import type { MetricsTable } from './route-metrics.ts'
import { BodyStage, type BodyReady } from './stages/body.ts'
import { CacheStage, type Forward } from './stages/cache.ts'
import { ChooseSideStage } from './stages/choose-side.ts'
import { ForwardStage } from './stages/forward.ts'
import { MatchStage } from './stages/match.ts'
import type { ProxyRequest } from './stages/request.ts'
import { TapStage } from './stages/tap.ts'
import type { Upstream } from './upstreams.ts'

export { FALLBACK_ROUTE, NO_ROUTE } from './stages/match.ts'

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
 * The data plane's per-request work, independent of the HTTP server framework: one request through
 * the stages in src/proxy/stages/, in this order (docs/architecture.md, "The request path"):
 *
 *   match → choose side → tap for mirror → body → cache → forward (→ ClientExchange)
 *
 * A stage either hands the request on or answers it itself. Everything a stage looks up per
 * request was built here, at start.
 */
export class Forwarder implements BodyReady, Forward {
  readonly #match: MatchStage
  readonly #sides: ChooseSideStage
  readonly #tap: TapStage
  readonly #body: BodyStage
  readonly #cache: CacheStage
  readonly #forward: ForwardStage

  constructor(opts: ForwarderOptions) {
    const { config, metrics } = opts
    const fb = config.fallback
    const sides = {
      legacy: mustGet(opts.upstreams, 'legacy'),
      cloud: mustGet(opts.upstreams, 'cloud'),
      fallback: fb === 404 ? null : mustGet(opts.upstreams, fb),
    }
    this.#match = new MatchStage(opts.table, sides.fallback !== null, metrics)
    this.#sides = new ChooseSideStage(sides, opts.breakers, metrics)
    this.#tap = new TapStage(opts.mirror, config.limits.compareBodyBytes)
    this.#body = new BodyStage(config.limits.bodyBytes, config.limits.mirrorBodyBytes)
    this.#cache = new CacheStage(opts.cache, config.routes, metrics, opts.metricsRegistry)
    this.#forward = new ForwardStage({ config, sides: this.#sides, tap: this.#tap, breakers: opts.breakers, metrics, log: opts.log })
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    const r = this.#match.run(req, res)
    if (r === null || !this.#sides.run(r)) return
    this.#tap.run(r, this.#sides.otherSide(r.upstream))
    this.#body.run(r, this)
  }

  /** The body stage is done (at once without a body; after reading it, or with it streaming). */
  bodyReady(r: ProxyRequest): void {
    this.#cache.run(r, this)
  }

  /** Neither refused nor answered from the cache: to the backend. */
  forward(r: ProxyRequest): void {
    this.#forward.run(r)
  }
}

function mustGet(upstreams: ReadonlyMap<string, Upstream>, name: string): Upstream {
  const u = upstreams.get(name)
  if (u === undefined) throw new Error(`backend '${name}' is not configured`)
  return u
}
