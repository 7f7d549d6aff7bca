import { randomUUID } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import type { Logger } from 'pino'
import type { Dispatcher } from 'undici'
import { BodyCollector, type CapturedResponse } from '../compare/captured-response.ts'
import { compareResponses, compileCompareOptions, type CompareOptions } from '../compare/comparator.ts'
import { decodeBody } from '../compare/decode.ts'
import type { DiffLog } from '../compare/diff-log.ts'
import { FieldMatcher, formatFieldPath } from '../compare/field-path.ts'
import { NoiseLearner, type NoiseSnapshot } from '../compare/noise-learner.ts'
import type { CutoverConfig } from '../config/schema.ts'
import type { Metrics } from '../metrics/metrics.ts'
import { DIFF_SCHEMA, REPLAY_SCHEMA, type DiffEvent, type DiffKind, type ReplayEvent } from '../publish/events.ts'
import type { Publisher } from '../publish/publisher.ts'
import { isSecretPath, redactHeaders, redactJson, REDACTED } from '../publish/redact.ts'
import type { Upstream } from '../proxy/upstreams.ts'
import type { BackendBreaker } from '../resilience/breaker.ts'
import type { RouteGuard } from '../resilience/guard.ts'
import { compilePropagations, getPath, setPath, type Propagation } from './propagate.ts'
import { WriteClock } from './write-clock.ts'
import { compileTransforms, type ResponseTransform } from '../transform/response-transform.ts'
import { compileRequestTransforms, type RequestTransform } from '../transform/request-transform.ts'

/** One mirrored exchange, filled in as the primary answers. */
export interface MirrorJob {
  readonly routeId: string
  readonly method: string
  /** the client's (normalised) path and query, for events */
  readonly clientPath: string
  readonly requestId: string
  idempotencyKey: string | undefined
  readonly isWrite: boolean
  readonly primary: Upstream
  readonly secondary: Upstream
  /** the primary's path+query and the secondary's (each with its rewrite applied) */
  readonly primaryPath: string
  readonly secondaryPath: string
  /** headers as sent to the primary, flat [name, value, …] */
  readonly headers: readonly string[]
  /** the request body (null: none), or 'overflow' when it was over limits.mirrorBodyBytes */
  body: Buffer | null | 'overflow'
  /** this exchange feeds noise learning (reads only) */
  readonly learn: boolean
  /** the gateway's write clock when the primary call started (noise learning needs it) */
  readonly writeSeq: number
}

/** `noise`: the answers differed only in learned noise fields (a match for every other purpose) */
export type MirrorOutcome = 'match' | 'noise' | 'mismatch' | 'error' | 'timeout' | 'skipped'

interface RoutePlan {
  readonly compare: CompareOptions
  readonly secrets: FieldMatcher
  readonly propagate: Propagation[]
  readonly noise: NoiseLearner | null
  readonly mirrorFailedWrites: boolean
}

type Call = { ok: true; response: CapturedResponse } | { ok: false; timeout: boolean; error: Error; latencyMs: number }

const RESPONSE_SKIP = new Set(['content-length', 'transfer-encoding', 'connection'])

/**
 * Runs the secondary half of dual-write, off the client's path: resends the request to the
 * secondary with the same x-request-id and Idempotency-Key, compares the two answers, and
 * publishes what differs. A write the secondary did not take goes to the replay topic with
 * everything needed to resend it. The number of mirrored calls in flight is bounded; over the
 * bound a call is skipped and counted (and a write still goes to replay), never queued.
 */
export class Mirror {
  readonly #plans = new Map<string, RoutePlan>()
  readonly #transforms: ReadonlyMap<string, ReadonlyMap<string, ResponseTransform>>
  readonly #requestTransforms: ReadonlyMap<string, ReadonlyMap<string, RequestTransform>>
  readonly #publisher: Publisher
  readonly #diffs: DiffLog
  readonly #metrics: Metrics
  readonly #log: Logger
  readonly #maxInFlight: number
  readonly #compareBytes: number
  readonly #breakers: ReadonlyMap<string, BackendBreaker>
  readonly #guards: { get(route: string): RouteGuard | undefined } | null
  readonly #writes = new WriteClock()
  #inFlight = 0
  #idle: (() => void)[] = []

