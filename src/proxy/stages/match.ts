import { randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { normalisePath } from '../../routing/normalise-path.ts'
import type { RouteTable } from '../../routing/route-table.ts'
import { sendGatewayError } from '../errors-reply.ts'
import { copyRequestHeaders, emptyHeaderFacts } from '../headers.ts'
import type { MetricsTable } from '../route-metrics.ts'
import { ProxyRequest } from './request.ts'

/** Route label for requests no rule matched and that went to the fallback backend. */
export const FALLBACK_ROUTE = 'fallback'
/** Labels for requests the gateway answered itself (bad path, no route). */
export const NO_ROUTE = 'none'

/**
 * Stage 1, match (docs/architecture.md): reads the request line and the client's headers in one
 * pass, refuses what no backend may see (a path that does not normalise, two Host lines), and finds
 * the first route that matches. Returns the request to carry on with, or null when it was answered
 * here (400, or 404 when nothing matched and there is no fallback backend).
 */
export class MatchStage {
  readonly #table: RouteTable
  readonly #hasFallback: boolean
  readonly #metrics: MetricsTable

  constructor(table: RouteTable, hasFallback: boolean, metrics: MetricsTable) {
    this.#table = table
    this.#hasFallback = hasFallback
    this.#metrics = metrics
  }

  run(req: IncomingMessage, res: ServerResponse): ProxyRequest | null {
    const start = performance.now()
    const url = req.url ?? '/'
    const method = req.method ?? 'GET'
    const q = url.indexOf('?')
    const path = normalisePath(q < 0 ? url : url.slice(0, q))

    const headers: string[] = []
    const facts = emptyHeaderFacts()
    copyRequestHeaders(req.rawHeaders, headers, facts)
    const requestId = facts.requestId ?? randomUUID()

    if (path === null) return this.#refuse(res, 400, 'CUTOVER_BAD_PATH', requestId, start, false)
    // RFC 9112 §3.2: two Host lines name two targets; the gateway and a backend could each pick another one
    if (facts.duplicateHost) return this.#refuse(res, 400, 'CUTOVER_BAD_REQUEST', requestId, start, true)

    const route = this.#table.match(method, path, req.headers)
    if (route === null && !this.#hasFallback) return this.#refuse(res, 404, 'CUTOVER_NO_ROUTE', requestId, start, false)
    const out = new ProxyRequest(req, res, start, method, path, q < 0 ? '' : url.slice(q), requestId, headers, facts)
    out.route = route
    out.routeId = route === null ? FALLBACK_ROUTE : route.id
    return out
  }

  #refuse(res: ServerResponse, status: number, code: 'CUTOVER_BAD_PATH' | 'CUTOVER_BAD_REQUEST' | 'CUTOVER_NO_ROUTE', requestId: string, start: number, close: boolean): null {
    this.#metrics.get(NO_ROUTE, NO_ROUTE).record(status, (performance.now() - start) / 1000)
    sendGatewayError(res, code, requestId, undefined, close)
    return null
  }
}
