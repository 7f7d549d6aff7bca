import type { RouteConfig } from '../config/schema.ts'
import type { CutoverConfig } from '../config/schema.ts'
import { parseFieldPath, parseItemPath, type Segment } from '../compare/field-path.ts'
import type { Side } from '../ids/id-map.ts'
import { compilePathPattern, compilePathTemplate, fillPathTemplate } from '../routing/path-pattern.ts'

export type Pagination = NonNullable<RouteConfig['reconcile']>['pagination']

/** How to read one route's collection on one backend, resolved once from the config. */
export interface CollectionSpec {
  readonly route: string
  readonly side: Side
  /** `http://host:port` of the backend */
  readonly origin: string
  /** the list path as the backend gets it: base path + (rewritten) list path, query kept */
  readonly listPath: string
  readonly items: readonly Segment[]
  readonly id: readonly Segment[]
  readonly pagination: Pagination
  /** the backend path of one item, or undefined when the route has no `reconcile.item` */
  itemPath(id: string): string | undefined
  readonly timeoutMs: number
}

/**
 * A client-facing path (`/posts`, `/posts/:id` filled in) as `backend` gets it: the route's rewrite
 * for that backend when the path matches the route path (the config check refuses a rewritten
 * backend whose path does not match and has no override), else the path unchanged.
 */
function rewriter(route: RouteConfig, backend: Side): (clientPath: string) => string {
  const template = route.rewrite?.[backend]
  if (template === undefined) return (clientPath) => clientPath
  const pattern = compilePathPattern(route.path)
  const compiled = compilePathTemplate(template, pattern.params)
  return (clientPath) => {
    const q = clientPath.indexOf('?')
    const match = pattern.regex.exec(q < 0 ? clientPath : clientPath.slice(0, q))
    if (match === null) return clientPath
    return fillPathTemplate(compiled, match) + (q < 0 ? '' : clientPath.slice(q))
  }
}

export function collectionSpec(config: CutoverConfig, route: RouteConfig, side: Side): CollectionSpec {
  const r = route.reconcile
  const backend = config.backends[side]
  if (r === undefined || backend === undefined) throw new Error(`route '${route.id}' has no reconcile section`)
  const own = r.backends?.[side]
  const url = new URL(backend.url)
  const basePath = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '')
  const rewritten = rewriter(route, side)
  const listPath = basePath + (own?.list ?? rewritten(r.list))
  const itemTemplate = own?.item ?? r.item
  return {
    route: route.id,
    side,
    origin: url.origin,
    listPath,
    items: parseFieldPath(own?.items ?? r.items),
    id: parseItemPath(own?.id ?? r.id),
    pagination: own?.pagination ?? r.pagination,
    timeoutMs: backend.timeoutMs,
    itemPath(id: string): string | undefined {
      if (itemTemplate === undefined) return undefined
      const filled = itemTemplate.replaceAll(':id', encodeURIComponent(id))
      return basePath + (own?.item !== undefined ? filled : rewritten(filled))
    },
  }
}
