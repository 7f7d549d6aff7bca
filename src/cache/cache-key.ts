import type { IncomingHttpHeaders } from 'node:http'

/**
 * The pieces of a read-cache key, and the paths the invalidation index uses.
 *
 * key = routeId \n path ?query \n auth-flag \n vary-tag (\n value)*
 *
 * Every piece is either a config identifier or something HTTP forbids a raw LF in (request target,
 * field values), so `\n` separates them unambiguously. The vary tag (the sorted header names)
 * is part of the key so that two different name sets with equal values cannot collide.
 */

/** The request headers a resource varies on: lower-case, sorted, without duplicates. */
export interface VarySet {
  readonly names: readonly string[]
  /** `names` joined with ','; a precomputed key piece */
  readonly tag: string
}

export const NO_VARY: VarySet = Object.freeze({ names: Object.freeze([]), tag: '' })
/** What a learned `Vary: *` is remembered as (RFC 9110 §12.5.5: never matches a later request). */
export const VARY_STAR: VarySet = Object.freeze({ names: Object.freeze([]), tag: '*' })

/** Marks a request header that was absent: absent matches only absent (RFC 9111 §4.1). */
const ABSENT = '\n\u0000'

export function varySet(names: Iterable<string>): VarySet {
  const sorted = [...new Set(names)].sort()
  if (sorted.length === 0) return NO_VARY
  return Object.freeze({ names: Object.freeze(sorted), tag: sorted.join(',') })
}

/**
 * The `Vary` names of an answer joined with the route's own `varyHeaders` (`base`); null for
 * `Vary: *`.
 */
export function parseVary(value: string | readonly string[] | undefined, base: VarySet): VarySet | null {
  if (value === undefined) return base
  const s = typeof value === 'string' ? value : value.join(',')
  const names = [...base.names]
  for (const raw of s.split(',')) {
    const name = raw.trim().toLowerCase()
    if (name === '') continue
    if (name === '*') return null
    names.push(name)
  }
  if (names.length === base.names.length) return base
  const out = varySet(names)
  return out.tag === base.tag ? base : out
}

/** The key piece for one request: the vary tag, then each named header's value. */
export function varyKeyPart(vary: VarySet, headers: IncomingHttpHeaders): string {
  let s = '\n' + vary.tag
  const { names } = vary
  for (let i = 0; i < names.length; i++) {
    const v = headers[names[i] as string]
    s += v === undefined ? ABSENT : '\n' + (typeof v === 'string' ? v : v.join(', '))
  }
  return s
}

/**
 * `?b=2&a=1` and `?a=1&b=2` name one resource for any sane backend: parameters are sorted by
 * name (stably, so a repeated name keeps its order) and empty pieces dropped. Only queries with
 * more than one parameter pay for it.
 */
export function normaliseQuery(query: string): string {
  if (query.length <= 1) return ''
  if (query.indexOf('&') < 0) return query.charCodeAt(0) === 63 /* ? */ ? query : '?' + query
  const parts: [string, string][] = []
  const body = query.charCodeAt(0) === 63 ? query.slice(1) : query
  for (const p of body.split('&')) {
    if (p === '') continue
    const eq = p.indexOf('=')
    parts.push([eq < 0 ? p : p.slice(0, eq), p])
  }
  if (parts.length === 0) return ''
  parts.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
  let out = '?' + (parts[0] as [string, string])[1]
  for (let i = 1; i < parts.length; i++) out += '&' + (parts[i] as [string, string])[1]
  return out
}

/** The invalidation index's name for a path: no trailing slash, except the root. */
export function indexPath(path: string): string {
  return path.length > 1 && path.charCodeAt(path.length - 1) === 47 /* / */ ? path.slice(0, -1) : path
}

/** The collection an item belongs to: `/api/orders/42` → `/api/orders`; null for the root. */
export function parentPath(path: string): string | null {
  if (path === '/') return null
  const slash = path.lastIndexOf('/')
  return slash <= 0 ? '/' : path.slice(0, slash)
}
