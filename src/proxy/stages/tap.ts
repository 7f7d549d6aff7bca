import type { IncomingHttpHeaders } from 'node:http'
import { BodyCollector } from '../../compare/captured-response.ts'
import type { BodyCapture } from '../../mirror/body-capture.ts'
import type { Mirror, MirrorJob } from '../../mirror/mirror.ts'
import { pathMatch, upstreamPath, type CompiledRoute } from '../../routing/route-table.ts'
import type { Upstream } from '../upstreams.ts'
import { SAFE_METHODS, type ProxyRequest } from './request.ts'

/**
 * Stage 3, tap for mirror (docs/architecture.md): decides whether this request is mirrored (every
 * write on a route with mirroring on; reads with `mirror: 'all'`, sampled by `readSample`) and
 * builds its MirrorJob. The secondary call, the comparison and the events are the mirror's
 * (src/mirror/, src/compare/, src/publish/): this stage only hands it the job and, through
 * MirrorTap, the primary's answer.
 */
export class TapStage {
  readonly #mirror: Mirror | null
  readonly #compareLimit: number

  constructor(mirror: Mirror | null, compareLimit: number) {
    this.#mirror = mirror
    this.#compareLimit = compareLimit
  }

  /** Sets `r.job` when the request is mirrored to `secondary`. */
  run(r: ProxyRequest, secondary: Upstream): void {
    const mirror = this.#mirror
    if (mirror === null) return
    const isWrite = !SAFE_METHODS.has(r.method)
    if (r.route !== null) this.#buildJob(r, r.route, isWrite, mirror, secondary)
    // noise learning must know that this write came between two reads of what it changes; noted
    // after the job read the write clock, as the job's writeSeq is the clock before this write
    if (isWrite) mirror.noteWrite(r.routeId, r.path)
  }

  #buildJob(r: ProxyRequest, route: CompiledRoute, isWrite: boolean, mirror: Mirror, secondary: Upstream): void {
    const state = route.state
    if (state.mirror === 'off') return
    if (!isWrite && !(state.mirror === 'all' && (state.readSample >= 1 || Math.random() < state.readSample))) return
    const { upstream, query } = r
    const match = pathMatch(route, r.path)
    r.job = {
      routeId: r.routeId,
      method: r.method,
      clientPath: r.path + query,
      requestId: r.requestId,
      idempotencyKey: undefined,
      isWrite,
      primary: upstream,
      secondary,
      primaryPath: upstream.basePath + r.target + query,
      secondaryPath: secondary.basePath + upstreamPath(route, r.path, secondary.name, match) + query,
      headers: r.headers,
      body: null,
      learn: !isWrite && mirror.wantsNoiseSample(r.routeId),
      writeSeq: mirror.writeSeq,
      match,
      query,
    }
  }

  /** The exchange's side of the tap: null when the request is not mirrored. */
  tapFor(r: ProxyRequest): MirrorTap | null {
    return r.job === null || this.#mirror === null ? null : new MirrorTap(this.#mirror, r.job, r.capture, this.#compareLimit)
  }
}

/** The mirrored copy after a failover: the sides swapped, so the side that failed still gets the write. */
export function swapSides(job: MirrorJob): MirrorJob {
  return { ...job, primary: job.secondary, secondary: job.primary, primaryPath: job.secondaryPath, secondaryPath: job.primaryPath }
}

/**
 * What a mirrored exchange carries besides the client answer: a bounded copy of the primary's
 * body as it streams, handed to the mirror once the answer (or its failure) is known.
 */
export class MirrorTap {
  readonly #mirror: Mirror
  readonly job: MirrorJob
  /** the request body's copy, when it was streamed */
  readonly #capture: BodyCapture | null
  readonly #collector: BodyCollector

  constructor(mirror: Mirror, job: MirrorJob, capture: BodyCapture | null, compareLimit: number) {
    this.#mirror = mirror
    this.job = job
    this.#capture = capture
    this.#collector = new BodyCollector(compareLimit)
  }

  /** A journalled write's answer is held until its journal record is durable. */
  get holdsAnswer(): boolean {
    return this.job.isWrite && this.#mirror.journals
  }

  push(chunk: Buffer): void {
    this.#collector.push(chunk)
  }

  /** The primary answered: the mirror makes its call. Resolves when a journalled write's record is durable. */
  answered(status: number, headers: IncomingHttpHeaders, latencyMs: number): Promise<boolean> | null {
    this.#settleBody()
    const c = this.#collector
    return this.#mirror.primaryAnswered(this.job, { status, headers, body: c.body, length: c.length, truncated: c.truncated, latencyMs })
  }

  /**
   * `why`: how the exchange failed. `started`: the request went out to the primary; when all of
   * it did, the primary may have applied it, so the mirror is told the outcome is unknown.
   */
  failed(why: string, started: boolean): void {
    this.#settleBody()
    const sent = started && (this.#capture === null || this.#capture.writableEnded)
    this.#mirror.primaryFailed(this.job, sent ? why : null)
  }

  /** The request body the mirror resends: the captured copy, or 'overflow' when it was too big. */
  #settleBody(): void {
    if (this.#capture !== null) this.job.body = this.#capture.overflow ? 'overflow' : this.#capture.body
  }
}
