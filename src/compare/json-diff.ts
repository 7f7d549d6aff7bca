import type { FieldMatcher, Segment } from './field-path.ts'

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

export interface JsonDiffOptions {
  readonly ignore: readonly FieldMatcher[]
  readonly ignoreArrayOrder: boolean
  /** Stop after this many differences (the event says it was truncated). */
  readonly limit: number
  /** Two differing scalars that still name the same thing (ids paired by the id map). */
  readonly equivalent?: ((path: readonly Segment[], a: unknown, b: unknown) => boolean) | undefined
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json }

/**
 * Structural diff of two JSON values. Missing keys show as `undefined` on their side. Arrays are
 * compared by position unless `ignoreArrayOrder`, in which case they are compared as multisets of
 * canonical JSON (a difference then names the whole array).
 */
export function jsonDiff(a: unknown, b: unknown, root: Segment[], opts: JsonDiffOptions, out: RawDifference[]): void {
  walk(a as Json | undefined, b as Json | undefined, root, opts, out)
}

function ignored(path: Segment[], opts: JsonDiffOptions): boolean {
  for (const m of opts.ignore) if (m.matches(path)) return true
  return false
}

function walk(a: Json | undefined, b: Json | undefined, path: Segment[], opts: JsonDiffOptions, out: RawDifference[]): void {
  if (out.length >= opts.limit) return
  if (ignored(path, opts)) return
  if (a === b) return
  const ta = kind(a)
  const tb = kind(b)
  if (ta !== tb || ta === 'scalar') {
    if (ta === 'scalar' && tb === 'scalar' && Number.isNaN(a) && Number.isNaN(b)) return
    if (ta === 'scalar' && tb === 'scalar' && opts.equivalent?.(path, a, b) === true) return
    out.push({ path: [...path], kind: scalarKind(a, b), a, b })
    return
  }
  if (ta === 'array') {
    const xa = a as Json[]
    const xb = b as Json[]
    if (opts.ignoreArrayOrder) {
      if (!sameMultiset(xa, xb, path, opts)) out.push({ path: [...path], kind: xa.length === xb.length ? 'changed' : 'length', a, b })
      return
    }
    const n = Math.max(xa.length, xb.length)
    for (let i = 0; i < n && out.length < opts.limit; i++) {
      path.push(i)
      walk(xa[i], xb[i], path, opts, out)
      path.pop()
    }
    return
  }
  const oa = a as Record<string, Json>
  const ob = b as Record<string, Json>
  const keys = new Set([...Object.keys(oa), ...Object.keys(ob)])
  for (const k of keys) {
    if (out.length >= opts.limit) return
    path.push(k)
    walk(Object.hasOwn(oa, k) ? oa[k] : undefined, Object.hasOwn(ob, k) ? ob[k] : undefined, path, opts, out)
    path.pop()
  }
}

function scalarKind(a: Json | undefined, b: Json | undefined): RawDifference['kind'] {
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

/**
 * JSON with sorted keys, ignored fields left out and (this is only used when order does not
 * matter) every nested array sorted too, so equal-but-reordered values match.
 */
function canonical(v: Json | undefined, path: Segment[], opts: JsonDiffOptions): string {
  if (Array.isArray(v)) {
    const parts: string[] = []
    for (let i = 0; i < v.length; i++) {
      path.push(i)
      if (!ignored(path, opts)) parts.push(canonical(v[i], path, opts))
      path.pop()
    }
    return `[${parts.sort().join(',')}]`
  }
  if (v !== null && typeof v === 'object') {
    const parts: string[] = []
    for (const k of Object.keys(v).sort()) {
      path.push(k)
      if (!ignored(path, opts)) parts.push(`${JSON.stringify(k)}:${canonical(v[k], path, opts)}`)
      path.pop()
    }
    return `{${parts.join(',')}}`
  }
  return JSON.stringify(v) ?? 'undefined'
}
