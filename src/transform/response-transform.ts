import type { IncomingHttpHeaders } from 'node:http'
import type { CapturedResponse } from '../compare/captured-response.ts'
import type { CutoverConfig, ResponseTransformConfig } from '../config/schema.ts'
import { applyBodyOps, compileBodyOps, type BodyOp } from './body-ops.ts'

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
    this.#body = compileBodyOps(config.body ?? [])
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
    return applyBodyOps(this.#body, body)
  }

  /** A captured answer (the mirror's secondary) as the client would have had it. */
  captured(res: CapturedResponse): CapturedResponse {
    const headers = { ...res.headers }
    const status = this.head(res.status, headers)
    const decoded = res.decoding?.outcome === 'decoded'
    if (this.#body.length === 0 || res.truncated || !(isJson(res.headers) && (decoded || unencoded(res.headers)))) return { ...res, status, headers }
    const body = this.body(res.body)
    return body === null ? { ...res, status, headers } : { ...res, status, headers, body, length: body.length }
  }
}

/** route id → backend name → transform, built once at start. */
export function compileTransforms(config: CutoverConfig): ReadonlyMap<string, ReadonlyMap<string, ResponseTransform>> {
  return byRouteAndBackend(config, (t) => (t.response === undefined ? undefined : new ResponseTransform(t.response)))
}

/** route id → backend name → T, for the transforms `make` builds. */
export function byRouteAndBackend<T>(config: CutoverConfig, make: (t: NonNullable<CutoverConfig['routes'][number]['transform']>[string]) => T | undefined): ReadonlyMap<string, ReadonlyMap<string, T>> {
  const out = new Map<string, Map<string, T>>()
  for (const route of config.routes) {
    for (const [backend, t] of Object.entries(route.transform ?? {})) {
      const built = make(t)
      if (built === undefined) continue
      let byBackend = out.get(route.id)
      if (byBackend === undefined) out.set(route.id, (byBackend = new Map()))
      byBackend.set(backend, built)
    }
  }
  return out
}

/** `application/json` or `application/<x>+json`, parameters allowed (the request side's test too). */
export function isJsonType(contentType: string): boolean {
  return /^\s*application\/([\w.-]+\+)?json\s*(;|$)/i.test(contentType)
}

function isJson(headers: IncomingHttpHeaders): boolean {
  return isJsonType(headers['content-type'] ?? '')
}

function isPlainJson(headers: IncomingHttpHeaders): boolean {
  return isJson(headers) && unencoded(headers)
}

function unencoded(headers: IncomingHttpHeaders): boolean {
  const coding = headers['content-encoding']
  return coding === undefined || coding.trim().toLowerCase() === 'identity'
}

