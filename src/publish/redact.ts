import type { FieldMatcher} from '../compare/field-path.ts';
import { type Segment } from '../compare/field-path.ts'

export const REDACTED = '[redacted]'

/** Headers that never leave the gateway in an event (RFC 9110 §11.6.2, RFC 6265). */
export const SECRET_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie'])

/** Copies headers for an event, with the secret ones redacted. */
export function redactHeaders(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(headers)) out[k] = SECRET_HEADERS.has(k.toLowerCase()) ? REDACTED : v
  return out
}

/** Replaces configured secret fields (`body.password`, `body.card.number`) in a JSON value. */
export function redactJson(value: unknown, secrets: FieldMatcher, root: Segment[] = ['body']): unknown {
  if (secrets.size === 0) return value
  const walk = (v: unknown, path: Segment[]): unknown => {
    if (secrets.matches(path)) return REDACTED
    if (Array.isArray(v)) return v.map((x, i) => walk(x, [...path, i]))
    if (v !== null && typeof v === 'object') {
      const out: Record<string, unknown> = {}
      for (const [k, x] of Object.entries(v)) out[k] = walk(x, [...path, k])
      return out
    }
    return v
  }
  return walk(value, root)
}

/** True when a difference's path falls under a secret field, so its values must not be shown. */
export function isSecretPath(path: readonly Segment[], secrets: FieldMatcher): boolean {
  if (path[0] === 'headers' && typeof path[1] === 'string' && SECRET_HEADERS.has(path[1])) return true
  return secrets.matches(path)
}
