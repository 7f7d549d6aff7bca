import { DEFAULT_MAX_EXAMPLES } from '../compare/comparator.ts'
import { formatFieldPath, type FieldMatcher, type Segment } from '../compare/field-path.ts'
import { DifferenceSink, jsonDiff, type DifferenceKind } from '../compare/json-diff.ts'
import type { Normalizer } from '../compare/normalize.ts'
import type { IdMap, Side } from '../ids/id-map.ts'
import { isSecretPath, REDACTED } from '../publish/redact.ts'
import type { WalkResult } from './collection-walker.ts'

/** One differing field of a matched item: `body.title` (the item is `body`, as its own GET would answer). */
export interface FieldDifference {
  readonly path: string
  readonly kind: DifferenceKind
  readonly source: unknown
  readonly target: unknown
}

export interface DifferingItem {
  /** the id on the source side, and on the target side (the same unless paired in the id map) */
  readonly id: string
  readonly targetId: string
  readonly fields: FieldDifference[]
  /** more than DEFAULT_MAX_EXAMPLES fields differ; only the first are listed */
  readonly total: number
  readonly truncated: boolean
}

export interface CollectionFindings {
  matched: number
  readonly missing: string[]
  readonly extra: string[]
  readonly differs: DifferingItem[]
  /**
   * A side read only in part (max pages, deadline, an error) cannot prove an item absent: source
   * items without a counterpart in the target's pages read are counted here instead of `missing`
   * when the target was cut short, and likewise for `extra`.
   */
  readonly unchecked: { missing: number; extra: number }
}

export interface DiffContext {
  readonly map: string
  readonly source: Side
  readonly ids: IdMap
  /** route compare.ignore + reconcile.ignore + the id fields, rooted at `body` */
  readonly ignore: FieldMatcher
  readonly ignoreArrayOrder: boolean
  /** the route's compare.normalize: the same accepted spellings as the mirror's comparison */
  readonly normalize: Normalizer | null
  readonly redact: FieldMatcher
}

const ROOT: Segment[] = ['body']

function shown(path: Segment[], value: unknown, redact: FieldMatcher): unknown {
  return isSecretPath(path, redact) ? REDACTED : value
}

/**
 * Matches the source's items with the target's — through the id map when a pair is known (legacy
 * id ↔ cloud id), else by equal id (services that keep the client's ids) — and compares every
 * matched pair field by field. The id field is not compared (matched means equal modulo the map),
 * and neither is any other field whose two values are a known pair.
 */
export function diffCollections(source: WalkResult, target: WalkResult, ctx: DiffContext): CollectionFindings {
  const out: CollectionFindings = { matched: 0, missing: [], extra: [], differs: [], unchecked: { missing: 0, extra: 0 } }
  const claimed = new Set<string>()
  for (const [id, item] of source.items) {
    const paired = ctx.ids.translate(ctx.map, ctx.source, id)
    const targetId = paired !== undefined && target.items.has(paired) ? paired : target.items.has(id) ? id : undefined
    if (targetId === undefined) {
      if (target.stop === 'end') out.missing.push(id)
      else out.unchecked.missing++
      continue
    }
    claimed.add(targetId)
    out.matched++
    const sink = new DifferenceSink(DEFAULT_MAX_EXAMPLES)
    jsonDiff(item, target.items.get(targetId), [...ROOT], {
      ignore: ctx.ignore,
      learned: undefined,
      ignoreArrayOrder: ctx.ignoreArrayOrder,
      normalize: ctx.normalize,
      // a field holding a known pair (a reference to another item: legacy 21, cloud "c-5f3a…") is equal modulo the map
      equivalent: (_path, a, b) => ctx.ids.same(ctx.map, ctx.source, a, b),
    }, sink)
    if (sink.total === 0) continue
    out.differs.push({
      id,
      targetId,
      truncated: sink.truncated,
      total: sink.total,
      fields: sink.examples.map((d) => ({ path: formatFieldPath(d.path), kind: d.kind, source: shown(d.path, d.a, ctx.redact), target: shown(d.path, d.b, ctx.redact) })),
    })
  }
  for (const id of target.items.keys()) {
    if (claimed.has(id)) continue
    if (source.stop === 'end') out.extra.push(id)
    else out.unchecked.extra++
  }
  return out
}

export function differenceCount(f: CollectionFindings): number {
  return f.missing.length + f.extra.length + f.differs.length
}
