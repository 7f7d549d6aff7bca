/**
 * Route path patterns: literal segments, `:name` parameters (one segment each) and a trailing `*`
 * that takes the rest of the path. A trailing `/*` also matches the bare prefix, so
 * `/api/orders/*` covers `POST /api/orders` as well as `/api/orders/42/items`.
 */
export interface PathPattern {
  readonly source: string
  readonly regex: RegExp
  /** Parameter names in capture order; `*` for the wildcard. */
  readonly params: readonly string[]
}

const PARAM = /^:([A-Za-z_][A-Za-z0-9_]*)$/

export function compilePathPattern(pattern: string): PathPattern {
  if (!pattern.startsWith('/')) throw new Error("must start with '/'")
  const segments = pattern.split('/').slice(1)
  const params: string[] = []
  let re = '^'
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i] as string
    const last = i === segments.length - 1
    if (seg === '*') {
      if (!last) throw new Error("'*' is only allowed as the last segment")
      params.push('*')
      // `(?:/(.*))?` — the bare prefix matches too (wildcard captures '')
      re += '(?:/(.*))?'
      continue
    }
    const param = PARAM.exec(seg)
    if (param !== null) {
      const name = param[1] as string
      if (params.includes(name)) throw new Error(`parameter ':${name}' appears twice`)
      params.push(name)
      re += '/([^/]+)'
    } else if (seg.includes(':') || seg.includes('*')) {
      throw new Error(`segment '${seg}' mixes literal text with ':' or '*'`)
    } else {
      re += '/' + seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    }
  }
  re += '$'
  return { source: pattern, regex: new RegExp(re), params }
}

/**
 * A rewrite template (`/v2/orders/:id`, `/legacy/*`) compiled into literal parts and parameter
 * slots once, so filling it per request is a join.
 */
export interface PathTemplate {
  readonly parts: readonly string[]
  /** Index into the match's capture groups for each slot between parts. */
  readonly slots: readonly number[]
}

export function compilePathTemplate(template: string, params: readonly string[]): PathTemplate {
  const parts: string[] = []
  const slots: number[] = []
  let last = 0
  for (const m of template.matchAll(/:([A-Za-z_][A-Za-z0-9_]*)|\*/g)) {
    const name = m[1] ?? '*'
    const index = params.indexOf(name)
    if (index < 0) throw new Error(`'${m[0]}' is not a parameter of the route path`)
    parts.push(template.slice(last, m.index))
    slots.push(index + 1)
    last = (m.index ?? 0) + m[0].length
  }
  parts.push(template.slice(last))
  return { parts, slots }
}

export function fillPathTemplate(t: PathTemplate, match: RegExpExecArray): string {
  let out = t.parts[0] as string
  for (let i = 0; i < t.slots.length; i++) {
    out += (match[t.slots[i] as number] ?? '') + (t.parts[i + 1] as string)
  }
  // a wildcard that matched the bare prefix leaves a trailing '/', e.g. '/v2/orders/' + ''
  return out
}
