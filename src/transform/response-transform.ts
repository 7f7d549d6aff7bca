import type { IncomingHttpHeaders } from 'node:http'
import type { CapturedResponse } from '../compare/captured-response.ts'
import type { CutoverConfig, ResponseTransformConfig } from '../config/schema.ts'
import { EACH, parsePath, type Segment } from './path.ts'

/**
 * Service adaptation on the way back (the anti-corruption layer of the strangler pattern): a
 * backend's answer is reshaped to the contract clients already use — status mapped, headers
 * renamed or dropped, the JSON body unwrapped, wrapped, its fields moved, renamed or dropped —
 * before the client sees it and before it is compared, so diffs show what clients would get.
 *
 * Only whole JSON bodies sent without a content-encoding are reshaped; anything else (another
 * media type, gzip, a body over the limit, JSON that does not parse) passes through as sent.
 */
export class ResponseTransform {
  readonly #status: ReadonlyMap<number, number>
  readonly #renameHeaders: readonly (readonly [string, string])[]
  readonly #dropHeaders: readonly string[]
  readonly #body: readonly BodyOp[]

  constructor(config: ResponseTransformConfig) {
    this.#status = new Map(Object.entries(config.status ?? {}).map(([from, to]) => [Number(from), to]))
    this.#renameHeaders = Object.entries(config.renameHeaders ?? {}).map(([from, to]) => [from.toLowerCase(), to.toLowerCase()] as const)
    this.#dropHeaders = (config.dropHeaders ?? []).map((h) => h.toLowerCase())
    this.#body = (config.body ?? []).map(compileOp)
  }

  /** True when the body must be held and reshaped (JSON, not encoded): then call apply() at its end. */
  wantsBody(headers: IncomingHttpHeaders): boolean {
    return this.#body.length > 0 && isPlainJson(headers)
  }

  /** Status and headers, in place (headers) — for an answer whose body is not reshaped. */
  head(status: number, headers: IncomingHttpHeaders): number {
    for (const [from, to] of this.#renameHeaders) {
      if (headers[from] === undefined) continue
      headers[to] = headers[from]
      delete headers[from]
    }
    for (const name of this.#dropHeaders) delete headers[name]
    return this.#status.get(status) ?? status
  }

  /** The reshaped body, or null when it is not JSON (then the original bytes go out). */
  body(body: Buffer): Buffer | null {
    let value: unknown
    try {
      value = JSON.parse(body.toString('utf8'))
    } catch {
      return null
    }
    for (const op of this.#body) value = op(value)
    return Buffer.from(JSON.stringify(value))
  }

  /** A captured answer (the mirror's secondary) as the client would have had it. */
  captured(res: CapturedResponse): CapturedResponse {
    const headers = { ...res.headers }
    const status = this.head(res.status, headers)
    const decoded = res.decoding?.outcome === 'decoded'
    if (this.#body.length === 0 || res.truncated || !(isPlainJson(res.headers) || (decoded && isJson(res.headers)))) return { ...res, status, headers }
    const body = this.body(res.body)
    return body === null ? { ...res, status, headers } : { ...res, status, headers, body, length: body.length }
  }
}

/** route id → backend name → transform, built once at start. */
export function compileTransforms(config: CutoverConfig): ReadonlyMap<string, ReadonlyMap<string, ResponseTransform>> {
  const out = new Map<string, Map<string, ResponseTransform>>()
  for (const route of config.routes) {
    for (const [backend, t] of Object.entries(route.transform ?? {})) {
      if (t.response === undefined) continue
      let byBackend = out.get(route.id)
      if (byBackend === undefined) out.set(route.id, (byBackend = new Map()))
      byBackend.set(backend, new ResponseTransform(t.response))
    }
  }
  return out
}

function isJson(headers: IncomingHttpHeaders): boolean {
  return /^\s*application\/([\w.-]+\+)?json\s*(;|$)/i.test(headers['content-type'] ?? '')
}

function isPlainJson(headers: IncomingHttpHeaders): boolean {
  const coding = headers['content-encoding']
  return isJson(headers) && (coding === undefined || coding.trim().toLowerCase() === 'identity')
}

type BodyOp = (value: unknown) => unknown
function compileOp(op: ResponseTransformConfig['body'] extends readonly (infer O)[] | undefined ? O : never): BodyOp {
  if ('unwrap' in op) {
    const path = parsePath(op.unwrap)
    return (v) => getPath(v, path)
  }
  if ('wrap' in op) {
    const key = op.wrap
    return (v) => ({ [key]: v })
  }
  if ('drop' in op) {
    const path = parsePath(op.drop)
    return (v) => (forEachParent(v, path, (parent, key) => void delete parent[key]), v)
  }
  if ('rename' in op) {
    const path = parsePath(op.rename)
    const to = op.to
    return (v) =>
      (forEachParent(v, path, (parent, key) => {
        if (!(key in parent)) return
        parent[to] = parent[key]
        delete parent[key]
      }),
      v)
  }
  const from = parsePath(op.move)
  const to = parsePath(op.to)
  return (v) => {
    const value = getPath(v, from)
    if (value === undefined) return v
    forEachParent(v, from, (parent, key) => void delete parent[key])
    setPath(v, to, value)
    return v
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

function getPath(v: unknown, path: readonly Segment[]): unknown {
  let cur = v
  for (const seg of path) {
    if (seg === EACH || !isObject(cur)) return undefined
    cur = cur[seg]
  }
  return cur
}

function setPath(v: unknown, path: readonly Segment[], value: unknown): void {
  let cur = v
  for (let i = 0; i < path.length - 1; i++) {
    const seg = path[i] as Segment
    if (seg === EACH || !isObject(cur)) return
    if (!isObject(cur[seg])) cur[seg] = {}
    cur = cur[seg]
  }
  const last = path[path.length - 1]
  if (isObject(cur) && typeof last === 'string') cur[last] = value
}

/** Calls `fn(parent, key)` for every object the path's last key lives in (fanning out at `[*]`). */
function forEachParent(v: unknown, path: readonly Segment[], fn: (parent: Record<string, unknown>, key: string) => void): void {
  const last = path[path.length - 1]
  if (typeof last !== 'string') return
  const walk = (cur: unknown, i: number): void => {
    if (i === path.length - 1) {
      if (isObject(cur)) fn(cur, last)
      return
    }
    const seg = path[i] as Segment
    if (seg === EACH) {
      if (Array.isArray(cur)) for (const item of cur) walk(item, i + 1)
    } else if (isObject(cur)) walk(cur[seg], i + 1)
  }
  walk(v, 0)
}