  constructor(
    config: CutoverConfig,
    publisher: Publisher,
    diffs: DiffLog,
    metrics: Metrics,
    log: Logger,
    breakers: ReadonlyMap<string, BackendBreaker> = new Map(),
    guards: { get(route: string): RouteGuard | undefined } | null = null,
  ) {
    this.#breakers = breakers
    this.#guards = guards
    this.#publisher = publisher
    this.#diffs = diffs
    this.#metrics = metrics
    this.#log = log
    this.#maxInFlight = config.limits.mirrorInFlight
    this.#compareBytes = config.limits.compareBodyBytes
    this.#transforms = compileTransforms(config)
    this.#requestTransforms = compileRequestTransforms(config)
    for (const route of config.routes) {
      this.#plans.set(route.id, {
        compare: compileCompareOptions(route.compare),
        secrets: new FieldMatcher(route.redact ?? []),
        propagate: compilePropagations(route.propagate),
        noise: route.compare?.learnNoise === false ? null : new NoiseLearner(),
        mirrorFailedWrites: route.mirrorFailedWrites,
      })
      for (const outcome of ['match', 'noise', 'mismatch', 'error', 'timeout', 'skipped'] as const) metrics.mirror.labels(route.id, outcome)
    }
  }

  get inFlight(): number {
    return this.#inFlight
  }

  /** Learned noise per route, for the admin API. */
  noise(): Record<string, string[]> {
    const out: Record<string, string[]> = {}
    for (const [id, plan] of this.#plans) if (plan.noise !== null) out[id] = plan.noise.fields.list()
    return out
  }

  /** One route's noise learning in detail (null: the route does not learn). */
  noiseSnapshot(routeId: string): NoiseSnapshot | null {
    return this.#plans.get(routeId)?.noise?.snapshot() ?? null
  }

  /** Forgets a route's learned noise and starts learning again; false when it does not learn. */
  clearNoise(routeId: string): boolean {
    const noise = this.#plans.get(routeId)?.noise
    if (noise === null || noise === undefined) return false
    noise.clear()
    this.#metrics.noiseFields.labels(routeId).set(0)
    return true
  }

  /** A write went through the gateway (client-facing path, no query): noise samples around it are void. */
  noteWrite(routeId: string, path: string): void {
    this.#writes.note(routeId, path)
  }

  /** The write clock, for MirrorJob.writeSeq. */
  get writeSeq(): number {
    return this.#writes.now()
  }

  /** Whether this route wants a noise-learning sample from this read. */
  wantsNoiseSample(routeId: string): boolean {
    return this.#plans.get(routeId)?.noise?.take() ?? false
  }

  /** Resolves when no mirrored call is in flight (shutdown, tests). */
  idle(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve()
    return new Promise((resolve) => this.#idle.push(resolve))
  }

  /** The primary answered: mirror (unless policy says otherwise), compare, publish. */
  primaryAnswered(job: MirrorJob, primary: CapturedResponse): void {
    const plan = this.#plans.get(job.routeId)
    if (plan === undefined) return
    if (job.isWrite) this.#writes.note(job.routeId, pathOnly(job.clientPath))
    if (job.isWrite && primary.status >= 500 && !plan.mirrorFailedWrites) {
      this.#count(job.routeId, 'skipped')
      return
    }
    this.#start(job, plan, primary)
  }

  /** The primary failed (network, timeout): a write is mirrored only when the route asks for it. */
  primaryFailed(job: MirrorJob): void {
    const plan = this.#plans.get(job.routeId)
    if (plan === undefined) return
    if (job.isWrite && plan.mirrorFailedWrites) this.#start(job, plan, null)
    else this.#count(job.routeId, 'skipped')
  }

  #start(job: MirrorJob, plan: RoutePlan, primary: CapturedResponse | null): void {
    if (job.body === 'overflow') {
      this.#count(job.routeId, 'skipped')
      this.#emitDiff(job, 'not-mirrored', primary, null, [], false, 'request body over limits.mirrorBodyBytes')
      return
    }
    // over the in-flight bound, or the secondary's breaker is open: skipped, and a write is kept
    if (this.#inFlight >= this.#maxInFlight || this.#breakers.get(job.secondary.name)?.allows() === false) {
      this.#count(job.routeId, 'skipped')
      if (job.isWrite) {
        // kept as the secondary expects it, like every other replay event
        const shaped = this.#requestTransforms.get(job.routeId)?.get(job.secondary.name)?.apply(job.headers, job.body)
        this.#emitReplay(job, 'skipped', shaped?.body ?? job.body, shaped?.headers)
      }
      return
    }
    this.#inFlight++
    this.#run(job, plan, primary)
      .catch((err: unknown) => this.#log.error({ err, route: job.routeId, requestId: job.requestId }, 'mirror failed'))
      .finally(() => {
        this.#inFlight--
        if (this.#inFlight === 0) for (const r of this.#idle.splice(0)) r()
      })
  }

  async #run(job: MirrorJob, plan: RoutePlan, answered: CapturedResponse | null): Promise<void> {
    // compared (and read by propagate) decoded; the client already has the bytes as sent
    const primary = answered === null ? null : await decodeBody(answered, this.#compareBytes)
    const body = job.body === 'overflow' ? null : job.body
    const headers = [...job.headers]
    let secondaryBody = body

    if (primary !== null && plan.propagate.length > 0) {
      const parsed = parseJson(primary)
      let reqJson: unknown = undefined
      for (const p of plan.propagate) {
        const value = getPath({ body: parsed, headers: primary.headers as Record<string, unknown>, status: primary.status }, p.from)
        if (value === undefined) continue
        if (p.to.kind === 'header') headers.push(p.to.name, String(value))
        else {
          reqJson ??= secondaryBody === null ? {} : JSON.parse(secondaryBody.toString('utf8'))
          setPath({ body: reqJson }, p.to.path, value)
        }
      }
      if (reqJson !== undefined) secondaryBody = Buffer.from(JSON.stringify(reqJson))
    }

    // each side gets the request as it expects it (route transforms, src/transform/)
    const toSecondary = this.#requestTransforms.get(job.routeId)?.get(job.secondary.name)?.apply(headers, secondaryBody) ?? { headers, body: secondaryBody }
    if (job.learn && primary !== null && plan.noise !== null) {
      const toPrimary = this.#requestTransforms.get(job.routeId)?.get(job.primary.name)?.apply(job.headers, body) ?? { headers: job.headers, body }
      const again = await this.#call(job.primary, job.method, job.primaryPath, toPrimary.headers, toPrimary.body)
      // a write to this resource between the two calls makes them differ for a real reason
      if (again.ok && this.#writes.touched(job.routeId, pathOnly(job.clientPath), job.writeSeq)) plan.noise.discard()
      else if (again.ok) {
        const added = plan.noise.learn(primary, again.response, plan.compare)
        if (added.length > 0) {
          this.#log.info({ route: job.routeId, fields: added }, 'learned noisy fields')
          this.#metrics.noiseFields.labels(job.routeId).set(plan.noise.fields.size)
        }
      }
    }

    const ticket = this.#breakers.get(job.secondary.name)?.ticket()
    const secondary = await this.#call(job.secondary, job.method, job.secondaryPath, toSecondary.headers, toSecondary.body)
    if (ticket !== undefined) {
      if (!secondary.ok) ticket.failure(secondary.error)
      else if (secondary.response.status >= 500) ticket.failure(new Error(`upstream answered ${secondary.response.status}`))
      else ticket.success()
    }
    if (!secondary.ok) {
      this.#count(job.routeId, secondary.timeout ? 'timeout' : 'error', job)
      this.#emitDiff(job, secondary.timeout ? 'secondary-timeout' : 'secondary-error', primary, null, [], false, secondary.error.message, secondary.latencyMs)
      if (job.isWrite) this.#emitReplay(job, secondary.timeout ? 'secondary-timeout' : 'secondary-error', toSecondary.body, toSecondary.headers)
      return
    }
    // compared as the client would have had it from the secondary (route transforms, src/transform/)
    const res = this.#transforms.get(job.routeId)?.get(job.secondary.name)?.captured(secondary.response) ?? secondary.response
    if (job.isWrite && res.status >= 500) {
      this.#count(job.routeId, 'error', job)
      this.#emitDiff(job, 'secondary-error', primary, res, [], false, `secondary answered ${res.status}`)
      this.#emitReplay(job, 'secondary-error', toSecondary.body, toSecondary.headers)
      return
    }
    if (primary === null) {
      this.#count(job.routeId, 'error', job, true)
      return
    }
    const result = compareResponses(primary, res, plan.compare, plan.noise?.fields)
    if (result.noise > 0) this.#metrics.noiseDifferences.labels(job.routeId).inc(result.noise)
    if (result.total === 0) {
      this.#count(job.routeId, result.noise > 0 ? 'noise' : 'match')
      return
    }
    this.#count(job.routeId, 'mismatch')
    const named = result.differences.map((d) => {
      const secret = isSecretPath(d.path, plan.secrets)
      return {
        path: formatFieldPath(d.path),
        kind: d.kind,
        [job.primary.name]: secret ? REDACTED : redactJson(d.a, plan.secrets, d.path),
        [job.secondary.name]: secret ? REDACTED : redactJson(d.b, plan.secrets, d.path),
      }
    })
    this.#emitDiff(job, 'mismatch', primary, res, named, result.truncated, undefined, undefined, {
      total: result.total,
      noise: result.noise,
      fields: result.groups.map((g) => ({ path: g.path, kind: g.kind, count: g.count })),
    })
  }

  async #call(upstream: Upstream, method: string, path: string, headers: readonly string[], body: Buffer | null): Promise<Call> {
    const started = performance.now()
    const out: string[] = []
    for (let i = 0; i < headers.length; i += 2) {
      if ((headers[i] as string).toLowerCase() !== 'content-length') out.push(headers[i] as string, headers[i + 1] as string)
    }
    if (body !== null) out.push('content-length', String(body.length))
    try {
      const res = await upstream.pool.request({
        method: method as Dispatcher.HttpMethod,
        path,
        headers: out,
        body,
        headersTimeout: upstream.timeoutMs,
        bodyTimeout: upstream.timeoutMs,
        signal: AbortSignal.timeout(upstream.timeoutMs),
      })
      const collector = new BodyCollector(this.#compareBytes)
      for await (const chunk of res.body) collector.push(chunk as Buffer)
      const headersOut: IncomingHttpHeaders = {}
      for (const [k, v] of Object.entries(res.headers)) if (!RESPONSE_SKIP.has(k)) headersOut[k] = v
      return {
        ok: true,
        // latencyMs is read before decoding: it is the backend's time, not Cutover's
        response: await decodeBody({ status: res.statusCode, headers: headersOut, body: collector.body, length: collector.length, truncated: collector.truncated, latencyMs: performance.now() - started }, this.#compareBytes),
      }
    } catch (err) {
      const e = err as Error & { code?: string; name?: string }
      const timeout = e.name === 'TimeoutError' || e.code === 'UND_ERR_HEADERS_TIMEOUT' || e.code === 'UND_ERR_BODY_TIMEOUT' || e.code === 'UND_ERR_CONNECT_TIMEOUT'
      return { ok: false, timeout, error: e, latencyMs: performance.now() - started }
    }
  }

  #count(route: string, outcome: MirrorOutcome, job?: MirrorJob, primaryFailed = false): void {
    this.#metrics.mirror.labels(route, outcome).inc()
    const guard = this.#guards?.get(route)
    if (guard === undefined) return
    // the guard judges cloud: a failure of legacy as secondary, or of the primary, is not cloud's
    const blameless = (outcome === 'error' || outcome === 'timeout') && (primaryFailed || job?.secondary.name !== 'cloud')
    guard.recordMirror(blameless ? 'skipped' : outcome)
  }

  #emitDiff(
    job: MirrorJob,
    kind: DiffKind,
    primary: CapturedResponse | null,
    secondary: CapturedResponse | null,
    differences: DiffEvent['differences'],
    truncated: boolean,
    reason?: string,
    secondaryLatency?: number,
    counts: Pick<DiffEvent, 'total' | 'noise' | 'fields'> = { total: differences.length, noise: 0, fields: [] },
  ): void {
    const p = job.primary.name
    const s = job.secondary.name
    const event: DiffEvent = {
      schema: DIFF_SCHEMA,
      id: randomUUID(),
      time: new Date().toISOString(),
      route: job.routeId,
      method: job.method,
      path: job.clientPath,
      requestId: job.requestId,
      primary: p,
      secondary: s,
      kind,
      status: { [p]: primary?.status ?? null, [s]: secondary?.status ?? null },
      latencyMs: { [p]: round(primary?.latencyMs), [s]: round(secondary?.latencyMs ?? secondaryLatency) },
      differences,
      ...counts,
      truncated,
    }
    if (reason !== undefined) event.reason = reason
    this.#diffs.add(event)
    this.#publisher.publish('diffs', job.routeId, event)
  }

  #emitReplay(job: MirrorJob, reason: ReplayEvent['reason'], body: Buffer | null | 'overflow', headers: readonly string[] = job.headers): void {
    const h: Record<string, string> = {}
    for (let i = 0; i < headers.length; i += 2) {
      const name = (headers[i] as string).toLowerCase()
      if (name !== 'content-length') h[name] = headers[i + 1] as string
    }
    const event: ReplayEvent = {
      schema: REPLAY_SCHEMA,
      id: randomUUID(),
      time: new Date().toISOString(),
      route: job.routeId,
      backend: job.secondary.name,
      method: job.method,
      path: job.secondaryPath,
      headers: redactHeaders(h),
      body: body === null || body === 'overflow' ? '' : body.toString('base64'),
      idempotencyKey: job.idempotencyKey ?? '',
      requestId: job.requestId,
      reason,
      attempts: 1,
    }
    this.#publisher.publish('replay', job.routeId, event)
  }
}

function pathOnly(clientPath: string): string {
  const q = clientPath.indexOf('?')
  return q < 0 ? clientPath : clientPath.slice(0, q)
}

function round(ms: number | undefined): number | null {
  return ms === undefined ? null : Math.round(ms * 10) / 10
}

function parseJson(r: CapturedResponse): unknown {
  try {
    return JSON.parse(r.body.toString('utf8'))
  } catch {
    return undefined
  }
}
