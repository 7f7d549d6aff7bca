import type { BackendBreaker } from '../../resilience/breaker.ts'
import { chooseCloud, stickyKey, upstreamPath } from '../../routing/route-table.ts'
import { sendGatewayError } from '../errors-reply.ts'
import type { MetricsTable } from '../route-metrics.ts'
import type { Upstream } from '../upstreams.ts'
import type { ProxyRequest } from './request.ts'

/** The backends a request can be sent to. */
export interface Sides {
  readonly legacy: Upstream
  readonly cloud: Upstream
  /** null: `fallback: 404` (then the match stage has already answered unmatched requests) */
  readonly fallback: Upstream | null
}

/**
 * Stage 2, choose side (docs/architecture.md): the route's weight and the sticky key pick the
 * primary; when its breaker is open and nothing has been sent, the other side serves (reads and
 * writes alike: a write reaches the open side later through replay). Unmatched requests go to the
 * fallback backend. Sets `upstream`, `target` and `metrics`; false when the request was answered
 * here (503, every side it could go to has its breaker open).
 */
export class ChooseSideStage {
  readonly #sides: Sides
  readonly #breakers: ReadonlyMap<string, BackendBreaker>
  readonly #metrics: MetricsTable

  constructor(sides: Sides, breakers: ReadonlyMap<string, BackendBreaker>, metrics: MetricsTable) {
    this.#sides = sides
    this.#breakers = breakers
    this.#metrics = metrics
  }

  run(r: ProxyRequest): boolean {
    const route = r.route
    let upstream: Upstream
    if (route !== null) {
      const { legacy, cloud } = this.#sides
      let toCloud = chooseCloud(route, stickyKey(route.sticky, r.req))
      if (this.#breakers.size > 0 && !this.allows(toCloud ? cloud : legacy)) {
        if (!this.allows(toCloud ? legacy : cloud)) return this.#refuse(r, toCloud ? cloud : legacy)
        toCloud = !toCloud
      }
      upstream = toCloud ? cloud : legacy
      r.target = upstreamPath(route, r.path, upstream.name)
    } else {
      upstream = this.#sides.fallback as Upstream
      if (!this.allows(upstream)) return this.#refuse(r, upstream)
      r.target = r.path
    }
    r.upstream = upstream
    r.metrics = this.#metrics.get(r.routeId, upstream.name)
    return true
  }

  /** The other side of a routed request, for the mirror and for failover. */
  otherSide(upstream: Upstream): Upstream {
    return upstream === this.#sides.cloud ? this.#sides.legacy : this.#sides.cloud
  }

  /** false while the backend's breaker is open. */
  allows(upstream: Upstream): boolean {
    if (this.#breakers.size === 0) return true
    const b = this.#breakers.get(upstream.name)
    return b === undefined || b.allows()
  }

  #refuse(r: ProxyRequest, upstream: Upstream): false {
    this.#metrics.get(r.routeId, upstream.name).record(503, r.elapsed())
    sendGatewayError(r.res, 'CUTOVER_BREAKER_OPEN', r.requestId)
    return false
  }
}
