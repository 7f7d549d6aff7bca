import type { DiffEvent } from '../publish/events.ts'

export const DEFAULT_DIFF_LOG_SIZE = 500

/** The most recent diff events, in memory, for `GET /diffs` and the ops page. */
export class DiffLog {
  readonly #events: DiffEvent[] = []
  readonly #size: number

  constructor(size = DEFAULT_DIFF_LOG_SIZE) {
    this.#size = size
  }

  add(event: DiffEvent): void {
    this.#events.push(event)
    if (this.#events.length > this.#size) this.#events.shift()
  }

  /** Newest first, optionally for one route. */
  recent(route: string | undefined, limit: number): DiffEvent[] {
    const out: DiffEvent[] = []
    for (let i = this.#events.length - 1; i >= 0 && out.length < limit; i--) {
      const e = this.#events[i] as DiffEvent
      if (route === undefined || e.route === route) out.push(e)
    }
    return out
  }
}

/** Merges several processes' recent diffs, newest first. */
export function mergeDiffs(parts: readonly DiffEvent[][], limit: number): DiffEvent[] {
  return parts
    .flat()
    .sort((a, b) => (a.time < b.time ? 1 : a.time > b.time ? -1 : 0))
    .slice(0, limit)
}
