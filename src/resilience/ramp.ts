/**
 * RampController: steps one route's cloud weight up a ladder while its guard stays green
 * (docs/guards.md, progressive ramps).
 *
 * API
 *   const ramp = new RampController(route.ramp, {              // { steps, intervalMs } (schema.ts)
 *     getWeight: () => state.weight,                          // the live weight (ops may change it)
 *     setWeight: (w, reason) => store.update(route.id, { weight: w }, { actor: 'ramp', reason }),
 *     guardStatus: async () => guard.check().status,          // 'green' | 'insufficient-data' | 'breached'
 *   })
 *   ramp.start()                 // first move one intervalMs from now
 *   guard trip → set safe weight, then ramp.onRollback('error-rate 0.1 > 0.02')   // pauses
 *   ramp.pause('change freeze') / ramp.resume() / ramp.stop()
 *   ramp.state()                 // RampState, for the admin API
 *
 * Every intervalMs the ramp reads the live weight and moves it to the smallest step above it,
 * so ops changing the weight by hand are followed, not fought: the ramp continues from
 * whatever the weight is, and is done (timer gone) once the weight is at or above the last step.
 * A weight it did not set itself restarts the dwell: the new weight is held a full interval
 * before the next move, like every weight the ramp sets. Recommend intervalMs >= the guard's
 * windowMs, so each step is judged on a window of its own traffic.
 *
 * When may it move? guardStatus() is asked just before each move (async, so the lead can answer
 * from a guard aggregated across replicas):
 *   green               → move
 *   insufficient-data   → move only onto the first step (from a weight below it). At weight 0
 *                         cloud serves nothing, so its guard can never become green: the first
 *                         step is the canary that produces the data. Every later move needs proof.
 *   breached            → hold (the lead's guard handler rolls back and calls onRollback())
 * A hold, a failed guardStatus() or a failed setWeight() is recorded in state() and retried on
 * the next interval; none of them stops the ramp.
 *
 * Pausing: pause(reason) and onRollback(detail) stop the timer and keep the reason; resume()
 * re-reads the weight and waits a full interval before the next move (after a rollback the safe
 * weight should get a clean guard window first). A pause before start() holds the ramp at start.
 *
 * Timers: `timers` defaults to setTimeout/clearTimeout (unref'd: a ramp never keeps the process
 * alive), `now` to Date.now (for the ISO timestamps in state()); vitest fake timers work as is.
 * Ticks never overlap: the next timer is set once the current tick has settled.
 */
import { rampStepsProblem } from '../config/defaults.ts'
import type { RouteConfig } from '../config/schema.ts'
import type { GuardStatus } from './guard.ts'

export type RampConfig = NonNullable<RouteConfig['ramp']>

export interface RampTimers {
  set(fn: () => void, ms: number): unknown
  clear(handle: unknown): void
}

export interface RampDeps {
  /** the route's live weight */
  getWeight(): number
  /** applies (audits, publishes) a new weight; a rejection is retried on the next interval */
  setWeight(weight: number, reason: string): Promise<void>
  /** the guard's status now */
  guardStatus(): GuardStatus | Promise<GuardStatus>
}

export interface RampOptions {
  readonly timers?: RampTimers
  /** wall clock for state() timestamps (default Date.now) */
  readonly now?: () => number
}

export interface RampState {
  readonly steps: readonly number[]
  readonly intervalMs: number
  /** started, not stopped, not done (may be paused) */
  readonly running: boolean
  readonly paused: boolean
  readonly pausedReason?: string
  /** the weight reached the last step */
  readonly done: boolean
  /** when the next move will be considered */
  readonly nextStepAt?: string
  readonly lastStep?: { readonly weight: number; readonly from: number; readonly at: string }
  /** the last time the guard held the ramp, cleared by the next step */
  readonly lastHold?: { readonly weight: number; readonly status: GuardStatus; readonly at: string }
  /** the last failure of guardStatus() or setWeight(), cleared by the next step */
  readonly lastError?: { readonly message: string; readonly at: string }
}

const DEFAULT_TIMERS: RampTimers = {
  set(fn, ms) {
    const t = setTimeout(fn, ms)
    t.unref?.()
    return t
  },
  clear(handle) {
    clearTimeout(handle as ReturnType<typeof setTimeout>)
  },
}

/** Why a ladder of steps is unusable (for config validation too): defined beside the config defaults. */
export { rampStepsProblem }

export class RampController {
  readonly #steps: readonly number[]
  readonly #intervalMs: number
  readonly #deps: RampDeps
  readonly #timers: RampTimers
  readonly #now: () => number
  #running = false
  #done = false
  #paused = false
  #pausedReason: string | undefined
  #timer: unknown
  #nextAt: number | undefined
  /** bumped by start/stop/pause/resume: a tick from an older generation does nothing more */
  #gen = 0
  /** the weight the ramp last saw or set; anything else is a manual change */
  #expected = 0
  #lastStep: RampState['lastStep']
  #lastHold: RampState['lastHold']
  #lastError: RampState['lastError']

