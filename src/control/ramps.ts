import type { Logger } from 'pino'
import type { CutoverConfig } from '../config/schema.ts'
import { CutoverError } from '../errors.ts'
import type { GuardStatus } from '../resilience/guard.ts'
import { RampController, type RampState } from '../resilience/ramp.ts'
import type { RampHold } from './route-state.ts'
import type { RouteStateStore } from './route-state-store.ts'

/**
 * The control plane's progressive ramps: one RampController per route that configures `ramp`,
 * stepping the weight through the route state store (so every step is audited, persisted and
 * reaches every worker) while the route's guard stays green.
 *
 * With `state.shared` the hold (pause, resume, the pause after a guard trip or a rollback) is part
 * of the route's shared state: it is asked of the control leader like any change, and every
 * replica's controller follows the hold it reads on the control topic. So a pause on any replica
 * stops the leader's steps, and a new leader starts held. Without it, the hold is this process's.
 */
export class RampSet {
  readonly #ramps = new Map<string, RampController>()
  readonly #store: RouteStateStore

  constructor(config: CutoverConfig, store: RouteStateStore, guardStatus: (route: string) => Promise<GuardStatus>, log: Logger) {
    this.#store = store
    for (const route of config.routes) {
      if (route.ramp === undefined) continue
      const id = route.id
      const ramp = new RampController(route.ramp, {
        getWeight: () => store.get(id)?.weight ?? 0,
        setWeight: async (weight, reason) => {
          // with state.shared one replica steps (the control leader); the others follow its steps
          if (store.control !== null && !store.control.leader) throw new Error('not the control leader: the leader replica steps this ramp')
          log.info({ route: id, weight, reason }, `ramp ${id} → ${weight}`)
          await store.update(id, { weight }, { who: 'ramp', action: 'ramp', expect: store.get(id)?.version ?? 0 })
        },
        guardStatus: () => guardStatus(id),
      })
      this.#ramps.set(id, ramp)
      // what the control topic said before this set existed (read while the process was starting)
      const hold = store.rampHold(id)
      if (hold !== undefined) follow(ramp, hold)
    }
    store.onRampHold((id, hold) => {
      const ramp = this.#ramps.get(id)
      if (ramp === undefined) return
      log.info({ route: id, hold }, hold.paused ? `ramp ${id} held: ${hold.reason ?? 'paused'}` : `ramp ${id} resumed`)
      follow(ramp, hold)
    })
  }

  get #shared(): boolean {
    return this.#store.control !== null
  }

  start(): void {
    for (const r of this.#ramps.values()) r.start()
  }

  stop(): void {
    for (const r of this.#ramps.values()) r.stop()
  }

  state(route: string): RampState | null {
    return this.#ramps.get(route)?.state() ?? null
  }

  /**
   * The hold a guard trip or a rollback of this route carries in its change request, with
   * `state.shared` (undefined otherwise, or when the route has no ramp): one control record sets
   * the weight back and holds the ramp everywhere.
   */
  holdOnRollback(route: string, detail: string): RampHold | undefined {
    if (!this.#shared || !this.#ramps.has(route)) return undefined
    return { paused: true, reason: rollbackReason(detail) }
  }

  /**
   * A guard trip or an operator's rollback holds the ramp until someone resumes it. With
   * `state.shared` the change request carried the hold (holdOnRollback) and the control record
   * applies it: nothing to do here.
   */
  onRollback(route: string, detail: string): void {
    if (this.#shared) return
    this.#ramps.get(route)?.onRollback(detail)
  }

  async pause(route: string, reason: string, who: string): Promise<RampState> {
    const ramp = this.#get(route)
    if (this.#shared) await this.#ask(route, { paused: true, reason }, who, 'ramp-pause')
    else ramp.pause(reason)
    return ramp.state()
  }

  async resume(route: string, who: string): Promise<RampState> {
    const ramp = this.#get(route)
    if (this.#shared) await this.#ask(route, { paused: false }, who, 'ramp-resume')
    else ramp.resume()
    return ramp.state()
  }

  /** Asks the leader; the answer comes back once this replica read the record, so the controller follows it already. */
  async #ask(route: string, hold: RampHold, who: string, action: string): Promise<void> {
    // resuming a ramp that is not held changes nothing: no record, no audit
    if (!hold.paused && this.#store.rampHold(route)?.paused !== true) return
    await this.#store.update(route, {}, { who, action, ramp: hold })
  }

  #get(route: string): RampController {
    const ramp = this.#ramps.get(route)
    if (ramp === undefined) throw new CutoverError('CUTOVER_NOT_FOUND', `route '${route}' has no ramp`)
    return ramp
  }
}

/** The reason RampController.onRollback gives, so a held ramp reads the same with or without state.shared. */
function rollbackReason(detail: string): string {
  return `guard tripped: ${detail}`
}

/** Brings a controller to the shared hold. */
function follow(ramp: RampController, hold: RampHold): void {
  const now = ramp.state()
  if (hold.paused) {
    if (!now.paused || now.pausedReason !== hold.reason) ramp.pause(hold.reason ?? 'paused')
  } else if (now.paused) ramp.resume()
}
