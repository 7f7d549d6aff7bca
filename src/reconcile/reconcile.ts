import { FieldMatcher } from '../compare/field-path.ts'
import { Normalizer } from '../compare/normalize.ts'
import type { CutoverConfig, RouteConfig } from '../config/schema.ts'
import { readStateFile } from '../control/state-file.ts'
import { configSource } from '../config/load.ts'
import { CutoverError } from '../errors.ts'
import type { IdMap, Side } from '../ids/id-map.ts'
import { diffCollections, differenceCount, type CollectionFindings, type DifferingItem } from './collection-diff.ts'
import { collectionSpec, type CollectionSpec } from './collection-spec.ts'
import { walkCollection, type WalkResult, type WalkStop } from './collection-walker.ts'
import { repair, type RepairSummary } from './repair.ts'

export const RECONCILE_SCHEMA = 'cutover.reconcile/v1'
export const DEFAULT_MAX_PAGES = 1000
export const DEFAULT_TIMEOUT_MS = 120_000

export interface ReconcileOptions {
  readonly config: CutoverConfig
  readonly ids: IdMap
  /** one route; default every route with a `reconcile` section */
  readonly route?: string
  /** the side that is right; default legacy until the route's weight is 100, then cloud */
  readonly source?: Side
  readonly repair: boolean
  readonly repairExtra: boolean
  /** pages read per side and walk */
  readonly maxPages: number
  /** for the whole run: walks, repairs and the re-check */
  readonly timeoutMs: number
  readonly headers: Readonly<Record<string, string>>
  readonly progress?: (line: string) => void
}

export interface SideRead {
  readonly pages: number
  readonly items: number
  readonly withoutId: number
  /** `end`: read to the end; otherwise why it stopped (`max-pages`, `timeout`, `error`) */
  readonly stop: WalkStop
  readonly error?: string
}

export interface RouteReport {
  readonly route: string
  readonly map: string
  readonly source: Side
  readonly target: Side
  readonly read: Record<Side, SideRead>
  readonly matched: number
  readonly missing: string[]
  readonly extra: string[]
  readonly differs: DifferingItem[]
  readonly unchecked: { missing: number; extra: number }
  /** missing + extra + differing items + items without an id */
  readonly differences: number
  /** both sides read to the end */
  readonly complete: boolean
  /** with --repair: what was sent, and how many differences the first pass found */
  readonly repair?: RepairSummary & { readonly before: number }
}

export interface ReconcileReport {
  readonly schema: typeof RECONCILE_SCHEMA
  readonly routes: RouteReport[]
  readonly differences: number
  readonly complete: boolean
}

const other = (side: Side): Side => (side === 'legacy' ? 'cloud' : 'legacy')

/** The route's `ids` section (added with id translation); read structurally so this file does not depend on its shape. */
function idsOf(route: RouteConfig): { map?: string; from?: string } {
  const ids = (route as { ids?: { map?: string; from?: string } }).ids
  return ids ?? {}
}

function read(w: WalkResult): SideRead {
  return { pages: w.pages, items: w.items.size, withoutId: w.withoutId, stop: w.stop, ...(w.error === undefined ? {} : { error: w.error }) }
}

/** Exit status of `cutover reconcile`: 0 only when every route was read to the end and nothing differs. */
export function exitCode(report: ReconcileReport): number {
  return report.differences === 0 && report.complete ? 0 : 1
}

/**
 * `cutover reconcile`: for each route, walks the collection on both backends, matches items
 * through the id map and reports missing, extra and differing items. With `repair`, sends the
 * source's version of what differs, then walks both sides again and reports what remains.
 */
