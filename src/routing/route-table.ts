import type { CutoverConfig, RouteConfig } from '../config/schema.ts'
import type { RouteState } from '../control/route-state.ts'
import { compilePathPattern, compilePathTemplate, fillPathTemplate, type PathPattern, type PathTemplate } from './path-pattern.ts'
import { bucketOf, cookieValue, groupSeed, BUCKETS, DEFAULT_STICKY_GROUP } from './sticky.ts'

export type Sticky = { readonly kind: 'header' | 'cookie'; readonly name: string } | { readonly kind: 'ip' } | null

/** A route compiled at start: everything the hot path needs, precomputed. */
export interface CompiledRoute {
  readonly id: string
  readonly config: RouteConfig
  readonly methods: ReadonlySet<string>
  readonly pattern: PathPattern
  readonly headerMatch: readonly (readonly [string, string])[]
  readonly sticky: Sticky
  /** the sticky group's seed: the same for every route of a group */
  readonly seed: number
  /** backend name → path template; absent → the request path unchanged. */
  readonly rewrite: ReadonlyMap<string, PathTemplate>
  /** Mutable, shared with the control plane. */
  readonly state: RouteState
}


export function compileRoute(config: RouteConfig, state: RouteState): CompiledRoute {
  const pattern = compilePathPattern(config.path)
  const rewrite = new Map<string, PathTemplate>()
  for (const [backend, template] of Object.entries(config.rewrite ?? {})) {
    rewrite.set(backend, compilePathTemplate(template, pattern.params))
  }
  let sticky: Sticky = null
  if (config.sticky === 'ip') sticky = { kind: 'ip' }
  else if (config.sticky !== undefined && 'header' in config.sticky) sticky = { kind: 'header', name: config.sticky.header }
  else if (config.sticky !== undefined) sticky = { kind: 'cookie', name: config.sticky.cookie }
  return {
    id: config.id,
    config,
    methods: new Set(config.methods),
    pattern,
    headerMatch: Object.entries(config.match?.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v] as const),
    sticky,
    seed: groupSeed(config.stickyGroup ?? DEFAULT_STICKY_GROUP),
    rewrite,
    state,
  }
}

/** First matching rule wins, in config order. Routes are pre-split by method. */
export class RouteTable {
  readonly routes: readonly CompiledRoute[]
  readonly #byMethod = new Map<string, CompiledRoute[]>()

  constructor(config: CutoverConfig, states: ReadonlyMap<string, RouteState>) {
    this.routes = config.routes.map((r) => {
      const state = states.get(r.id)
      if (state === undefined) throw new Error(`no state for route ${r.id}`)
      return compileRoute(r, state)
    })
    for (const route of this.routes) {
      for (const method of route.methods) {
        let list = this.#byMethod.get(method)
        if (list === undefined) this.#byMethod.set(method, (list = []))
        list.push(route)
      }
    }
  }

  /**
   * The first route for this request, or null. Only tests the pattern: the captures are taken by
   * `pathMatch` when something needs them (a rewrite, the mirror's id translation).
   */
  match(method: string, path: string, headers: Record<string, string | string[] | undefined>): CompiledRoute | null {
    const list = this.#byMethod.get(method)
    if (list === undefined) return null
    for (let i = 0; i < list.length; i++) {
      const route = list[i] as CompiledRoute
      if (!route.pattern.regex.test(path)) continue
      if (route.headerMatch.length > 0 && !headersMatch(route.headerMatch, headers)) continue
      return route
    }
    return null
  }

  get(id: string): CompiledRoute | undefined {
    return this.routes.find((r) => r.id === id)
  }
}

function headersMatch(rules: readonly (readonly [string, string])[], headers: Record<string, string | string[] | undefined>): boolean {
  for (const [name, value] of rules) {
    if (headers[name] !== value) return false
  }
  return true
}

/** The captures of a path `route` matched (its parameters, in `pattern.params` order). */
export function pathMatch(route: CompiledRoute, path: string): RegExpExecArray {
  const match = route.pattern.regex.exec(path)
  if (match === null) throw new Error(`route ${route.id} does not match ${path}`)
  return match
}

/** What the sticky key is read from: a request's headers and its connection. */
export interface StickySource {
  readonly headers: Record<string, string | string[] | undefined>
  readonly socket: { readonly remoteAddress?: string | undefined }
}

/**
 * The sticky key of a request, or undefined when it has none (then the choice is random). The
 * client address is read only for `sticky: 'ip'` (node asks the kernel for it on first use).
 */
export function stickyKey(sticky: Sticky, req: StickySource): string | undefined {
  if (sticky === null) return undefined
  const headers = req.headers
  if (sticky.kind === 'ip') return req.socket.remoteAddress
  if (sticky.kind === 'header') {
    const v = headers[sticky.name]
    return Array.isArray(v) ? v[0] : v
  }
  const cookie = headers.cookie
  return cookieValue(Array.isArray(cookie) ? cookie.join('; ') : cookie, sticky.name)
}

/** true → cloud is primary. */
export function chooseCloud(route: CompiledRoute, key: string | undefined): boolean {
  const weight = route.state.weight
  if (weight <= 0) return false
  if (weight >= 100) return true
  const bucket = key === undefined || key === '' ? Math.floor(Math.random() * BUCKETS) : bucketOf(key, route.seed)
  return bucket < weight * 100
}

/**
 * The path to send to `backend`: the route's rewrite template if it has one, else the request
 * path. `match`: the path's captures when the caller already took them (no second regex run).
 */
export function upstreamPath(route: CompiledRoute, path: string, backend: string, match?: RegExpExecArray): string {
  if (route.rewrite.size === 0) return path
  const template = route.rewrite.get(backend)
  return template === undefined ? path : fillPathTemplate(template, match ?? pathMatch(route, path))
}
