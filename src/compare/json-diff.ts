import { formatFieldPath, generalise, type FieldMatcher, type Segment } from './field-path.ts'
import type { Normalizer } from './normalize.ts'

/**
 * What kind of difference, primary (`a`) against secondary (`b`): `missing` is on the primary
 * only, `extra` on the secondary only, `type` a different JSON type (21 vs "21"), `length` two
 * arrays of different lengths, `too-large` a body over limits.compareBodyBytes (not comparable).
 */
export type DifferenceKind = 'changed' | 'type' | 'missing' | 'extra' | 'length' | 'too-large'

export interface RawDifference {
  readonly path: Segment[]
  readonly kind: DifferenceKind
  readonly a: unknown
  readonly b: unknown
}

/** All differences of one kind under one generalised path (`body.items[*].price`). */
export interface DifferenceGroup {
  readonly path: string
  readonly kind: DifferenceKind
  count: number
  /** every occurrence had a scalar on both sides: a leaf field, the only thing noise learning may learn */
  leaf: boolean
}

/** At most this many groups per comparison; past it the comparison says it truncated. */
export const MAX_GROUPS = 1000

/**
 * Collects the differences of one comparison: the first `maxExamples` in full, and every one
 * counted by generalised path and kind, so that nothing is dropped silently.
 */
export class DifferenceSink {
  readonly examples: RawDifference[] = []
  readonly groups = new Map<string, DifferenceGroup>()
  total = 0
  /** differences hidden by learned noise (still counted, never reported) */
  noise = 0
  /** groups that did not fit under MAX_GROUPS */
  groupsDropped = 0
  readonly #maxExamples: number

  constructor(maxExamples: number) {
    this.#maxExamples = maxExamples
  }