export async function reconcile(opts: ReconcileOptions): Promise<ReconcileReport> {
  const { config } = opts
  const routes = config.routes.filter((r) => r.reconcile !== undefined && (opts.route === undefined || r.id === opts.route))
  if (opts.route !== undefined && routes.length === 0) {
    const known = config.routes.some((r) => r.id === opts.route)
    throw new CutoverError('CUTOVER_ROUTE_NOT_FOUND', known ? `route '${opts.route}' has no reconcile section` : `unknown route '${opts.route}'`)
  }
  if (routes.length === 0) throw new CutoverError('CUTOVER_CONFIG_INVALID', 'no route has a reconcile section (see docs/mirroring.md)')
  // the live weight decides the source of truth; a state file of another config does not count
  const kept = await readStateFile(config.state.file)
  const loadedFrom = configSource(config)
  const state = kept.config !== undefined && loadedFrom !== undefined && kept.config.path !== loadedFrom.path ? {} : kept.routes
  const signal = AbortSignal.timeout(opts.timeoutMs)
  const out: RouteReport[] = []
  for (const route of routes) {
    const weight = state[route.id]?.weight ?? route.weight
    const source = opts.source ?? (weight === 100 ? 'cloud' : 'legacy')
    out.push(await reconcileRoute(route, source, config, opts, signal))
  }
  return {
    schema: RECONCILE_SCHEMA,
    routes: out,
    differences: out.reduce((n, r) => n + r.differences, 0),
    complete: out.every((r) => r.complete),
  }
}

async function reconcileRoute(route: RouteConfig, source: Side, config: CutoverConfig, opts: ReconcileOptions, signal: AbortSignal): Promise<RouteReport> {
  const target = other(source)
  const specs: Record<Side, CollectionSpec> = { legacy: collectionSpec(config, route, 'legacy'), cloud: collectionSpec(config, route, 'cloud') }
  const map = idsOf(route).map ?? route.id
  const r = route.reconcile
  if (r === undefined) throw new Error('unreachable: filtered on reconcile')
  const ignore = new FieldMatcher([...(route.compare?.ignore ?? []), ...r.ignore])
  for (const spec of Object.values(specs)) ignore.add(['body', ...spec.id])
  const ctx = { map, source, ids: opts.ids, ignore, ignoreArrayOrder: route.compare?.ignoreArrayOrder ?? false, normalize: Normalizer.compile(route.compare?.normalize), redact: new FieldMatcher(route.redact ?? []) }

  const walk = async (pass: string): Promise<Record<Side, WalkResult>> => {
    const walkOpts = {
      headers: opts.headers,
      maxPages: opts.maxPages,
      signal,
      progress: (side: string, pages: number, items: number) => opts.progress?.(`reconcile ${route.id}${pass}: ${side} page ${pages}, ${items} items`),
    }
    const [legacy, cloud] = await Promise.all([walkCollection(specs.legacy, walkOpts), walkCollection(specs.cloud, walkOpts)])
    return { legacy, cloud }
  }

  let walks = await walk('')
  let findings = diffCollections(walks[source], walks[target], ctx)
  let repaired: RouteReport['repair']
  if (opts.repair) {
    const before = count(findings, walks)
    const hasWork = findings.missing.length + findings.differs.length + (opts.repairExtra ? findings.extra.length : 0) > 0
    if (hasWork) {
      const createdId = idsOf(route).from
      const summary = await repair(findings, walks[source], walks[target], {
        map,
        source: specs[source],
        target: specs[target],
        method: r.repairMethod,
        ids: opts.ids,
        headers: opts.headers,
        signal,
        extra: opts.repairExtra,
        ...(createdId === undefined ? {} : { createdId }),
      })
      repaired = { ...summary, before }
      // a full second walk, not per-item reads: it also catches what changed meanwhile
      walks = await walk(' (re-check)')
      findings = diffCollections(walks[source], walks[target], ctx)
    } else repaired = { updated: 0, created: 0, deleted: 0, failed: [], paired: [], before }
  }
  return {
    route: route.id,
    map,
    source,
    target,
    read: { legacy: read(walks.legacy), cloud: read(walks.cloud) },
    matched: findings.matched,
    missing: findings.missing,
    extra: findings.extra,
    differs: findings.differs,
    unchecked: findings.unchecked,
    differences: count(findings, walks),
    complete: walks.legacy.stop === 'end' && walks.cloud.stop === 'end',
    ...(repaired === undefined ? {} : { repair: repaired }),
  }
}

function count(f: CollectionFindings, walks: Record<Side, WalkResult>): number {
  return differenceCount(f) + walks.legacy.withoutId + walks.cloud.withoutId
}
