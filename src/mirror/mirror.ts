import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import type { Counter } from 'prom-client'
import type { CapturedResponse } from '../compare/captured-response.ts'
import { compareResponses, compileCompareOptions, parseBody, type CompareOptions } from '../compare/comparator.ts'
import { decodeBody } from '../compare/decode.ts'
import type { DiffLog } from '../compare/diff-log.ts'
import { FieldMatcher, formatFieldPath } from '../compare/field-path.ts'
import { NoiseLearner, type NoiseSnapshot } from '../compare/noise-learner.ts'
import type { CutoverConfig } from '../config/schema.ts'
import type { Metrics } from '../metrics/metrics.ts'
import { DIFF_SCHEMA, REPLAY_SCHEMA, type DiffEvent, type DiffKind, type ReplayEvent } from '../publish/events.ts'
import type { Publisher } from '../publish/publisher.ts'
import { isSecretPath, redactJson, REDACTED, SECRET_HEADERS } from '../publish/redact.ts'
import type { Upstream } from '../proxy/upstreams.ts'
import type { BackendBreaker, BreakerTicket } from '../resilience/breaker.ts'
import type { RouteGuard } from '../resilience/guard.ts'
import { compilePropagations, getPath, setPath, type Propagation } from './propagate.ts'
import { WriteClock } from './write-clock.ts'
import { callHeaders, callOnce, SecondaryCall, type CallListener, type CallResult } from './secondary-call.ts'
import type { IdStore } from '../ids/id-store.ts'
import { readId } from '../ids/id-source.ts'
import { PendingCreates } from '../ids/pending-creates.ts'
import { RouteIds, sideOf, type Translation } from '../ids/route-ids.ts'
import type { Journal } from './journal.ts'
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
  /** the route's path match (its parameters carry ids for `ids.params`) and the query, for id translation */
  readonly match: RegExpExecArray | null
  readonly query: string
}

/** What this process's noise learning did by itself: learned fields, or an operator's clear. */
export type NoiseChange = { readonly kind: 'learned'; readonly route: string; readonly fields: readonly string[] } | { readonly kind: 'cleared'; readonly route: string }

/** `noise`: the answers differed only in learned noise fields (a match for every other purpose) */
export type MirrorOutcome = 'match' | 'noise' | 'mismatch' | 'error' | 'timeout' | 'skipped'
const MIRROR_OUTCOMES: readonly MirrorOutcome[] = ['match', 'noise', 'mismatch', 'error', 'timeout', 'skipped']

interface RoutePlan {
  readonly compare: CompareOptions
  readonly secrets: FieldMatcher
  readonly propagate: Propagation[]
  readonly noise: NoiseLearner | null
  readonly mirrorFailedWrites: boolean
  /** `ids` compiled, with its metric children; null without `ids` or without an id store */
  readonly ids: RouteIds | null
  readonly idHit: { inc(n?: number): void } | null
  readonly idMiss: { inc(n?: number): void } | null
  /** the route's mirror outcome counters, bound once: labels() hashes its values on every call */
  readonly outcomes: Record<MirrorOutcome, Counter.Internal>
  /** the route's transforms by backend name (src/transform/); undefined without any */
  readonly requestTransforms: ReadonlyMap<string, RequestTransform> | undefined
  readonly responseTransforms: ReadonlyMap<string, ResponseTransform> | undefined
}

/** The secondary's request: path with ids translated, the client's headers and body with propagated values applied. */
interface Prepared {
  readonly path: string
  readonly headers: readonly string[]
  readonly body: Buffer | null
  readonly translation: Translation | null
}

/**
 * One mirrored exchange from the primary's answer to its outcome: decoded → prepared → journalled
 * → sent → judged → finished (or skipped / failed, then finished). One object per exchange,
 * carried through the secondary call as its context, so no step needs a closure of its own.
 */
class Flight {
  primary: CapturedResponse | null = null
  prepared: Prepared | null = null
  /** the write's journalled replay event (null: not journalled) */
  event: ReplayEvent | null = null
  ticket: BreakerTicket | undefined = undefined
  finished = false

