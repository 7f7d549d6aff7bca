import { mkdir, rm } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { Logger } from 'pino'
import { configSource } from '../config/load.ts'
import type { CutoverConfig } from '../config/schema.ts'
import { CutoverError } from '../errors.ts'
import type { AuditLog } from './audit.ts'
import { ControlLog } from './control-log.ts'
import { copyState, type RampHold, type RouteState, type RouteStatePatch } from './route-state.ts'
import { readStateFile, StateFileWriter, type KeptState } from './state-file.ts'

export type StateListener = (id: string, state: RouteState) => void
export type RampHoldListener = (id: string, hold: RampHold) => void

/** Who asked for a change and on which version; `ramp` (with `state.shared` only) holds or releases the route's ramp in the same change. */
export interface UpdateMeta {
  readonly who: string
  readonly action: string
  readonly ifMatch?: number
  readonly expect?: number
  readonly ramp?: RampHold
}

/**
 * Where a route's live value came from: the config, the state file at start, a change since, or
 * (with `state.shared`) the fleet's control topic.
 */
export type ValueSource = 'config' | 'state-file' | 'runtime' | 'control-topic'
export interface RouteSources {
  weight: ValueSource
  mirror: ValueSource
  readSample: ValueSource
}

const FIELDS = ['weight', 'mirror', 'readSample'] as const

export interface OpenOptions {
  /** Keep route state in `config.state.file` (default true). */
  readonly persist?: boolean
  /** `start --reset-state`: delete the state file and start from the config. */
  readonly reset?: boolean
}

/**
 * The authority for route state in one gateway: starts from the config, overlays what the state
 * file kept (so values changed at run time survive restarts), applies admin changes with
 * optimistic concurrency, audits and persists each one, and tells listeners (the weight gauge,
 * cluster workers).
 *
 * The RouteState objects it holds are the very ones the route table reads per request, and are
 * changed in place: a change takes effect on the next request without any lookup.
 */
export class RouteStateStore {
  readonly #states: Map<string, RouteState>
  readonly #sources: Map<string, RouteSources>
  readonly #writer: StateFileWriter | null
  readonly #audit: AuditLog
  readonly #listeners: StateListener[] = []
  readonly #rampListeners: RampHoldListener[] = []
  /** with `state.shared`: changes go through the control topic instead of this process */
  #shared: ControlLog | null = null

  private constructor(states: Map<string, RouteState>, sources: Map<string, RouteSources>, writer: StateFileWriter | null, audit: AuditLog) {
    this.#states = states
    this.#sources = sources
    this.#writer = writer
    this.#audit = audit
  }

  static async open(config: CutoverConfig, audit: AuditLog, log: Logger, options: OpenOptions = {}): Promise<RouteStateStore> {
    if (config.state.shared) return RouteStateStore.#openShared(config, audit, log)
    const persist = options.persist !== false
    const file = config.state.file
    const source = configSource(config)
    let saved: Record<string, KeptState> = {}
    if (persist) {
      try {
        // fail at start, not at the first change, when the folder cannot be written (a read-only config mount)
        await mkdir(dirname(file), { recursive: true })
      } catch (err) {
        throw new CutoverError('CUTOVER_CONFIG_INVALID', `state.file: cannot create the folder of ${file}: ${(err as Error).message}`, {
          cause: err,
          details: [`state.file: ${file} is not writable (${(err as NodeJS.ErrnoException).code ?? 'error'}); set state.file to a writable path`],
        })
      }
      if (options.reset === true) {
        await rm(file, { force: true })
        log.info({ stateFile: file }, `--reset-state: deleted ${file}; every route starts from the config`)
      } else {
        const kept = await readStateFile(file)
        if (kept.config !== undefined && source !== undefined && kept.config.path !== source.path) {
          log.warn(
            { stateFile: file, belongsTo: kept.config.path, config: source.path },
            `${file} belongs to ${kept.config.path}, not to ${source.path}: ignored, every route starts from the config (it is replaced on the first change; --reset-state deletes it)`,
          )
        } else {
          if (kept.config !== undefined && source !== undefined && kept.config.hash !== source.hash) {
            log.info({ stateFile: file, config: source.path }, `${source.path} changed since ${file} was written: values changed at run time still override it`)
          }
          saved = kept.routes
        }
      }
    }
    const states = new Map<string, RouteState>()
    const sources = new Map<string, RouteSources>()
    for (const route of config.routes) {
      const state: RouteState = { weight: route.weight, mirror: route.mirror, readSample: route.readSample, version: 1 }
      const from: RouteSources = { weight: 'config', mirror: 'config', readSample: 'config' }
      const kept = saved[route.id]
      if (kept !== undefined) {
        if (kept.weight !== undefined) state.weight = kept.weight
        if (kept.mirror !== undefined) state.mirror = kept.mirror
        if (kept.readSample !== undefined) state.readSample = kept.readSample
        const overrides: string[] = []
        for (const f of FIELDS) {
          if (kept[f] === undefined) continue
          from[f] = 'state-file'
          if (kept[f] !== route[f]) overrides.push(`${f} ${String(kept[f])} (config: ${String(route[f])})`)
        }
        if (typeof kept.version === 'number') state.version = kept.version
        if (overrides.length > 0) log.info({ route: route.id, stateFile: file }, `route ${route.id}: ${overrides.join(', ')} kept in ${file} override the config`)
      }
      states.set(route.id, state)
      sources.set(route.id, from)
    }
    return new RouteStateStore(states, sources, persist ? new StateFileWriter(file, source) : null, audit)
  }

