import { FieldMatcher, type Segment } from './field-path.ts'

/**
 * Deliberate, common changes a team can accept without ignoring the field
 * (`compare.normalize`). Each rule is `true` (every field of the route) or a list of field
 * patterns it applies to. The rules only ever make two *different* scalars equal; they never
 * hide a field that is missing on one side.
 *
 * - numericStrings: a number equals the string that spells it (21 and "21", 10.5 and "10.50").
 * - timestamps: two timestamps naming the same instant, whatever the format: ISO 8601 with any
 *   offset or precision, RFC 7231 HTTP dates, and epoch seconds or milliseconds against either.
 * - decimals: two decimal strings with the same value ("10.50" and "10.5", "1e3" and "1000").
 */
export interface NormalizeConfig {
  readonly numericStrings?: boolean | readonly string[] | undefined
  readonly timestamps?: boolean | readonly string[] | undefined
  readonly decimals?: boolean | readonly string[] | undefined
}

type Scope = FieldMatcher | true | null

function scope(rule: boolean | readonly string[] | undefined): Scope {
  if (rule === undefined || rule === false) return null
  if (rule === true) return true
  return new FieldMatcher(rule)
}

function applies(s: Scope, path: readonly Segment[]): boolean {
  return s === true || (s !== null && s.matches(path))
}

// JSON's number grammar (RFC 8259 §6), so "0x10", " 5" or "1," never pass for numbers
const DECIMAL = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/
// ISO 8601 date-time as APIs write it (RFC 3339 and friends); a bare date counts too
const ISO = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i
// IMF-fixdate (RFC 9110 §5.6.7), e.g. "Sun, 06 Nov 1994 08:49:37 GMT"
const HTTP_DATE = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/
// epoch numbers from 2001 to 2286 in seconds, or the same span in milliseconds
const EPOCH_S = [1e9, 1e10] as const
const EPOCH_MS = [1e12, 1e13] as const

export class Normalizer {
  readonly #numeric: Scope
  readonly #timestamps: Scope
  readonly #decimals: Scope

  constructor(config: NormalizeConfig) {
    this.#numeric = scope(config.numericStrings)
    this.#timestamps = scope(config.timestamps)
    this.#decimals = scope(config.decimals)
  }

  /** null when no rule is on: the comparator then skips normalising altogether. */
  static compile(config: NormalizeConfig | undefined): Normalizer | null {
    if (config === undefined) return null
    const n = new Normalizer(config)
    return n.#numeric === null && n.#timestamps === null && n.#decimals === null ? null : n
  }

  /** True when the two different scalars at `path` are the same value under a rule. */
  same(path: readonly Segment[], a: unknown, b: unknown): boolean {
    if (applies(this.#numeric, path) && numericPair(a, b)) return true
    if (applies(this.#decimals, path) && typeof a === 'string' && typeof b === 'string' && DECIMAL.test(a) && DECIMAL.test(b) && Number(a) === Number(b)) return true
    if (applies(this.#timestamps, path)) {
      const ta = instant(a)
      if (ta !== undefined && ta === instant(b)) return true
    }
    return false
  }
}

function numericPair(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'string') return DECIMAL.test(b) && Number(b) === a
  if (typeof b === 'number' && typeof a === 'string') return DECIMAL.test(a) && Number(a) === b
  return false
}

/** Milliseconds since the epoch when `v` is recognisably a timestamp. */
function instant(v: unknown): number | undefined {
  if (typeof v === 'number') {
    if (v >= EPOCH_S[0] && v < EPOCH_S[1]) return Math.round(v * 1000)
    if (v >= EPOCH_MS[0] && v < EPOCH_MS[1]) return Math.round(v)
    return undefined
  }
  if (typeof v !== 'string') return undefined
  if (HTTP_DATE.test(v)) return Date.parse(v)
  if (!ISO.test(v)) return undefined
  let iso = v.replace(' ', 'T').replace(',', '.').replace(/([+-]\d{2})(\d{2})$/, '$1:$2')
  // an ISO time without an offset is local time to Date.parse; APIs that omit it mean UTC
  if (iso.length > 10 && !/(?:Z|[+-]\d{2}:\d{2})$/i.test(iso)) iso += 'Z'
  const t = Date.parse(iso)
  return Number.isNaN(t) ? undefined : t
}