  constructor(
    readonly job: MirrorJob,
    readonly plan: RoutePlan,
    readonly unknown: boolean,
    readonly skip: boolean,
    /** PendingCreates' mark when the exchange started: the creates an unknown id may wait for */
    readonly mark: number,
    /** ends this exchange's own create (PendingCreates), if it is one */
    readonly created: (() => void) | null,
    /** a write that the journal keeps until the secondary has it */
    readonly journals: boolean,
  ) {}
}

function noop(): void {}

/** The answer carries a content-encoding: decodeBody must run (on the threadpool) before anything reads it. */
function encoded(r: CapturedResponse): boolean {
  return r.headers['content-encoding'] !== undefined
}

/**
 * Runs the secondary half of dual-write, off the client's path: resends the request to the
 * secondary with the same x-request-id and Idempotency-Key, compares the two answers, and
 * publishes what differs. A write the secondary did not take goes to the replay topic with
 * everything needed to resend it. The number of mirrored calls in flight is bounded; over the
 * bound a call is skipped and counted (and a write still goes to replay), never queued.
 */
export class Mirror {
  readonly #plans = new Map<string, RoutePlan>()
  readonly #publisher: Publisher
  readonly #diffs: DiffLog
  readonly #metrics: Metrics
  readonly #log: Logger
  readonly #maxInFlight: number
  readonly #compareBytes: number
  readonly #breakers: ReadonlyMap<string, BackendBreaker>
  readonly #guards: { get(route: string): RouteGuard | undefined } | null
  readonly #writes = new WriteClock()
  readonly #ids: IdStore | null
  readonly #creates = new PendingCreates()
  readonly #journal: Journal | null
  readonly #noiseListeners: ((change: NoiseChange) => void)[] = []
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
    ids: IdStore | null = null,
    journal: Journal | null = null,
  ) {
    this.#ids = ids
    this.#journal = journal
    this.#breakers = breakers
    this.#guards = guards
    this.#publisher = publisher
    this.#diffs = diffs
    this.#metrics = metrics
    this.#log = log
    this.#maxInFlight = config.limits.mirrorInFlight
    this.#compareBytes = config.limits.compareBodyBytes
    const responseTransforms = compileTransforms(config)
    const requestTransforms = compileRequestTransforms(config)
    for (const route of config.routes) {
      const routeIds = ids === null || route.ids === undefined ? null : new RouteIds(route, config.routes, ids.map)
      const outcomes = {} as Record<MirrorOutcome, Counter.Internal>
      for (const outcome of MIRROR_OUTCOMES) outcomes[outcome] = metrics.mirror.labels(route.id, outcome)
      this.#plans.set(route.id, {
        compare: compileCompareOptions(route.compare),
        secrets: new FieldMatcher(route.redact ?? []),
        propagate: compilePropagations(route.propagate),
        noise: route.compare?.learnNoise === false ? null : new NoiseLearner(),
        mirrorFailedWrites: route.mirrorFailedWrites,
        ids: routeIds,
        idHit: routeIds?.translates === true ? metrics.idTranslations.labels(route.id, 'hit') : null,
        idMiss: routeIds?.translates === true ? metrics.idTranslations.labels(route.id, 'miss') : null,
        outcomes,
        requestTransforms: requestTransforms.get(route.id),
        responseTransforms: responseTransforms.get(route.id),
      })
    }
  }

  get inFlight(): number {
    return this.#inFlight
  }

  /** Mirrored writes are journalled: a write's answer waits for primaryAnswered's promise. */
  get journals(): boolean {
    return this.#journal !== null
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
    if (!this.forgetNoise(routeId)) return false
    for (const fn of this.#noiseListeners) fn({ kind: 'cleared', route: routeId })
    return true
  }

  /** Like clearNoise, for a clear made elsewhere (another replica): the listeners are not told. */
  forgetNoise(routeId: string): boolean {
    const noise = this.#plans.get(routeId)?.noise
    if (noise === null || noise === undefined) return false
    noise.clear()
    this.#metrics.noiseFields.labels(routeId).set(0)
    return true
  }

  /** Fields another replica learned for this route (see NoiseLearner.adopt); returns those taken. */
  adoptNoise(routeId: string, fields: readonly string[]): string[] {
    const noise = this.#plans.get(routeId)?.noise
    if (noise === null || noise === undefined) return []
    const taken = fields.filter((f) => noise.adopt(f))
    if (taken.length > 0) this.#metrics.noiseFields.labels(routeId).set(noise.fields.size)
    return taken
  }

  /** Calls `fn` when this process learns noise fields or an operator clears a route's noise. */
  onNoiseChange(fn: (change: NoiseChange) => void): void {
    this.#noiseListeners.push(fn)
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

  /**
   * The primary answered: mirror (unless policy says otherwise), compare, publish. For a journalled
   * write, resolves once its journal record is durable (false: the write failed); null when there
   * is nothing to wait for.
   */
  primaryAnswered(job: MirrorJob, primary: CapturedResponse): Promise<boolean> | null {
    const plan = this.#plans.get(job.routeId)
    if (plan === undefined) return null
    if (job.isWrite) this.#writes.note(job.routeId, pathOnly(job.clientPath))
    if (job.isWrite && primary.status >= 500 && !plan.mirrorFailedWrites) {
      this.#count(plan, job, 'skipped')
      return null
    }
    return this.#start(job, plan, primary)
  }

  /**
   * The primary failed (network, timeout, client gone). `unknown` says how when the request had
   * reached the primary, which may have applied it: such a write gets a `primary-unknown` diff
   * event and goes to replay marked `outcome: 'unknown'` (or, with `mirrorFailedWrites`, to the
   * secondary). Otherwise a write is mirrored only when the route asks for it.
   */
  primaryFailed(job: MirrorJob, unknown: string | null = null): void {
    const plan = this.#plans.get(job.routeId)
    if (plan === undefined) return
    if (job.isWrite) this.#writes.note(job.routeId, pathOnly(job.clientPath))
    if (job.isWrite && unknown !== null) this.#emitDiff(job, 'primary-unknown', null, null, [], false, unknown)
    if (job.isWrite && plan.mirrorFailedWrites) void this.#start(job, plan, null, unknown !== null)
    else if (job.isWrite && unknown !== null) this.#replayUnknown(job, plan)
    else this.#count(plan, job, 'skipped')
  }

  /**
   * Replay only, no mirrored call: there is no answer to copy generated values from (`propagate`),
   * and the primary may not have applied the write at all; reconciliation settles it.
   */
  #replayUnknown(job: MirrorJob, plan: RoutePlan): void {
    this.#count(plan, job, 'skipped')
    // an oversized body was not kept: the primary-unknown diff event is all there is
    if (job.body === 'overflow') return
    const prepared = this.#prepare(job, plan, null)
    if (prepared.translation !== null) this.#countIds(plan, prepared.translation)
    const event = this.#replayEvent(job, 'primary-unknown', prepared, null, plan, true)
    this.#journal?.begin({ mode: 'publish', event })
    this.#publishReplay(event)
  }

  #start(job: MirrorJob, plan: RoutePlan, answered: CapturedResponse | null, unknown = false): Promise<boolean> | null {
    if (job.body === 'overflow') {
      this.#count(plan, job, 'skipped')
      this.#emitDiff(job, 'not-mirrored', answered, null, [], false, 'request body over limits.mirrorBodyBytes')
      return null
    }
    // over the in-flight bound, or the secondary's breaker is open: skipped, and a write is kept
    const skip = this.#inFlight >= this.#maxInFlight || this.#breakers.get(job.secondary.name)?.allows() === false
    // counted from here, so that idle() also waits for the decoding and journalling below
    this.#inFlight++
    const mark = this.#creates.mark()
    const created = !skip && plan.ids?.from != null && job.isWrite ? this.#creates.begin(plan.ids.map) : null
    const flight = new Flight(job, plan, unknown, skip, mark, created, job.isWrite && this.#journal !== null)
    if (answered === null || !encoded(answered)) {
      // the common case, all in this tick: the journal's promise is the client's to wait for
      try {
        return this.#journalled(flight, answered)
      } catch (err) {
        this.#failed(flight, err)
        return null
      }
    }
    // the primary's answer must be decoded first (the libuv threadpool): the client waits for that too
    let release: (durable: boolean) => void = noop
    const durable = flight.journals ? new Promise<boolean>((resolve) => (release = resolve)) : null
    decodeBody(answered, this.#compareBytes)
      .then((primary) => {
        const journalled = this.#journalled(flight, primary)
        if (journalled === null) release(false)
        else void journalled.then(release)
      })
      .catch((err: unknown) => {
        release(false)
        this.#failed(flight, err)
      })
    return durable
  }

  /**
   * prepare → journal → mirror. The primary's answer (decoded) feeds propagate, ids and the
   * comparison (the client already has the bytes as sent); a write is journalled before its client
   * is answered (the promise returned), so that a crash cannot lose it.
   */
  #journalled(flight: Flight, primary: CapturedResponse | null): Promise<boolean> | null {
    const { job, plan } = flight
    flight.primary = primary
    const prepared = this.#prepare(job, plan, primary)
    flight.prepared = prepared
    let durable: Promise<boolean> | null = null
    if (flight.journals) {
      const event = this.#replayEvent(job, 'skipped', prepared, primary, plan, flight.unknown)
      flight.event = event
      durable = (this.#journal as Journal).begin({ mode: 'send', event })
    }
    if (flight.skip) {
      this.#count(plan, job, 'skipped')
      if (job.isWrite) this.#emitReplay(flight, 'skipped')
      this.#finish(flight)
      return durable
    }
    // an id not known yet may belong to a create still being mirrored (see PendingCreates); a
    // noise-learning read repeats its primary call first: both wait, off the common path
    const waits = plan.ids !== null && (prepared.translation?.misses ?? 0) > 0
    if (waits || (job.learn && primary !== null && plan.noise !== null)) {
      this.#beforeSend(flight, waits).catch((err: unknown) => this.#failed(flight, err))
      return durable
    }
    this.#send(flight)
    return durable
  }

  async #beforeSend(flight: Flight, waits: boolean): Promise<void> {
    const { job, plan, primary } = flight
    if (waits && plan.ids !== null) {
      await this.#creates.wait(plan.ids.map, flight.mark)
      flight.prepared = this.#prepare(job, plan, primary)
    }
    if (job.learn && primary !== null && plan.noise !== null) await this.#learn(job, plan, plan.noise, primary)
    this.#send(flight)
  }

  /** The primary's repeat, reshaped like its first call (route transforms, src/transform/): noise is what differs. */
  async #learn(job: MirrorJob, plan: RoutePlan, noise: NoiseLearner, primary: CapturedResponse): Promise<void> {
    const body = job.body === 'overflow' ? null : job.body
    const toPrimary = plan.requestTransforms?.get(job.primary.name)?.apply(job.headers, body) ?? { headers: job.headers, body }
    const called = await callOnce(job.primary.mirrorPool, job.method, job.primaryPath, toPrimary.headers, toPrimary.body, this.#compareBytes, job.primary.timeoutMs)
    if (!called.ok) return
    const again = await decodeBody(called.response, this.#compareBytes)
    // a write to this resource between the two calls makes them differ for a real reason
    if (this.#writes.touched(job.routeId, pathOnly(job.clientPath), job.writeSeq)) {
      noise.discard()
      return
    }
    const added = noise.learn(primary, again, plan.compare)
    if (added.length > 0) {
      this.#log.info({ route: job.routeId, fields: added }, 'learned noisy fields')
      this.#metrics.noiseFields.labels(job.routeId).set(noise.fields.size)
      for (const fn of this.#noiseListeners) fn({ kind: 'learned', route: job.routeId, fields: added })
    }
  }

  /** The mirrored call itself, through the secondary's own pool; #callSettled takes it from there. */
  #send(flight: Flight): void {
    const { job, plan } = flight
    const prepared = flight.prepared as Prepared
    if (prepared.translation !== null) this.#countIds(plan, prepared.translation)
    flight.ticket = this.#breakers.get(job.secondary.name)?.ticket()
    const secondary = job.secondary
    new SecondaryCall(this.#calls, flight, this.#compareBytes, secondary.timeoutMs).send(secondary.mirrorPool, job.method, prepared.path, callHeaders(prepared.headers, prepared.body), prepared.body)
  }

  readonly #calls: CallListener<Flight> = {
    callSettled: (call, result) => {
      const flight = call.context
      if (!result.ok || !encoded(result.response)) {
        this.#judged(flight, result)
        return
      }
      decodeBody(result.response, this.#compareBytes).then(
        (response) => this.#judged(flight, { ok: true, response }),
        (err: unknown) => this.#failed(flight, err),
      )
    },
  }

  #judged(flight: Flight, secondary: CallResult): void {
    try {
      this.#judge(flight, secondary)
    } catch (err) {
      this.#failed(flight, err)
      return
    }
    this.#finish(flight)
  }

  /** The secondary answered (or failed): breaker, journal, then compare and publish what differs. */
  #judge(flight: Flight, secondary: CallResult): void {
    const { job, plan, primary, event } = flight
    const ticket = flight.ticket
    if (ticket !== undefined) {
      if (!secondary.ok) ticket.failure(secondary.error)
      else if (secondary.response.status >= 500) ticket.failure(new Error(`upstream answered ${secondary.response.status}`))
      else ticket.success()
    }
    // the secondary has the write: nothing left to recover
    if (event !== null && secondary.ok && !(job.isWrite && secondary.response.status >= 500)) this.#journal?.done(event.id)
    if (!secondary.ok) {
      this.#count(plan, job, secondary.timeout ? 'timeout' : 'error')
      this.#emitDiff(job, secondary.timeout ? 'secondary-timeout' : 'secondary-error', primary, null, [], false, secondary.error.message, secondary.latencyMs)
      if (job.isWrite) this.#emitReplay(flight, secondary.timeout ? 'secondary-timeout' : 'secondary-error')
      return
    }
    // compared as the client would have had it from the secondary (route transforms, src/transform/)
    const res = plan.responseTransforms?.get(job.secondary.name)?.captured(secondary.response) ?? secondary.response
    if (job.isWrite && res.status >= 500) {
      this.#count(plan, job, 'error')
      this.#emitDiff(job, 'secondary-error', primary, res, [], false, `secondary answered ${res.status}`)
      this.#emitReplay(flight, 'secondary-error')
      return
    }
    if (primary === null) {
      this.#count(plan, job, 'error', true)
      return
    }
    // recorded before comparing, so the create's own answers compare modulo the new pair
    const primarySide = sideOf(job.primary.name)
    if (plan.ids !== null && primarySide !== null && job.isWrite && primary.status < 400 && res.status < 400) {
      const pair = plan.ids.created(primary, res, primarySide)
      if (pair !== undefined) this.#ids?.record(pair)
    }
    const equivalent = plan.ids === null || primarySide === null ? undefined : plan.ids.equivalent(primarySide)
    const result = compareResponses(primary, res, plan.compare, plan.noise?.fields, equivalent === undefined ? undefined : { equivalent })
    if (result.noise > 0) this.#metrics.noiseDifferences.labels(job.routeId).inc(result.noise)
    if (result.total === 0) {
      this.#count(plan, job, result.noise > 0 ? 'noise' : 'match')
      return
    }
    this.#count(plan, job, 'mismatch')
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

  #failed(flight: Flight, err: unknown): void {
    this.#log.error({ err, route: flight.job.routeId, requestId: flight.job.requestId }, 'mirror failed')
    this.#finish(flight)
  }

  /** Exactly once per flight, however it ended. */
  #finish(flight: Flight): void {
    if (flight.finished) return
    flight.finished = true
    flight.created?.()
    this.#inFlight--
    if (this.#inFlight === 0) for (const r of this.#idle.splice(0)) r()
  }

  /**
   * The secondary's request: ids translated with the pairs known now (counted into the metrics
   * by whoever uses it: #send, #replayUnknown), then values copied from the primary's answer (`propagate`).
   */
  #prepare(job: MirrorJob, plan: RoutePlan, primary: CapturedResponse | null): Prepared {
    let body = job.body === 'overflow' ? null : job.body
    let path = job.secondaryPath
    let translation: Translation | null = null
    if (plan.ids?.translates === true) {
      translation = this.#translate(job, plan, body)
      path = translation.path ?? path
      body = translation.body
    }
    if (primary === null || plan.propagate.length === 0) return this.#shaped(job, plan, { path, headers: job.headers, body, translation })
    const headers = [...job.headers]
    const parsed = parseJson(primary)
    let reqJson: unknown = undefined
    for (const p of plan.propagate) {
      const value = getPath({ body: parsed, headers: primary.headers as Record<string, unknown>, status: primary.status }, p.from)
      if (value === undefined) continue
      if (p.to.kind === 'header') headers.push(p.to.name, String(value))
      else {
        reqJson ??= body === null ? {} : JSON.parse(body.toString('utf8'))
        setPath({ body: reqJson }, p.to.path, value)
      }
    }
    if (reqJson !== undefined) body = Buffer.from(JSON.stringify(reqJson))
    return this.#shaped(job, plan, { path, headers, body, translation })
  }

  /** The secondary's request as it expects it (route transforms, src/transform/): sent, journalled and replayed so. */
  #shaped(job: MirrorJob, plan: RoutePlan, prepared: Prepared): Prepared {
    const t = plan.requestTransforms?.get(job.secondary.name)
    if (t === undefined) return prepared
    const { headers, body } = t.apply(prepared.headers, prepared.body)
    return { ...prepared, headers, body }
  }

  /** The mirrored request with the primary's ids swapped for the secondary's. */
  #translate(job: MirrorJob, plan: RoutePlan, body: Buffer | null): Translation {
    const primary = sideOf(job.primary.name)
    if (plan.ids === null || primary === null) return { path: undefined, body, hits: 0, misses: 0 }
    return plan.ids.translate(job.match, job.query, primary, job.secondary.name, job.secondary.basePath, body)
  }

  #countIds(plan: RoutePlan, t: Translation): void {
    if (t.hits > 0) plan.idHit?.inc(t.hits)
    if (t.misses > 0) plan.idMiss?.inc(t.misses)
  }

  #count(plan: RoutePlan, job: MirrorJob, outcome: MirrorOutcome, primaryFailed = false): void {
    plan.outcomes[outcome].inc()
    const guard = this.#guards?.get(job.routeId)
    if (guard === undefined) return
    // the guard judges cloud: a failure of legacy as secondary, or of the primary, is not cloud's
    const blameless = (outcome === 'error' || outcome === 'timeout') && (primaryFailed || job.secondary.name !== 'cloud')
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

  /** Publishes the flight's write for replay; a journalled one keeps its event id and is done once the event is durable. */
  #emitReplay(flight: Flight, reason: ReplayEvent['reason']): void {
    const { job, plan, primary, unknown } = flight
    const event = this.#replayEvent(job, reason, flight.prepared as Prepared, primary, plan, unknown)
    this.#publishReplay(flight.event === null ? event : { ...event, id: flight.event.id })
  }

  #publishReplay(event: ReplayEvent): void {
    const journal = this.#journal
    this.#publisher.publish('replay', event.route, event, journal === null ? undefined : () => journal.done(event.id))
  }

  #replayEvent(job: MirrorJob, reason: ReplayEvent['reason'], prepared: Prepared, primary: CapturedResponse | null, plan: RoutePlan, unknown: boolean): ReplayEvent {
    // lower-cased and redacted in one pass (redactHeaders' rule)
    const h: Record<string, string> = {}
    for (let i = 0; i < prepared.headers.length; i += 2) {
      const name = (prepared.headers[i] as string).toLowerCase()
      if (name !== 'content-length') h[name] = SECRET_HEADERS.has(name) ? REDACTED : (prepared.headers[i + 1] as string)
    }
    const event: ReplayEvent = {
      schema: REPLAY_SCHEMA,
      id: randomUUID(),
      time: new Date().toISOString(),
      route: job.routeId,
      backend: job.secondary.name,
      method: job.method,
      path: prepared.path,
      headers: h,
      body: prepared.body === null ? '' : prepared.body.toString('base64'),
      idempotencyKey: job.idempotencyKey ?? '',
      requestId: job.requestId,
      reason,
      attempts: 1,
    }
    if (unknown) event.outcome = 'unknown'
    const from = plan.ids?.from
    const primaryId = from == null || primary === null || primary.status >= 400 ? undefined : readId(from, primary)
    if (primaryId !== undefined) event.primaryId = primaryId
    return event
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
  const parsed = parseBody(r)
  return parsed.ok ? parsed.value : undefined
}