  add(path: readonly Segment[], kind: DifferenceKind, a: unknown, b: unknown, leaf = false): void {
    this.total++
    if (this.examples.length < this.#maxExamples) this.examples.push({ path: [...path], kind, a, b })
    const pattern = formatFieldPath(generalise(path))
    const key = `${kind} ${pattern}`
    const g = this.groups.get(key)
    if (g !== undefined) {
      g.count++
      g.leaf &&= leaf
    } else if (this.groups.size < MAX_GROUPS) this.groups.set(key, { path: pattern, kind, count: 1, leaf })
    else this.groupsDropped++
  }

  get truncated(): boolean {
    return this.examples.length < this.total || this.groupsDropped > 0
  }
}

export interface JsonDiffOptions {
  /** configured ignore patterns (`compare.ignore`): everything below them is left out */
  readonly ignore: FieldMatcher
  /** learned noise: leaf fields whose changed value is counted as noise, not as a difference */
  readonly learned: FieldMatcher | undefined
  readonly ignoreArrayOrder: boolean
  readonly normalize: Normalizer | null
  /** two differing scalars that are nonetheless the same (ids paired across the two sides) */
  readonly equivalent: ((path: readonly Segment[], a: unknown, b: unknown) => boolean) | undefined
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json }

/**
 * Structural diff of two JSON values into `sink`. Missing keys show as `undefined` on their side.
 * Arrays are compared by position (a `length` difference, then element by element) unless
 * `ignoreArrayOrder`, in which case they are compared as multisets of canonical JSON (a
 * difference then names the whole array).
 */
export function jsonDiff(a: unknown, b: unknown, root: Segment[], opts: JsonDiffOptions, sink: DifferenceSink): void {
  walk(a as Json | undefined, b as Json | undefined, root, opts, sink)
}

function walk(a: Json | undefined, b: Json | undefined, path: Segment[], opts: JsonDiffOptions, sink: DifferenceSink): void {
  if (a === b) return
  if (opts.ignore.matches(path)) return
  const ta = kind(a)
  const tb = kind(b)
  if (ta !== tb || ta === 'scalar') {
    if (ta === 'scalar' && tb === 'scalar') {
      if (Number.isNaN(a) && Number.isNaN(b)) return
      if (a !== undefined && b !== undefined) {
        if (opts.normalize?.same(path, a, b) === true) return
        if (opts.equivalent?.(path, a, b) === true) return
        // learned noise hides only a changed value of a leaf, never a field gone or added
        if (opts.learned?.matchesExactly(path) === true) {
          sink.noise++
          return
        }
      }
    }
    sink.add(path, scalarKind(a, b), a, b, ta === 'scalar' && tb === 'scalar' && a !== undefined && b !== undefined)
    return
  }
  if (ta === 'array') {
    const xa = a as Json[]
    const xb = b as Json[]
    if (opts.ignoreArrayOrder) {
      if (!sameMultiset(xa, xb, path, opts)) sink.add(path, xa.length === xb.length ? 'changed' : 'length', a, b)
      return
    }
    if (xa.length !== xb.length) sink.add(path, 'length', xa.length, xb.length)
    const n = Math.max(xa.length, xb.length)
    for (let i = 0; i < n; i++) {
      path.push(i)
      walk(xa[i], xb[i], path, opts, sink)
      path.pop()
    }
    return
  }
  const oa = a as Record<string, Json>
  const ob = b as Record<string, Json>
  for (const k of Object.keys(oa)) {
    path.push(k)
    walk(oa[k], Object.hasOwn(ob, k) ? ob[k] : undefined, path, opts, sink)
    path.pop()
  }
  for (const k of Object.keys(ob)) {
    if (Object.hasOwn(oa, k)) continue
    path.push(k)
    walk(undefined, ob[k], path, opts, sink)
    path.pop()
  }
}

function scalarKind(a: Json | undefined, b: Json | undefined): DifferenceKind {
  if (b === undefined) return 'missing'
  if (a === undefined) return 'extra'
  return typeof a === typeof b && (a === null) === (b === null) ? 'changed' : 'type'
}

function kind(v: Json | undefined): 'array' | 'object' | 'scalar' {
  if (Array.isArray(v)) return 'array'
  if (v !== null && typeof v === 'object') return 'object'
  return 'scalar'
}

function sameMultiset(a: Json[], b: Json[], path: Segment[], opts: JsonDiffOptions): boolean {
  if (a.length !== b.length) return false
  const counts = new Map<string, number>()
  for (let i = 0; i < a.length; i++) {
    const k = canonical(a[i], [...path, i], opts)
    counts.set(k, (counts.get(k) ?? 0) + 1)
  }
  for (let i = 0; i < b.length; i++) {
    const k = canonical(b[i], [...path, i], opts)
    const c = counts.get(k)
    if (c === undefined || c === 0) return false
    counts.set(k, c - 1)
  }
  return true
}

function skippedInCanonical(path: readonly Segment[], opts: JsonDiffOptions): boolean {
  return opts.ignore.matches(path) || opts.learned?.matchesExactly(path) === true
}

/**
 * JSON with sorted keys, ignored fields left out and (this is only used when order does not
 * matter) every nested array sorted too, so equal-but-reordered values match.
 */
function canonical(v: Json | undefined, path: Segment[], opts: JsonDiffOptions): string {
  if (Array.isArray(v)) {
    const parts: string[] = []
    for (let i = 0; i < v.length; i++) {
      path.push(i)
      if (!skippedInCanonical(path, opts)) parts.push(canonical(v[i], path, opts))
      path.pop()
    }
    return `[${parts.sort().join(',')}]`
  }
  if (v !== null && typeof v === 'object') {
    const parts: string[] = []
    for (const k of Object.keys(v).sort()) {
      path.push(k)
      if (!skippedInCanonical(path, opts)) parts.push(`${JSON.stringify(k)}:${canonical(v[k], path, opts)}`)
      path.pop()
    }
    return `{${parts.join(',')}}`
  }
  return JSON.stringify(v) ?? 'undefined'
}
