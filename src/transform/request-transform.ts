import type { CutoverConfig, RequestTransformConfig } from '../config/schema.ts'
import { applyBodyOps, compileBodyOps, type BodyOp } from './body-ops.ts'
import { byRouteAndBackend, isJsonType } from './response-transform.ts'

/**
 * The way out: a client's request reshaped into what one backend expects (headers renamed or
 * dropped, the JSON body's fields moved, renamed, wrapped…), for the primary and for the mirrored
 * copy alike. A body is reshaped only when it is in memory (not on `streamBody` routes), is JSON
 * and parses; otherwise it goes as the client sent it.
 */
export class RequestTransform {
  readonly #rename: ReadonlyMap<string, string>
  readonly #drop: ReadonlySet<string>
  readonly #body: readonly BodyOp[]

  constructor(config: RequestTransformConfig) {
    this.#rename = new Map(Object.entries(config.renameHeaders ?? {}).map(([from, to]) => [from.toLowerCase(), to]))
    this.#drop = new Set((config.dropHeaders ?? []).map((h) => h.toLowerCase()))
    this.#body = compileBodyOps(config.body ?? [])
  }

  /** A new flat header list and body for this backend; `content-length` follows a reshaped body. */
  apply(headers: readonly string[], body: Buffer | null): { headers: string[]; body: Buffer | null } {
    const out: string[] = []
    let json = false
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i] as string
      const lower = name.toLowerCase()
      if (this.#drop.has(lower)) continue
      if (lower === 'content-type') json = isJsonType(headers[i + 1] as string)
      out.push(this.#rename.get(lower) ?? name, headers[i + 1] as string)
    }
    if (body === null || body.length === 0 || !json || this.#body.length === 0) return { headers: out, body }
    const next = applyBodyOps(this.#body, body)
    if (next === null) return { headers: out, body }
    for (let i = 0; i < out.length; i += 2) if ((out[i] as string).toLowerCase() === 'content-length') out[i + 1] = String(next.length)
    return { headers: out, body: next }
  }
}

/** route id → backend name → request transform, built once at start. */
export function compileRequestTransforms(config: CutoverConfig): ReadonlyMap<string, ReadonlyMap<string, RequestTransform>> {
  return byRouteAndBackend(config, (t) => (t.request === undefined ? undefined : new RequestTransform(t.request)))
}
