/**
 * `Cache-Control` parsing (RFC 9111 §5.2) for the read cache: one pass over the characters, no
 * regular expressions, nothing allocated beyond the result and the directive names. Only the
 * directives the gateway acts on are kept; unknown ones are ignored (RFC 9111 §5.2.3).
 */

export interface CacheControl {
  readonly noStore: boolean
  /** Also set by the qualified form `no-cache="field"` (see freshness.ts for why). */
  readonly noCache: boolean
  /** Also set by the qualified form `private="field"`. */
  readonly isPrivate: boolean
  readonly isPublic: boolean
  readonly mustRevalidate: boolean
  readonly proxyRevalidate: boolean
  /** Seconds; undefined when absent. */
  readonly maxAge: number | undefined
  readonly sMaxAge: number | undefined
  /** RFC 5861 §4, seconds. */
  readonly staleIfError: number | undefined
}

/** RFC 9111 §1.2.2: a delta-seconds value too large to represent counts as 2^31. */
export const DELTA_SECONDS_MAX = 2_147_483_648

export const NO_CACHE_CONTROL: CacheControl = Object.freeze({
  noStore: false,
  noCache: false,
  isPrivate: false,
  isPublic: false,
  mustRevalidate: false,
  proxyRevalidate: false,
  maxAge: undefined,
  sMaxAge: undefined,
  staleIfError: undefined,
})

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

const COMMA = 44
const EQUALS = 61
const SPACE = 32
const TAB = 9
const DQUOTE = 34
const BACKSLASH = 92

/**
 * Parses one or more `Cache-Control` field values (an array is what a repeated field line gives).
 * Directive names are case-insensitive; arguments may be tokens or quoted strings.
 */
export function parseCacheControl(value: string | readonly string[] | undefined): CacheControl {
  if (value === undefined) return NO_CACHE_CONTROL
  const s = typeof value === 'string' ? value : value.join(',')
  if (s.length === 0) return NO_CACHE_CONTROL
  const cc: Mutable<CacheControl> = { ...NO_CACHE_CONTROL }
  const n = s.length
  let i = 0
  while (i < n) {
    let c = s.charCodeAt(i)
    if (c === COMMA || c === SPACE || c === TAB) {
      i++
      continue
    }
    const start = i
    while (i < n) {
      c = s.charCodeAt(i)
      if (c === COMMA || c === EQUALS || c === SPACE || c === TAB) break
      i++
    }
    const name = s.slice(start, i).toLowerCase()
    while (i < n && isSpace(s.charCodeAt(i))) i++
    let arg: string | undefined
    if (i < n && s.charCodeAt(i) === EQUALS) {
      i++
      while (i < n && isSpace(s.charCodeAt(i))) i++
      if (i < n && s.charCodeAt(i) === DQUOTE) {
        // quoted-string (RFC 9110 §5.6.4): may hold commas; `\x` stands for x
        i++
        let seg = i
        arg = ''
        while (i < n) {
          c = s.charCodeAt(i)
          if (c === DQUOTE) break
          if (c === BACKSLASH && i + 1 < n) {
            arg += s.slice(seg, i)
            seg = i + 1
            i += 2
            continue
          }
          i++
        }
        arg += s.slice(seg, i)
        i++ // the closing quote
      } else {
        const vs = i
        while (i < n) {
          c = s.charCodeAt(i)
          if (c === COMMA || c === SPACE || c === TAB) break
          i++
        }
        arg = s.slice(vs, i)
      }
    }
    // anything else before the next comma is malformed; skip it
    while (i < n && s.charCodeAt(i) !== COMMA) i++
    apply(cc, name, arg)
  }
  return cc
}

function isSpace(c: number): boolean {
  return c === SPACE || c === TAB
}

function apply(cc: Mutable<CacheControl>, name: string, arg: string | undefined): void {
  switch (name) {
    case 'no-store':
      cc.noStore = true
      break
    case 'no-cache':
      cc.noCache = true
      break
    case 'private':
      cc.isPrivate = true
      break
    case 'public':
      cc.isPublic = true
      break
    case 'must-revalidate':
      cc.mustRevalidate = true
      break
    case 'proxy-revalidate':
      cc.proxyRevalidate = true
      break
    // RFC 9111 §4.2.1: with a directive repeated, the first occurrence is used
    case 'max-age':
      cc.maxAge ??= deltaSeconds(arg)
      break
    case 's-maxage':
      cc.sMaxAge ??= deltaSeconds(arg)
      break
    case 'stale-if-error':
      cc.staleIfError ??= deltaSeconds(arg)
      break
  }
}

/**
 * delta-seconds (RFC 9111 §1.2.2): digits only. A missing or malformed value counts as 0, which
 * makes the response stale: RFC 9111 §4.2.1 encourages treating invalid freshness information so.
 */
export function deltaSeconds(arg: string | undefined): number {
  if (arg === undefined || arg.length === 0) return 0
  let v = 0
  for (let i = 0; i < arg.length; i++) {
    const d = arg.charCodeAt(i) - 48
    if (d < 0 || d > 9) return 0
    v = v * 10 + d
    if (v >= DELTA_SECONDS_MAX) return DELTA_SECONDS_MAX
  }
  return v
}
