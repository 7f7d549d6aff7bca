import type { CapturedResponse } from '../compare/captured-response.ts'
import { parseFieldPath, type Segment } from '../compare/field-path.ts'
import type { RouteConfig } from '../config/schema.ts'
import { compilePathPattern, compilePathTemplate, fillPathTemplate, type PathTemplate } from '../routing/path-pattern.ts'
import type { IdMap, IdPair, Side } from './id-map.ts'
import { compileIdSource, readId, type IdSource } from './id-source.ts'

/** A mirrored request with the primary's ids swapped for the secondary's. */
export interface Translation {
  /** the secondary's path and query, or undefined when no path parameter changed */
  readonly path: string | undefined
  /** the request body, rewritten when a named field carried a known id */
  readonly body: Buffer | null
  readonly hits: number
  readonly misses: number
}

export type Equivalent = (path: readonly Segment[], a: unknown, b: unknown) => boolean

export function sideOf(backend: string): Side | null {
  return backend === 'legacy' || backend === 'cloud' ? backend : null
}

/**
 * A route's `ids` settings compiled once at start: where its creates answer the new id, which
 * path parameters and body fields of its requests carry ids of its map, and where ids appear in
 * its answers (compared modulo the map).
 */
export class RouteIds {
  readonly map: string
  readonly from: IdSource | null
  readonly #ids: IdMap
  /** capture group index in the route's path match, one per `ids.params` entry */
  readonly #slots: readonly number[]
  /** `ids.fields` below `body` */
  readonly #fields: readonly (readonly Segment[])[]
  /** backend → template that rebuilds its path from the (translated) match */
  readonly #templates = new Map<string, PathTemplate>()
  readonly #compare: readonly (readonly Segment[])[]
  readonly #equivalent: Readonly<Record<Side, Equivalent>>

  constructor(route: RouteConfig, routes: readonly RouteConfig[], ids: IdMap) {
    const cfg = route.ids
    if (cfg === undefined) throw new Error(`route ${route.id} has no ids`)
    this.#ids = ids
    this.map = mapName(route)
    this.from = cfg.from === undefined ? null : compileIdSource(cfg.from)
    const params = compilePathPattern(route.path).params
    this.#slots = cfg.params.map((p) => params.indexOf(p) + 1)
    this.#fields = cfg.fields.map((f) => parseFieldPath(f).slice(1))
    if (this.#slots.length > 0) {
      // without a rewrite the secondary gets the client's path: rebuild it from the route pattern
      const self = compilePathTemplate(route.path, params)
      for (const backend of ['legacy', 'cloud']) {
        const rewrite = route.rewrite?.[backend]
        this.#templates.set(backend, rewrite === undefined ? self : compilePathTemplate(rewrite, params))
      }
    }
    this.#compare = (cfg.compare ?? defaultCompare(route, routes)).map(parseFieldPath)
    const compare = this.#compare
    const map = this.map
    const same = (side: Side): Equivalent => (path, a, b) => compare.some((p) => pathIs(p, path)) && ids.same(map, side, a, b)
    this.#equivalent = { legacy: same('legacy'), cloud: same('cloud') }
  }

  get translates(): boolean {
    return this.#slots.length > 0 || this.#fields.length > 0
  }

  /** Compare hook for an exchange whose primary is `primary`. */
  equivalent(primary: Side): Equivalent | undefined {
    return this.#compare.length === 0 ? undefined : this.#equivalent[primary]
  }

  /** The pair a create's two answers name, or undefined when either answer has no id. */
  created(primaryAnswer: CapturedResponse, secondaryAnswer: CapturedResponse, primary: Side): IdPair | undefined {
    if (this.from === null) return undefined
    const p = readId(this.from, primaryAnswer)
    const s = readId(this.from, secondaryAnswer)
    if (p === undefined || s === undefined) return undefined
    return primary === 'legacy' ? { map: this.map, legacy: p, cloud: s } : { map: this.map, legacy: s, cloud: p }
  }