  /** Where each of a route's values came from (for GET /routes). */
  sources(id: string): RouteSources | undefined {
    const s = this.#sources.get(id)
    return s === undefined ? undefined : { ...s }
  }

  /**
   * Shared state: the config is the initial state of routes the control topic has no record of;
   * no state file. `synced()` resolves once the topic was read to its end.
   */
  static #openShared(config: CutoverConfig, audit: AuditLog, log: Logger): RouteStateStore {
    const states = new Map<string, RouteState>()
    for (const route of config.routes) states.set(route.id, { weight: route.weight, mirror: route.mirror, readSample: route.readSample, version: 1 })
    const sources = new Map<string, RouteSources>()
    for (const id of states.keys()) sources.set(id, { weight: 'config', mirror: 'config', readSample: 'config' })
    const store = new RouteStateStore(states, sources, null, audit)
    store.#shared = new ControlLog(config, audit, log, {
      current: (id) => store.#states.get(id),
      apply: (id, next) => store.#applyShared(id, next),
      applyRamp: (id, hold) => {
        for (const l of store.#rampListeners) l(id, hold)
      },
    })
    void store.#shared.synced().catch(() => undefined)
    return store
  }

  #applyShared(id: string, next: RouteState): void {
    const live = this.#states.get(id)
    if (live === undefined) return
    applyState(live, next)
    this.#sources.set(id, { weight: 'control-topic', mirror: 'control-topic', readSample: 'control-topic' })
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

  /** With `state.shared`: the route's ramp hold as the fleet has it (undefined: never held). */
  rampHold(id: string): RampHold | undefined {
    return this.#shared?.rampHold(id)
  }

  /** With `state.shared`: a control record changed a route's ramp hold. */
  onRampHold(listener: RampHoldListener): void {
    this.#rampListeners.push(listener)
  }

  /**
   * Applies a change. `ifMatch` (a version) makes it conditional: a stale version is refused with
   * CUTOVER_VERSION_CONFLICT rather than overwriting someone else's change.
   */
  async update(id: string, patch: RouteStatePatch, meta: UpdateMeta): Promise<RouteState> {
    const live = this.#states.get(id)
    if (live === undefined) throw new CutoverError('CUTOVER_ROUTE_NOT_FOUND', `unknown route '${id}'`)
    // the leader decides, audits and publishes; listeners fire when the record is read back
    if (this.#shared !== null) return this.#shared.update(id, patch, meta)
    const wanted = meta.ifMatch ?? meta.expect
    if (wanted !== undefined && wanted !== live.version) {
      throw new CutoverError('CUTOVER_VERSION_CONFLICT', `route '${id}' is at version ${live.version}, not ${wanted}`)
    }
    const before = copyState(live)
    const from = this.#sources.get(id) as RouteSources
    if (patch.weight !== undefined) live.weight = patch.weight
    if (patch.mirror !== undefined) live.mirror = patch.mirror
    if (patch.readSample !== undefined) live.readSample = patch.readSample
    for (const f of FIELDS) if (patch[f] !== undefined) from[f] = 'runtime'
    live.version = before.version + 1
    const after = copyState(live)
    this.#audit.record({ who: meta.who, action: meta.action, route: id, before, after })
    for (const l of this.#listeners) l(id, after)
    await this.#writer?.write(this.#kept())
    return after
  }

  /** What the state file keeps: per route, the values not from the config, and the version. */
  #kept(): Record<string, KeptState> {
    const out: Record<string, KeptState> = {}
    for (const [id, s] of this.#states) {
      const from = this.#sources.get(id) as RouteSources
      const kept: KeptState = { version: s.version }
      if (from.weight !== 'config') kept.weight = s.weight
      if (from.mirror !== 'config') kept.mirror = s.mirror
      if (from.readSample !== 'config') kept.readSample = s.readSample
      out[id] = kept
    }
    return out
  }
}

/** Applies a state received from elsewhere (the cluster primary) onto a live state object. */
export function applyState(live: RouteState, next: RouteState): void {
  live.weight = next.weight
  live.mirror = next.mirror
  live.readSample = next.readSample
  live.version = next.version
}
