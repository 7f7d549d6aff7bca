/**
 * Field paths name parts of an exchange: `status`, `headers.etag`, `body.total`,
 * `body.items[*].id`, `body.items[3]`. In patterns `[*]` and `*` are the same wildcard: one
 * segment, array index or object key alike (`[*]` reads better for arrays). A pattern also covers
 * everything below it (`body.meta` ignores `body.meta.x`).
 */
export type Segment = string | number

const STAR = '*'

export function parseFieldPath(path: string): Segment[] {
  const out: Segment[] = []
  for (const part of path.split('.')) {
    const m = /^([^[\]]*)((?:\[(?:\d+|\*)\])*)$/.exec(part)
    if (m === null) throw new Error(`'${path}' is not a field path`)
    if (m[1] !== '') out.push(m[1] as string)
    for (const idx of (m[2] ?? '').matchAll(/\[(\d+|\*)\]/g)) out.push(idx[1] === STAR ? STAR : Number(idx[1]))
  }
  return out
}

export function formatFieldPath(segments: readonly Segment[]): string {
  let out = ''
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`
    else if (s === STAR && out !== '' && segments.length > 0) out += '[*]'
    else out += out === '' ? s : `.${s}`
  }
  return out
}

/** `body.items[3].id` → `body.items[*].id`: one learned noisy field covers every element. */
export function generalise(segments: readonly Segment[]): Segment[] {
  return segments.map((s) => (typeof s === 'number' ? STAR : s))
}

/** A set of ignore patterns compiled for prefix matching against concrete paths. */
export class FieldMatcher {
  readonly #patterns: Segment[][] = []
  readonly #keys = new Set<string>()

  constructor(paths: readonly string[] = []) {
    for (const p of paths) this.add(parseFieldPath(p))
  }

  /** Adds a pattern; false when it was already there. */
  add(pattern: readonly Segment[]): boolean {
    const key = formatFieldPath(pattern)
    if (this.#keys.has(key)) return false
    this.#keys.add(key)
    this.#patterns.push([...pattern])
    return true
  }

  get size(): number {
    return this.#patterns.length
  }

  list(): string[] {
    return [...this.#keys]
  }

  /** True when some pattern equals `path` or is a prefix of it. */
  matches(path: readonly Segment[]): boolean {
    outer: for (const p of this.#patterns) {
      if (p.length > path.length) continue
      for (let i = 0; i < p.length; i++) {
        const want = p[i]
        if (want === STAR) continue
        if (want !== path[i]) continue outer
      }
      return true
    }
    return false
  }
}
