import { createHash } from 'node:crypto'
import type { CapturedResponse } from './captured-response.ts'
import { FieldMatcher, formatFieldPath, type Segment } from './field-path.ts'
import { jsonDiff, type RawDifference } from './json-diff.ts'

export const MAX_DIFFERENCES = 50

export interface CompareOptions {
  readonly ignore: FieldMatcher
  readonly headers: readonly string[]
  readonly ignoreArrayOrder: boolean
}

export interface CompareResult {
  readonly differences: RawDifference[]
  /** true when the difference list was cut at MAX_DIFFERENCES or a body was too long to parse */
  readonly truncated: boolean
}

/** Per-exchange additions: `equivalent` says two differing scalars at `path` are the same (id map). */
export interface CompareExtra {
  readonly equivalent?: ((path: readonly Segment[], a: unknown, b: unknown) => boolean) | undefined
}

/** The route's compare settings, compiled once at start. */
export function compileCompareOptions(compare: { ignore?: readonly string[]; headers?: readonly string[]; ignoreArrayOrder?: boolean } | undefined): CompareOptions {
  return {
    ignore: new FieldMatcher(compare?.ignore ?? []),
    headers: (compare?.headers ?? []).map((h) => h.toLowerCase()),
    ignoreArrayOrder: compare?.ignoreArrayOrder ?? false,
  }
}

function isJson(headers: CapturedResponse['headers']): boolean {
  const ct = headers['content-type']
  return typeof ct === 'string' && /[/+]json\b/i.test(ct)
}

export function parse(r: CapturedResponse): { ok: true; value: unknown } | { ok: false } {
  if (r.truncated || !isJson(r.headers)) return { ok: false }
  if (r.body.length === 0) return { ok: true, value: undefined }
  try {
    return { ok: true, value: JSON.parse(r.body.toString('utf8')) }
  } catch {
    return { ok: false }
  }
}

function digest(r: CapturedResponse): { length: number; sha256: string } {
  return { length: r.length, sha256: createHash('sha256').update(r.body).digest('hex') }
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(', ') : v
}

/**
 * Compares two answers to the same request: status, the headers the route names, and the body —
 * JSON structurally, anything else by length and SHA-256. `learned` is the route's learned noise.
 */
export function compareResponses(a: CapturedResponse, b: CapturedResponse, opts: CompareOptions, learned?: FieldMatcher, extra: CompareExtra = {}): CompareResult {
  const ignore = learned === undefined || learned.size === 0 ? [opts.ignore] : [opts.ignore, learned]
  const out: RawDifference[] = []
  const skip = (path: Segment[]): boolean => ignore.some((m) => m.matches(path))
  if (a.status !== b.status && !skip(['status'])) out.push({ path: ['status'], kind: 'changed', a: a.status, b: b.status })
  for (const name of opts.headers) {
    const path = ['headers', name]
    const va = headerValue(a.headers[name])
    const vb = headerValue(b.headers[name])
    if (va !== vb && !skip(path)) out.push({ path, kind: va === undefined ? 'extra' : vb === undefined ? 'missing' : 'changed', a: va, b: vb })
  }
  let truncated = a.truncated || b.truncated
  if (!skip(['body'])) {
    const pa = parse(a)
    const pb = parse(b)
    if (pa.ok && pb.ok) {
      jsonDiff(pa.value, pb.value, ['body'], { ignore, ignoreArrayOrder: opts.ignoreArrayOrder, limit: MAX_DIFFERENCES + 1, equivalent: extra.equivalent }, out)
    } else {
      const da = digest(a)
      const db = digest(b)
      if (da.length !== db.length || da.sha256 !== db.sha256) out.push({ path: ['body'], kind: a.truncated || b.truncated ? 'too-large' : 'changed', a: da, b: db })
    }
  }
  // one past the cap was collected only to know that the list really was cut
  if (out.length > MAX_DIFFERENCES) {
    out.length = MAX_DIFFERENCES
    truncated = true
  }
  return { differences: out, truncated }
}

export function differencePath(d: RawDifference): string {
  return formatFieldPath(d.path)
}
