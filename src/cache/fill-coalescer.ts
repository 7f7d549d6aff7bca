/**
 * Request coalescing ("single flight"): of the concurrent callers that miss on one key, the first
 * becomes the leader and goes upstream; the others wait for what it brings back. A leader that never
 * reports (a bug, a hung socket past every timeout) cannot hold followers hostage: after
 * `deadlineMs` they are released with null and the key is free for a new leader.
 */

export interface LeaderFill<V> {
  readonly leader: true
  /**
   * Hands followers the stored value, or null when there is nothing to share (not storable, the
   * upstream failed). Call exactly once; later calls, and calls after the deadline, do nothing.
   */
  complete(value: V | null): void
}

export interface FollowerFill<V> {
  readonly leader: false
  /** Resolves with the leader's value or null (never rejects); null: go upstream yourself. */
  readonly wait: Promise<V | null>
}

export type Fill<V> = LeaderFill<V> | FollowerFill<V>

export class FillCoalescer<V> {
  readonly #flights = new Map<string, Flight<V>>()
  readonly #deadlineMs: number

  constructor(deadlineMs: number) {
    this.#deadlineMs = deadlineMs
  }

  begin(key: string): Fill<V> {
    const flight = this.#flights.get(key)
    if (flight !== undefined) return flight.follower
    const f = new Flight<V>(key, this.#flights, this.#deadlineMs)
    this.#flights.set(key, f)
    return f
  }

  /** Keys with a leader upstream right now. */
  get size(): number {
    return this.#flights.size
  }
}

class Flight<V> implements LeaderFill<V> {
  readonly leader = true as const
  /** one object shared by every follower of this flight */
  readonly follower: FollowerFill<V>
  readonly #key: string
  readonly #flights: Map<string, Flight<V>>
  #resolve: (value: V | null) => void = noop
  #timer: NodeJS.Timeout | null

  constructor(key: string, flights: Map<string, Flight<V>>, deadlineMs: number) {
    this.#key = key
    this.#flights = flights
    const wait = new Promise<V | null>((resolve) => {
      this.#resolve = resolve
    })
    this.follower = Object.freeze({ leader: false as const, wait })
    this.#timer = setTimeout(this.#expire, deadlineMs)
    // a stuck fill must not keep the process alive on shutdown
    this.#timer.unref()
  }

  complete(value: V | null): void {
    if (this.#timer === null) return
    clearTimeout(this.#timer)
    this.#settle(value)
  }

  readonly #expire = (): void => {
    this.#settle(null)
  }

  #settle(value: V | null): void {
    this.#timer = null
    // after the deadline a new leader may own the key: remove only this flight
    if (this.#flights.get(this.#key) === this) this.#flights.delete(this.#key)
    const resolve = this.#resolve
    this.#resolve = noop
    resolve(value)
  }
}

function noop(): void {}
