import type { DiffEvent, DiffKind } from '../publish/events.ts'
import { formatFieldPath, generalise, parseFieldPath, STAR, type Segment } from './field-path.ts'
import type { DifferenceKind } from './json-diff.ts'

export const DEFAULT_DIFF_LOG_SIZE = 500
/** Distinct (route, method, field, kind) groups kept by the summary; past it new groups are counted only. */
export const MAX_SUMMARY_GROUPS = 10_000

/** `GET /diffs` filters; every one is optional and they all must hold. */
export interface DiffFilter {
  readonly route?: string | undefined
  /** an event kind (`mismatch`, `secondary-error`, …) or a difference kind (`changed`, `type`, …) */
  readonly kind?: string | undefined
  readonly method?: string | undefined
  /** the client path, or a prefix of it ending in `/` or `*` */
  readonly path?: string | undefined
  /** a field pattern (`body.items[*].price`): events with a difference at or below it */
  readonly field?: string | undefined
}

export const EVENT_KINDS: readonly DiffKind[] = ['mismatch', 'secondary-error', 'secondary-timeout', 'not-mirrored', 'primary-unknown']
export const DIFFERENCE_KINDS: readonly DifferenceKind[] = ['changed', 'type', 'missing', 'extra', 'length', 'too-large']

/** One group of the summary: how often this field differed this way on this route and method. */
export interface DiffGroup {
  route: string
  method: string
  /** generalised field path; null for events that are not about a field (a secondary error) */
  field: string | null
  /** the difference kind, or the event kind when `field` is null */
  kind: string
  count: number
  firstSeen: string
  lastSeen: string
  /** one pair as the event showed it (already redacted): the primary's value and the secondary's */
  example: { requestId: string; path: string; primary: string; secondary: string; values: Record<string, unknown> } | null
}

export interface DiffSummary {
  groups: DiffGroup[]
  events: number
  /** groups that did not fit under MAX_SUMMARY_GROUPS (their events are in `events` only) */
  droppedGroups: number
}

/**
 * The filter `want` is at or above the group path `got`; a wildcard on either side matches any
 * one segment, so `body.items[3].price` finds the group `body.items[*].price` and vice versa.
 */
function covers(want: readonly Segment[], got: readonly Segment[]): boolean {
  if (want.length > got.length) return false
  for (let i = 0; i < want.length; i++) if (want[i] !== got[i] && want[i] !== STAR && got[i] !== STAR) return false
  return true
}

/** A compiled DiffFilter. */
class EventFilter {
  readonly #f: DiffFilter
  readonly #field: Segment[] | null
  readonly #prefix: string | null

  constructor(f: DiffFilter) {
    this.#f = f
    this.#field = f.field === undefined ? null : parseFieldPath(f.field)
    const p = f.path
    this.#prefix = p === undefined ? null : p.endsWith('*') ? p.slice(0, -1) : p.endsWith('/') ? p : null
  }

  accepts(e: DiffEvent): boolean {
    const f = this.#f
    if (f.route !== undefined && e.route !== f.route) return false
    if (f.method !== undefined && e.method !== f.method.toUpperCase()) return false
    if (f.path !== undefined) {
      const path = e.path.split('?', 1)[0] as string
      if (this.#prefix !== null ? !path.startsWith(this.#prefix) : path !== f.path) return false
    }
    if (f.kind !== undefined && e.kind !== f.kind && !(e.fields ?? []).some((g) => g.kind === f.kind)) return false
    if (this.#field !== null) {
      const want = this.#field
      if (!(e.fields ?? []).some((g) => covers(want, parseFieldPath(g.path)))) return false
    }
    return true
  }
}

/**
 * The most recent diff events, in memory, for `GET /diffs` and the ops page; and a running
 * summary of every event since start, grouped by route, method, field and kind, for
 * `GET /diffs/summary`.
 */
export class DiffLog {
  readonly #events: DiffEvent[] = []
  readonly #size: number
  readonly #groups = new Map<string, DiffGroup>()
  #count = 0
  #dropped = 0

