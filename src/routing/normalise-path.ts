/**
 * Request-target normalisation, so that a path cannot reach a route it should not by spelling
 * itself differently (`/public/../admin`, `//admin`, `/%2e%2e/admin`, `/a%2fb`).
 *
 * - Percent-encoded unreserved characters are decoded (RFC 3986 §6.2.2.2); other escapes are kept
 *   as they are, upper-cased, so matching and forwarding see one spelling.
 * - Encoded `/` and `\` (`%2F`, `%5C`), a raw `\` and NUL are refused: backends disagree on whether
 *   they separate segments, which is how rules get bypassed.
 * - Dot segments are removed (RFC 3986 §5.2.4); climbing above the root is refused.
 * - A dot segment carrying `;` parameters (`/a/..;/b`, `/.;x/`) is refused: servlet containers
 *   and other backends strip `;params` before resolving dots, so they read `..;` as `..` and the
 *   path climbs after it was matched.
 * - Runs of `/` collapse to one.
 *
 * Returns the normalised path, or null when the path must be refused (400).
 */

// Only these need the slow path; most request paths contain none of them.
const NEEDS_WORK = /%|\/\.|\/\/|\\/

const UNRESERVED = /^[A-Za-z0-9\-._~]$/

export function normalisePath(path: string): string | null {
  if (path.length === 0 || path.charCodeAt(0) !== 47 /* / */) return null
  if (!NEEDS_WORK.test(path)) return path
  if (path.includes('\\')) return null

  let decoded = path
  if (path.includes('%')) {
    decoded = ''
    for (let i = 0; i < path.length; i++) {
      const c = path[i] as string
      if (c !== '%') {
        decoded += c
        continue
      }
      const hex = path.slice(i + 1, i + 3)
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return null
      const ch = String.fromCharCode(parseInt(hex, 16))
      if (ch === '/' || ch === '\\' || ch === '\0') return null
      decoded += UNRESERVED.test(ch) ? ch : '%' + hex.toUpperCase()
      i += 2
    }
  }

  const out: string[] = []
  const segments = decoded.split('/')
  // segments[0] is '' (the leading '/')
  for (let i = 1; i < segments.length; i++) {
    const seg = segments[i] as string
    const last = i === segments.length - 1
    if (seg.startsWith('.;') || seg.startsWith('..;')) return null
    if (seg === '.' || (seg === '' && !last)) continue
    if (seg === '..') {
      if (out.length === 0) return null
      out.pop()
      if (last) out.push('')
      continue
    }
    out.push(seg)
  }
  return '/' + out.join('/')
}