  /**
   * The mirrored request with every id the primary knows replaced by the secondary's: path
   * parameters (the path rebuilt with the secondary's rewrite) and body fields. An id with no
   * known pair stays as it is and counts as a miss.
   */
  translate(match: RegExpExecArray | null, query: string, primary: Side, secondary: string, basePath: string, body: Buffer | null): Translation {
    let hits = 0
    let misses = 0
    let path: string | undefined
    if (match !== null && this.#slots.length > 0) {
      const m = [...match]
      let changed = false
      for (const slot of this.#slots) {
        const raw = m[slot]
        if (raw === undefined || raw === '') continue
        const other = this.#ids.translate(this.map, primary, decode(raw))
        if (other === undefined) misses++
        else {
          hits++
          changed = true
          m[slot] = encodeURIComponent(other)
        }
      }
      const template = this.#templates.get(secondary)
      if (changed && template !== undefined) path = basePath + fillPathTemplate(template, m as unknown as RegExpExecArray) + query
    }
    let out = body
    if (body !== null && body.length > 0 && this.#fields.length > 0) {
      let json: unknown
      try {
        json = JSON.parse(body.toString('utf8'))
      } catch {
        json = undefined // not JSON: nothing to translate
      }
      if (json !== undefined) {
        let changed = false
        for (const field of this.#fields) {
          visit(json, field, 0, (holder, key, value) => {
            if (typeof value !== 'string' && typeof value !== 'number') return
            const other = this.#ids.translate(this.map, primary, String(value))
            if (other === undefined) {
              misses++
              return
            }
            hits++
            changed = true
            holder[key] = typedLike(value, other)
          })
        }
        if (changed) out = Buffer.from(JSON.stringify(json))
      }
    }
    return { path, body: out, hits, misses }
  }
}

export function mapName(route: RouteConfig): string {
  return route.ids?.map ?? route.id
}

/**
 * Where ids of the map appear in answers when `ids.compare` is not set: where this route's
 * creates answer it (or, for a route that only reads and changes, where the route creating
 * resources of the same map answers it), and the body fields that carry ids in requests, which
 * answers usually echo.
 */
function defaultCompare(route: RouteConfig, routes: readonly RouteConfig[]): string[] {
  const map = mapName(route)
  const from = route.ids?.from ?? routes.find((r) => r.ids?.from !== undefined && mapName(r) === map)?.ids?.from
  const out = from !== undefined && from.startsWith('body.') ? [from] : []
  return [...out, ...(route.ids?.fields ?? [])]
}

/** Exact match (no prefix), `*` standing for one key or index. */
function pathIs(pattern: readonly Segment[], path: readonly Segment[]): boolean {
  if (pattern.length !== path.length) return false
  for (let i = 0; i < pattern.length; i++) if (pattern[i] !== '*' && pattern[i] !== path[i]) return false
  return true
}

type Holder = Record<string | number, unknown>

/** Calls `fn` for every value at `path` below `v` (`*` visits every element or key). */
function visit(v: unknown, path: readonly Segment[], i: number, fn: (holder: Holder, key: string | number, value: unknown) => void): void {
  if (v === null || typeof v !== 'object') return
  const seg = path[i] as Segment
  const keys = seg === '*' ? Object.keys(v) : [seg]
  for (const k of keys) {
    const key = Array.isArray(v) && typeof k === 'string' && k !== '*' ? Number(k) : k
    if (!Object.hasOwn(v, key)) continue
    const child = (v as Holder)[key]
    if (i === path.length - 1) fn(v as Holder, key, child)
    else visit(child, path, i + 1, fn)
  }
}

/** Keeps a number a number when the other side's id is numeric too; otherwise the id as a string. */
function typedLike(original: string | number, id: string): string | number {
  if (typeof original === 'number' && /^-?\d+$/.test(id) && Number.isSafeInteger(Number(id))) return Number(id)
  return id
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment)
  } catch {
    return segment
  }
}