  constructor(size = DEFAULT_DIFF_LOG_SIZE) {
    this.#size = size
  }

  add(event: DiffEvent): void {
    this.#events.push(event)
    if (this.#events.length > this.#size) this.#events.shift()
    this.#count++
    const fields = event.kind === 'mismatch' && event.fields !== undefined && event.fields.length > 0 ? event.fields : null
    if (fields === null) {
      this.#group(event, null, event.kind, 1, null)
      return
    }
    for (const g of fields) this.#group(event, g.path, g.kind, g.count, g)
  }

  /** `of`: the event's field group this summary group counts; its example is looked for only when the group is new. */
  #group(e: DiffEvent, field: string | null, kind: string, count: number, of: { path: string; kind: string } | null): void {
    const key = groupKey(e.route, e.method, field, kind)
    const have = this.#groups.get(key)
    if (have !== undefined) {
      have.count += count
      have.lastSeen = e.time
      return
    }
    if (this.#groups.size >= MAX_SUMMARY_GROUPS) {
      this.#dropped++
      return
    }
    const example = of === null ? null : (e.differences.find((d) => d.kind === of.kind && formatFieldPath(generalise(parseFieldPath(d.path))) === of.path) ?? null)
    const values: Record<string, unknown> = {}
    if (example !== null) {
      values[e.primary] = example[e.primary]
      values[e.secondary] = example[e.secondary]
    }
    this.#groups.set(key, {
      route: e.route,
      method: e.method,
      field,
      kind,
      count,
      firstSeen: e.time,
      lastSeen: e.time,
      example: example === null ? null : { requestId: e.requestId, path: e.path, primary: e.primary, secondary: e.secondary, values },
    })
  }

  /** Newest first, filtered. */
  recent(filter: DiffFilter, limit: number): DiffEvent[] {
    const f = new EventFilter(filter)
    const out: DiffEvent[] = []
    for (let i = this.#events.length - 1; i >= 0 && out.length < limit; i--) {
      const e = this.#events[i] as DiffEvent
      if (f.accepts(e)) out.push(e)
    }
    return out
  }

  /** Groups, most frequent first, optionally for one route. */
  summary(route: string | undefined): DiffSummary {
    const groups = [...this.#groups.values()].filter((g) => route === undefined || g.route === route)
    return { groups: sortGroups(groups), events: this.#count, droppedGroups: this.#dropped }
  }
}

/** One summary group per route, method, field and kind (in DiffLog and when merging workers). */
function groupKey(route: string, method: string, field: string | null, kind: string): string {
  return `${route}\0${method}\0${field ?? ''}\0${kind}`
}

function sortGroups(groups: DiffGroup[]): DiffGroup[] {
  return groups.sort((a, b) => b.count - a.count || (a.lastSeen < b.lastSeen ? 1 : -1))
}

/** Merges several processes' recent diffs, newest first. */
export function mergeDiffs(parts: readonly DiffEvent[][], limit: number): DiffEvent[] {
  return parts
    .flat()
    .sort((a, b) => (a.time < b.time ? 1 : a.time > b.time ? -1 : 0))
    .slice(0, limit)
}

/** Merges several processes' summaries: counts add up, first/last seen widen, the first example stays. */
export function mergeSummaries(parts: readonly DiffSummary[]): DiffSummary {
  const groups = new Map<string, DiffGroup>()
  let events = 0
  let droppedGroups = 0
  for (const part of parts) {
    events += part.events
    droppedGroups += part.droppedGroups
    for (const g of part.groups) {
      const key = groupKey(g.route, g.method, g.field, g.kind)
      const have = groups.get(key)
      if (have === undefined) groups.set(key, { ...g })
      else {
        have.count += g.count
        if (g.firstSeen < have.firstSeen) have.firstSeen = g.firstSeen
        if (g.lastSeen > have.lastSeen) have.lastSeen = g.lastSeen
        have.example ??= g.example
      }
    }
  }
  return { groups: sortGroups([...groups.values()]), events, droppedGroups }
}
