/**
 * The target of the `rel="next"` link in a Link header (RFC 8288 §3): `<url>; rel="next"`, several
 * links separated by commas, `rel` a space-separated list of relation types compared
 * case-insensitively (§3.3). Commas inside `<…>` or a quoted parameter belong to that part.
 */
export function nextLink(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined
  const text = Array.isArray(header) ? header.join(', ') : header
  for (const m of text.matchAll(/<([^>]*)>((?:\s*;\s*[^;,=\s]+\s*(?:=\s*(?:"(?:[^"\\]|\\.)*"|[^;,\s]*))?)*)/g)) {
    for (const p of (m[2] ?? '').matchAll(/;\s*([^;,=\s]+)\s*(?:=\s*(?:"((?:[^"\\]|\\.)*)"|([^;,\s]*)))?/g)) {
      if ((p[1] ?? '').toLowerCase() !== 'rel') continue
      const rels = (p[2] ?? p[3] ?? '').toLowerCase().split(/\s+/)
      if (rels.includes('next')) return m[1]
    }
  }
  return undefined
}
