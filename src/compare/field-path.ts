/**
 * Field paths name parts of an exchange. One grammar, used both ways: every path a diff event
 * reports can be pasted into `compare.ignore`, `redact`, `propagate`, `ids` and the
 * `GET /diffs?field=` filter, and the config accepts nothing the events could not say.
 *
 *   path     = root *segment
 *   root     = "status" / "headers" / "body"
 *   segment  = "." name            ; an object key: body.total
 *            / "[" index "]"       ; an array element: body.items[3]
 *            / "[*]" / ".*"        ; wildcard: one element or key, whichever (patterns only)
 *            / "[" json-string "]" ; a key that is not a plain name: body["a.b"], body["x y"]
 *   name     = 1*(any character but . [ ] " or white space)
 *
 * `status` takes no segment; `headers` at most one (a header name, compared lower-case).
 * In patterns `[*]` and `*` are the same wildcard (`[*]` reads better for arrays), and a pattern
 * also covers everything below it (`body.meta` ignores `body.meta.x`). docs/mirroring.md
 * describes the grammar for users.
 */
export type Segment = string | number

export const STAR = '*'

const NAME = /^[^.[\]"\s]+$/
const ROOTS = new Set(['status', 'headers', 'body'])

/** Why `path` is not a field path, or undefined when it is one. */
export function fieldPathProblem(path: string, allowWildcards = true): string | undefined {
  try {
    const segments = parseFieldPath(path)
    if (!allowWildcards && segments.includes(STAR)) return `'${path}' may not contain a wildcard here`
    return undefined
  } catch (err) {
    return (err as Error).message
  }
}

/** Parses a field path into segments; throws an Error saying what is wrong and where. */
export function parseFieldPath(path: string): Segment[] {
  const bad = (why: string): never => {
    throw new Error(`'${path}' is not a field path: ${why} (paths look like 'status', 'headers.etag', 'body.items[*].id', 'body["a.b"]')`)
  }
  const out: Segment[] = []
  let i = 0
  const root = /^[A-Za-z]+/.exec(path)?.[0] ?? ''
  if (!ROOTS.has(root)) bad("it must start with 'status', 'headers' or 'body'")
  out.push(root)
  i = root.length
  while (i < path.length) {
    const c = path[i]
    if (c === '.') {
      let j = i + 1
      while (j < path.length && path[j] !== '.' && path[j] !== '[') j++
      const name = path.slice(i + 1, j)
      if (name === '') bad(`empty name at character ${i + 1}`)
      if (name !== STAR && !NAME.test(name)) bad(`'${name}' is not a plain name; write it as ["${name}"]`)
      out.push(name)
      i = j
    } else if (c === '[') {
      const close = path[i + 1] === '"' ? closingQuote(path, i + 1) : path.indexOf(']', i)
      if (close < 0 || path[close + (path[i + 1] === '"' ? 1 : 0)] !== ']') bad(`unclosed '[' at character ${i + 1}`)
      if (path[i + 1] === '"') {
        try {
          out.push(JSON.parse(path.slice(i + 1, close + 1)) as string)
        } catch {
          bad(`bad quoted name at character ${i + 1}`)
        }
        i = close + 2
      } else {
        const inner = path.slice(i + 1, close)
        if (inner === STAR) out.push(STAR)
        else if (/^(0|[1-9]\d*)$/.test(inner)) out.push(Number(inner))
        else bad(`'[${inner}]' must be an index such as [3], the wildcard [*] or a quoted name ["…"]`)
        i = close + 1
      }
    } else bad(`unexpected '${c}' at character ${i + 1}`)
  }
  if (root === 'status' && out.length > 1) bad("'status' has no parts")
  if (root === 'headers') {
    if (out.length > 2) bad("'headers' takes one header name, as in 'headers.etag'")
    if (typeof out[1] === 'string') out[1] = out[1].toLowerCase()
  }
  return out
}

/**
 * A path inside one item of a collection (`id`, `meta.key`, `["a.b"]`): the same grammar with the
 * item as the root, so no `body.` in front (cutover reconcile's `reconcile.id`).
 */
export function parseItemPath(path: string): Segment[] {
  return parseFieldPath(path.startsWith('[') ? `body${path}` : `body.${path}`).slice(1)
}

function closingQuote(path: string, open: number): number {
  for (let j = open + 1; j < path.length; j++) {
    if (path[j] === '\\') j++
    else if (path[j] === '"') return j
  }
  return -1
}

/** The inverse of parseFieldPath: `['body', 'items', 3, 'id']` → `body.items[3].id`. */
export function formatFieldPath(segments: readonly Segment[]): string {
  let out = ''
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`
    else if (out === '') out = s
    else if (s === STAR) out += '[*]'
    else if (NAME.test(s) && s !== STAR) out += `.${s}`
    else out += `[${JSON.stringify(s)}]`
  }
  return out
}

/** `body.items[3].id` → `body.items[*].id`: one pattern covers every element. */
export function generalise(segments: readonly Segment[]): Segment[] {
  return segments.map((s) => (typeof s === 'number' ? STAR : s))
}

/** A set of patterns compiled for prefix matching against concrete paths. */
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

  clear(): void {
    this.#patterns.length = 0
    this.#keys.clear()
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

  /** True when some pattern equals `path` exactly, segment for segment (wildcards match one segment). */
  matchesExactly(path: readonly Segment[]): boolean {
    outer: for (const p of this.#patterns) {
      if (p.length !== path.length) continue
      for (let i = 0; i < p.length; i++) if (p[i] !== STAR && p[i] !== path[i]) continue outer
      return true
    }
    return false
  }
}