  constructor(config: RampConfig, deps: RampDeps, options: RampOptions = {}) {
    const problem = rampStepsProblem(config.steps)
    if (problem !== undefined) throw new RangeError(`ramp.steps ${problem}`)
    if (!Number.isInteger(config.intervalMs) || config.intervalMs < 1) throw new RangeError(`ramp.intervalMs must be a whole number of ms >= 1 (got ${config.intervalMs})`)
    this.#steps = Object.freeze([...config.steps])
    this.#intervalMs = config.intervalMs
    this.#deps = deps
    this.#timers = options.timers ?? DEFAULT_TIMERS
    this.#now = options.now ?? Date.now
  }

  /** Starts (or restarts after stop/done) from the live weight. No-op while running. */
  start(): void {
    if (this.#running) return
    this.#running = true
    this.#done = false
    this.#gen++
    this.#expected = this.#deps.getWeight()
    if (this.#nextStep(this.#expected) === undefined) this.#finish()
    else if (!this.#paused) this.#schedule()
  }

  /** Holds the ramp until resume(); the reason shows in state(). */
  pause(reason: string): void {
    this.#paused = true
    this.#pausedReason = reason
    this.#cancel()
  }

  /** The guard tripped and the weight was set back: pause until a human resumes. */
  onRollback(detail?: string): void {
    this.pause(detail === undefined ? 'guard tripped' : `guard tripped: ${detail}`)
  }

  /** Continues from the live weight after a full interval. */
  resume(): void {
    if (!this.#paused) return
    this.#paused = false
    this.#pausedReason = undefined
    if (!this.#running) return
    this.#cancel()
    this.#expected = this.#deps.getWeight()
    if (this.#nextStep(this.#expected) === undefined) this.#finish()
    else this.#schedule()
  }

  /** Stops for good (start() begins again). */
  stop(): void {
    this.#running = false
    this.#cancel()
  }

  state(): RampState {
    return {
      steps: this.#steps,
      intervalMs: this.#intervalMs,
      running: this.#running,
      paused: this.#paused,
      ...(this.#pausedReason !== undefined ? { pausedReason: this.#pausedReason } : {}),
      done: this.#done,
      ...(this.#nextAt !== undefined ? { nextStepAt: new Date(this.#nextAt).toISOString() } : {}),
      ...(this.#lastStep !== undefined ? { lastStep: this.#lastStep } : {}),
      ...(this.#lastHold !== undefined ? { lastHold: this.#lastHold } : {}),
      ...(this.#lastError !== undefined ? { lastError: this.#lastError } : {}),
    }
  }

  #nextStep(weight: number): number | undefined {
    for (const s of this.#steps) if (s > weight) return s
    return undefined
  }

  #schedule(): void {
    const gen = this.#gen
    this.#nextAt = this.#now() + this.#intervalMs
    this.#timer = this.#timers.set(() => void this.#tick(gen), this.#intervalMs)
  }

  #cancel(): void {
    this.#gen++
    if (this.#timer !== undefined) this.#timers.clear(this.#timer)
    this.#timer = undefined
    this.#nextAt = undefined
  }

  #finish(): void {
    this.#done = true
    this.#running = false
    this.#cancel()
  }

  async #tick(gen: number): Promise<void> {
    this.#timer = undefined
    this.#nextAt = undefined
    const live = () => gen === this.#gen
    try {
      const weight = this.#deps.getWeight()
      const next = this.#nextStep(weight)
      if (next === undefined) return this.#finish()
      if (weight !== this.#expected) {
        // moved by hand: hold the new weight for a full interval too
        this.#expected = weight
        return
      }
      const status = await this.#deps.guardStatus()
      if (!live()) return
      const first = this.#steps[0] as number
      if (!(status === 'green' || (status === 'insufficient-data' && weight < first))) {
        this.#lastHold = { weight, status, at: this.#iso() }
        return
      }
      if (this.#deps.getWeight() !== weight) {
        this.#expected = this.#deps.getWeight() // changed by hand while we asked the guard
        return
      }
      const index = this.#steps.indexOf(next)
      await this.#deps.setWeight(next, `ramp step ${index + 1}/${this.#steps.length}: ${weight} → ${next}`)
      // recorded even if paused meanwhile: the weight did change
      this.#expected = next
      this.#lastStep = { weight: next, from: weight, at: this.#iso() }
      this.#lastHold = undefined
      this.#lastError = undefined
      if (live() && this.#nextStep(next) === undefined) this.#finish()
    } catch (err) {
      this.#lastError = { message: err instanceof Error ? err.message : String(err), at: this.#iso() }
    } finally {
      if (live() && this.#running && !this.#paused && this.#timer === undefined) this.#schedule()
    }
  }

  #iso(): string {
    return new Date(this.#now()).toISOString()
  }
}
