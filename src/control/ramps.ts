import type { Logger } from 'pino'
import type { CutoverConfig } from '../config/schema.ts'
import { CutoverError } from '../errors.ts'
import type { GuardStatus } from '../resilience/guard.ts'
import { RampController, type RampState } from '../resilience/ramp.ts'
import type { RouteStateStore } from './route-state-store.ts'

/**
 * The control plane's progressive ramps: one RampController per route that configures `ramp`,
 * stepping the weight through the route state store (so every step is audited, persisted and
 * reaches every worker) while the route's guard stays green.
 */
export class RampSet {
  readonly #ramps = new Map<string, RampController>()

  constructor(config: CutoverConfig, store: RouteStateStore, guardStatus: (route: string) => Promise<GuardStatus>, log: Logger) {
    for (const route of config.routes) {
      if (route.ramp === undefined) continue
      const id = route.id
      this.#ramps.set(
        id,
        new RampController(route.ramp, {
          getWeight: () => store.get(id)?.weight ?? 0,
          setWeight: async (weight, reason) => {
            // with state.shared one replica steps (the control leader); the others follow its steps
            if (store.control !== null && !store.control.leader) throw new Error('not the control leader: the leader replica steps this ramp')
            log.info({ route: id, weight, reason }, `ramp ${id} → ${weight}`)
            await store.update(id, { weight }, { who: 'ramp', action: 'ramp', expect: store.get(id)?.version ?? 0 })
          },
          guardStatus: () => guardStatus(id),
        }),
      )
    }
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

  /** A guard trip or an operator's rollback holds the ramp until someone resumes it. */
  onRollback(route: string, detail: string): void {
    this.#ramps.get(route)?.onRollback(detail)
  }

  pause(route: string, reason: string): RampState {
    const ramp = this.#get(route)
    ramp.pause(reason)
    return ramp.state()
  }

  resume(route: string): RampState {
    const ramp = this.#get(route)
    ramp.resume()
    return ramp.state()
  }

  #get(route: string): RampController {
    const ramp = this.#ramps.get(route)
    if (ramp === undefined) throw new CutoverError('CUTOVER_NOT_FOUND', `route '${route}' has no ramp`)
    return ramp
  }
}
