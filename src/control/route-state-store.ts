import type { Logger } from 'pino'
import type { CutoverConfig } from '../config/schema.ts'
import { CutoverError } from '../errors.ts'
import type { AuditLog } from './audit.ts'
import { ControlLog } from './control-log.ts'
import { copyState, type RouteState, type RouteStatePatch } from './route-state.ts'
import { readStateFile, StateFileWriter } from './state-file.ts'

export type StateListener = (id: string, state: RouteState) => void

/** Where a route's current state came from (GET /routes shows it; the start log names it). */
export type StateSource = 'config' | 'control topic' | 'state file'

/**
 * The authority for route state in one gateway: starts from the config, overlays what the state
 * file kept (so weights survive restarts), applies admin changes with optimistic concurrency,
 * audits and persists each one, and tells listeners (the weight gauge, cluster workers).
 *
 * The RouteState objects it holds are the very ones the route table reads per request, and are
 * changed in place: a change takes effect on the next request without any lookup.
 */
export class RouteStateStore {
  readonly #states: Map<string, RouteState>
  readonly #writer: StateFileWriter | null
  readonly #audit: AuditLog
  readonly #listeners: StateListener[] = []
  readonly #sources = new Map<string, StateSource>()
  /** with `state.shared`: changes go through the control topic instead of this process */
  #shared: ControlLog | null = null

  private constructor(states: Map<string, RouteState>, writer: StateFileWriter | null, audit: AuditLog) {
    this.#states = states
    this.#writer = writer
    this.#audit = audit
  }

  static async open(config: CutoverConfig, audit: AuditLog, log: Logger, options: { persist?: boolean } = {}): Promise<RouteStateStore> {
    if (config.state.shared) return RouteStateStore.#openShared(config, audit, log)
    const persist = options.persist !== false
    const saved = persist ? await readStateFile(config.state.file) : {}
    const states = new Map<string, RouteState>()
    for (const route of config.routes) {
      const fromConfig: RouteState = { weight: route.weight, mirror: route.mirror, readSample: route.readSample, version: 1 }
      const kept = saved[route.id]
      if (kept !== undefined) {
        if (kept.weight !== route.weight || kept.mirror !== route.mirror || kept.readSample !== route.readSample) {
          log.info({ route: route.id, config: fromConfig, kept }, `route ${route.id}: using the state kept in ${config.state.file} over the config`)
        }
        states.set(route.id, { weight: kept.weight, mirror: kept.mirror, readSample: kept.readSample, version: kept.version })
      } else {
        states.set(route.id, fromConfig)
      }
    }
    const store = new RouteStateStore(states, persist ? new StateFileWriter(config.state.file) : null, audit)
    for (const id of states.keys()) store.#sources.set(id, saved[id] === undefined ? 'config' : 'state file')
    return store
  }

  /**
   * Shared state: the config is the initial state of routes the control topic has no record of;
   * no state file. `synced()` resolves once the topic was read to its end.
   */
  static #openShared(config: CutoverConfig, audit: AuditLog, log: Logger): RouteStateStore {
    const states = new Map<string, RouteState>()
    for (const route of config.routes) states.set(route.id, { weight: route.weight, mirror: route.mirror, readSample: route.readSample, version: 1 })
    const store = new RouteStateStore(states, null, audit)
    for (const id of states.keys()) store.#sources.set(id, 'config')
    store.#shared = new ControlLog(config, audit, log, {
      current: (id) => store.#states.get(id),
      apply: (id, next) => store.#applyShared(id, next),
    })
    void store.#shared.synced().catch(() => undefined)
    return store
  }

  #applyShared(id: string, next: RouteState): void {
    const live = this.#states.get(id)
    if (live === undefined) return
    applyState(live, next)
    this.#sources.set(id, 'control topic')
    const after = copyState(live)
    for (const l of this.#listeners) l(id, after)
  }

  /** Resolves once the state is current (with `state.shared`: the control topic read to its end). */
  async synced(): Promise<void> {
    await this.#shared?.synced()
  }

  /** The control log, with `state.shared`. */
  get control(): ControlLog | null {
    return this.#shared
  }

  source(id: string): StateSource | undefined {
    return this.#sources.get(id)
  }

  async close(): Promise<void> {
    await this.#shared?.close()
  }

  /** The live state objects, keyed by route id (for the route table). */
  get states(): ReadonlyMap<string, RouteState> {
    return this.#states
  }

  get(id: string): RouteState | undefined {
    const s = this.#states.get(id)
    return s === undefined ? undefined : copyState(s)
  }

  snapshot(): Record<string, RouteState> {
    const out: Record<string, RouteState> = {}
    for (const [id, s] of this.#states) out[id] = copyState(s)
    return out
  }

  onChange(listener: StateListener): void {
    this.#listeners.push(listener)
  }

  /**
   * Applies a change. `ifMatch` (a version) makes it conditional: a stale version is refused with
   * CUTOVER_VERSION_CONFLICT rather than overwriting someone else's change.
   */
  async update(id: string, patch: RouteStatePatch, meta: { who: string; action: string; ifMatch?: number; expect?: number }): Promise<RouteState> {
    const live = this.#states.get(id)
    if (live === undefined) throw new CutoverError('CUTOVER_ROUTE_NOT_FOUND', `unknown route '${id}'`)
    // the leader decides, audits and publishes; listeners fire when the record is read back
    if (this.#shared !== null) return this.#shared.update(id, patch, meta)
    const wanted = meta.ifMatch ?? meta.expect
    if (wanted !== undefined && wanted !== live.version) {
      throw new CutoverError('CUTOVER_VERSION_CONFLICT', `route '${id}' is at version ${live.version}, not ${wanted}`)
    }
    const before = copyState(live)
    if (patch.weight !== undefined) live.weight = patch.weight
    if (patch.mirror !== undefined) live.mirror = patch.mirror
    if (patch.readSample !== undefined) live.readSample = patch.readSample
    live.version = before.version + 1
    const after = copyState(live)
    this.#audit.record({ who: meta.who, action: meta.action, route: id, before, after })
    for (const l of this.#listeners) l(id, after)
    await this.#writer?.write(this.snapshot())
    return after
  }
}

/** Applies a state received from elsewhere (the cluster primary) onto a live state object. */
export function applyState(live: RouteState, next: RouteState): void {
  live.weight = next.weight
  live.mirror = next.mirror
  live.readSample = next.readSample
  live.version = next.version
}
