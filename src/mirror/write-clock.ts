import { LRUCache } from 'lru-cache'

/** How many paths the clock remembers; older ones are forgotten (their reads then learn as usual). */
const MAX_PATHS = 10_000

/**
 * Orders the writes that went through the gateway, so that noise learning can tell whether two
 * reads of the same resource were independent: a read sampled at `now()` whose repeat finished
 * after a write to the same route, the same resource, something below it (an item of a listed
 * collection) or above it (the collection an item belongs to) is not a noise sample.
 */
export class WriteClock {
  #seq = 0
  readonly #routes = new Map<string, number>()
  /** path → last write at or below it */
  readonly #subtree = new LRUCache<string, number>({ max: MAX_PATHS })
  /** path → last write to exactly it */
  readonly #exact = new LRUCache<string, number>({ max: MAX_PATHS })

  now(): number {
    return this.#seq
  }

  /** A write to `path` (client-facing, no query) on `route` went through. */
  note(route: string, path: string): void {
    const s = ++this.#seq
    this.#routes.set(route, s)
    this.#exact.set(path, s)
    for (let p = path; ; ) {
      this.#subtree.set(p, s)
      const i = p.lastIndexOf('/')
      if (i <= 0) break
      p = p.slice(0, i)
    }
  }

  /** True when a write that could change what `path` on `route` answers went through after `since`. */
  touched(route: string, path: string, since: number): boolean {
    if ((this.#routes.get(route) ?? 0) > since) return true
    if ((this.#subtree.get(path) ?? 0) > since) return true
    for (let i = path.lastIndexOf('/'); i > 0; i = path.lastIndexOf('/', i - 1)) {
      if ((this.#exact.get(path.slice(0, i)) ?? 0) > since) return true
    }
    return false
  }
}
