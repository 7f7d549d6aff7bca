import type { MirrorMode } from '../config/schema.ts'
import type { RouteState } from '../control/route-state.ts'

/**
 * A route's place in the migration, from its weight and mirror mode:
 * - legacy: weight 0, mirror off (cloud sees nothing)
 * - shadow: weight 0, mirrored to cloud
 * - canary: 0 < weight < 100
 * - cloud-primary: weight 100, legacy still mirrored (kept warm for a rollback)
 * - retired: weight 100, mirror off (legacy is no longer used)
 */
export type Phase = 'legacy' | 'shadow' | 'canary' | 'cloud-primary' | 'retired'

export function phaseOf(weight: number, mirror: MirrorMode): Phase {
  if (weight <= 0) return mirror === 'off' ? 'legacy' : 'shadow'
  if (weight < 100) return 'canary'
  return mirror === 'off' ? 'retired' : 'cloud-primary'
}

export interface PhaseEntry {
  readonly phase: Phase
  /** ms since the epoch */
  readonly since: number
  /** true when the phase began before this process started (we only know "at least since") */
  readonly sinceStart: boolean
}

/**
 * When each route entered its current phase. Kept in memory by the process that owns route
 * state (the single gateway, or the cluster primary): every change goes through the state store,
 * which calls `onState`. Routes start at the process's start time, flagged `sinceStart`.
 */
export class PhaseClock {
  readonly #entries = new Map<string, PhaseEntry>()
  readonly #now: () => number

  constructor(states: Readonly<Record<string, RouteState>>, now: () => number = Date.now) {
    this.#now = now
    const t = now()
    for (const [id, s] of Object.entries(states)) this.#entries.set(id, { phase: phaseOf(s.weight, s.mirror), since: t, sinceStart: true })
  }

  /** A route's state changed; the clock restarts only when its phase did (then true). */
  onState(id: string, state: RouteState): boolean {
    const phase = phaseOf(state.weight, state.mirror)
    if (this.#entries.get(id)?.phase === phase) return false
    this.#entries.set(id, { phase, since: this.#now(), sinceStart: false })
    return true
  }

  get(id: string): PhaseEntry | undefined {
    return this.#entries.get(id)
  }
}
