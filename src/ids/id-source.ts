import { parse } from '../compare/comparator.ts'
import type { CapturedResponse } from '../compare/captured-response.ts'
import { parseFieldPath, type Segment } from '../compare/field-path.ts'

/**
 * Where a create's answer carries the new resource's id (`ids.from`): a body field such as
 * `body.id` or `body.data.id`, or a header. A `Location` header (RFC 9110 §10.2.2) names the new
 * resource by URL, so its id is the last path segment (`/posts/21` → `21`).
 */
export type IdSource = { readonly kind: 'body'; readonly path: readonly Segment[] } | { readonly kind: 'header'; readonly name: string }

export function compileIdSource(from: string): IdSource {
  const segments = parseFieldPath(from)
  if (segments[0] === 'headers') return { kind: 'header', name: String(segments[1]).toLowerCase() }
  return { kind: 'body', path: segments.slice(1) }
}

/**
 * The id in one side's answer, as a string, or undefined when it has none. This is the one place
 * that reads an answer's body for ids: it parses what the comparator parses.
 */
export function readId(source: IdSource, res: CapturedResponse): string | undefined {
  if (source.kind === 'header') {
    const raw = res.headers[source.name]
    const value = Array.isArray(raw) ? raw[0] : raw
    if (value === undefined || value === '') return undefined
    return source.name === 'location' ? lastSegment(value) : value
  }
  const parsed = parse(res)
  if (!parsed.ok) return undefined
  let v: unknown = parsed.value
  for (const s of source.path) {
    if (v === null || typeof v !== 'object') return undefined
    v = (v as Record<string | number, unknown>)[s]
  }
  return typeof v === 'string' && v !== '' ? v : typeof v === 'number' && Number.isFinite(v) ? String(v) : undefined
}

function lastSegment(location: string): string | undefined {
  let pathname: string
  try {
    // relative references are allowed (RFC 9110 §10.2.2): resolve against a placeholder origin
    pathname = new URL(location, 'http://placeholder.invalid').pathname
  } catch {
    return undefined
  }
  const parts = pathname.split('/').filter((p) => p !== '')
  const last = parts.at(-1)
  if (last === undefined) return undefined
  try {
    return decodeURIComponent(last)
  } catch {
    return last
  }
}
