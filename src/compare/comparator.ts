import { createHash } from 'node:crypto'
import type { CapturedResponse } from './captured-response.ts'
import { FieldMatcher, formatFieldPath, type Segment } from './field-path.ts'
import { DifferenceSink, jsonDiff, type DifferenceGroup, type JsonDiffOptions, type RawDifference } from './json-diff.ts'
import { Normalizer, type NormalizeConfig } from './normalize.ts'
import { undecodedNote } from './decode.ts'
import { comparableText, textDiff } from './text-diff.ts'

/** How many differences an event shows in full by default; all of them are counted regardless. */
export const DEFAULT_MAX_EXAMPLES = 50

export interface CompareOptions {
  readonly ignore: FieldMatcher
  readonly headers: readonly string[]
  readonly ignoreArrayOrder: boolean
  readonly normalize: Normalizer | null
  readonly maxExamples: number
}

export interface CompareResult {
  /** the first `maxExamples` differences in full */
  readonly differences: RawDifference[]
  /** every difference, counted by generalised path and kind */
  readonly groups: DifferenceGroup[]
  readonly total: number
  /** differences hidden by learned noise */
  readonly noise: number
  /** true when `differences` does not show every difference, groups were cut, or a body was over the compare bound */
  readonly truncated: boolean
}

/** What the comparison may also know: ids paired across the two sides. */
export interface CompareExtra {
  readonly equivalent?: (path: readonly Segment[], a: unknown, b: unknown) => boolean
}

export interface CompareConfig {
  readonly ignore?: readonly string[] | undefined
  readonly headers?: readonly string[] | undefined
  readonly ignoreArrayOrder?: boolean | undefined
  readonly normalize?: NormalizeConfig | undefined
  readonly maxExamples?: number | undefined
}

/** The route's compare settings, compiled once at start. */
export function compileCompareOptions(compare: CompareConfig | undefined): CompareOptions {
  return {
    ignore: new FieldMatcher(compare?.ignore ?? []),
    headers: (compare?.headers ?? []).map((h) => h.toLowerCase()),
    ignoreArrayOrder: compare?.ignoreArrayOrder ?? false,
    normalize: Normalizer.compile(compare?.normalize),
    maxExamples: compare?.maxExamples ?? DEFAULT_MAX_EXAMPLES,
  }
}

function isJson(headers: CapturedResponse['headers']): boolean {
  const ct = headers['content-type']
  return typeof ct === 'string' && /[/+]json\b/i.test(ct)
}

type Parsed = { ok: true; value: unknown } | { ok: false }
const NOT_JSON: Parsed = { ok: false }
/** One parse per answer, however many readers it has (ids, propagate, the comparison); the values are never mutated. */
const parsedBodies = new WeakMap<CapturedResponse, Parsed>()

/** The answer's body as JSON, when it is JSON and was kept whole. */
export function parse(r: CapturedResponse): Parsed {
  if (r.truncated || !isJson(r.headers)) return NOT_JSON
  return parseBody(r)
}

/** The body parsed as JSON whatever its content-type (an empty body: undefined), parsed at most once. */
export function parseBody(r: CapturedResponse): Parsed {
  if (r.body.length === 0) return { ok: true, value: undefined }
  let parsed = parsedBodies.get(r)
  if (parsed === undefined) {
    try {
      parsed = { ok: true, value: JSON.parse(r.body.toString('utf8')) }
    } catch {
      parsed = NOT_JSON
    }
    parsedBodies.set(r, parsed)
  }
  return parsed
}

function digest(r: CapturedResponse): { length: number; sha256: string } {
  return { length: r.length, sha256: createHash('sha256').update(r.body).digest('hex'), ...undecodedNote(r) }
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(', ') : v
}

function identical(a: CapturedResponse, b: CapturedResponse): boolean {
  return !a.truncated && !b.truncated && a.body.length === b.body.length && a.body.equals(b.body)
}

/** The result of comparing two equal answers; shared, so never to be changed by its readers. */
const EQUAL: CompareResult = Object.freeze({ differences: [], groups: [], total: 0, noise: 0, truncated: false })

const STATUS: Segment[] = ['status']
const BODY: Segment[] = ['body']

/**
 * Compares two answers to the same request: status, the headers the route names, and the body —
 * JSON structurally, anything else by length and SHA-256. `learned` is the route's learned noise.
 */
export function compareResponses(a: CapturedResponse, b: CapturedResponse, opts: CompareOptions, learned?: FieldMatcher, extra?: CompareExtra): CompareResult {
  // byte-identical answers (the common case of a healthy migration) are equal without parsing or
  // building anything: same status, no compared headers, same bytes (compared once, used twice)
  const sameBody = identical(a, b)
  if (sameBody && a.status === b.status && opts.headers.length === 0) return EQUAL
  const sink = new DifferenceSink(opts.maxExamples)
  const diff: JsonDiffOptions = {
    ignore: opts.ignore,
    learned: learned === undefined || learned.size === 0 ? undefined : learned,
    ignoreArrayOrder: opts.ignoreArrayOrder,
    normalize: opts.normalize,
    equivalent: extra?.equivalent,
  }
  if (a.status !== b.status && !opts.ignore.matches(STATUS)) sink.add(STATUS, 'changed', a.status, b.status)
  for (const name of opts.headers) {
    const path = ['headers', name]
    const va = headerValue(a.headers[name])
    const vb = headerValue(b.headers[name])
    if (va === vb || opts.ignore.matches(path)) continue
    if (va !== undefined && vb !== undefined && diff.learned?.matchesExactly(path) === true) sink.noise++
    else sink.add(path, va === undefined ? 'extra' : vb === undefined ? 'missing' : 'changed', va, vb, va !== undefined && vb !== undefined)
  }
  // byte-identical bodies are equal without parsing
  if (!sameBody && !opts.ignore.matches(BODY)) {
    const pa = parse(a)
    const pb = parse(b)
    if (pa.ok && pb.ok) jsonDiff(pa.value, pb.value, ['body'], diff, sink)
    else if (comparableText(a) && comparableText(b)) textDiff(a.body, b.body, BODY, opts.ignore, sink)
    else {
      // over the compare bound only the kept prefix and the length are known: equal prefixes of
      // equal length pass (as two identical downloads should), anything else is not comparable
      const da = digest(a)
      const db = digest(b)
      if (da.length !== db.length || da.sha256 !== db.sha256) sink.add(BODY, a.truncated || b.truncated ? 'too-large' : 'changed', da, db)
    }
  }
  return { differences: sink.examples, groups: [...sink.groups.values()], total: sink.total, noise: sink.noise, truncated: sink.truncated || a.truncated || b.truncated }
}

export function differencePath(d: RawDifference): string {
  return formatFieldPath(d.path)
}
