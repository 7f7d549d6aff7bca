/**
 * During one `cutover replay` run, tells a poison event from a backend that is down. An event that
 * failed every try is a *suspect* until the same backend accepts another write (then the backend
 * is up and the event failed on its own: dead-letter it) or until DOWN_AFTER suspects pile up with
 * no success in between (then the backend is down or misconfigured, e.g. credentials missing:
 * keep them all pending and stop sending to it for the rest of the run). Suspects left at the end
 * of the run, fewer than DOWN_AFTER, are dead-lettered.
 */
export const DOWN_AFTER = 3

export class ReplayBackendHealth<T> {
  readonly #suspects = new Map<string, T[]>()
  readonly #down = new Set<string>()

  isDown(backend: string): boolean {
    return this.#down.has(backend)
  }

  /** The backend accepted a write: returns its suspects, which failed on their own merits. */
  accepted(backend: string): T[] {
    const list = this.#suspects.get(backend) ?? []
    this.#suspects.delete(backend)
    return list
  }

  /** An event failed every try. Returns the suspects to keep pending when this makes the backend down. */
  suspect(backend: string, item: T): T[] | null {
    let list = this.#suspects.get(backend)
    if (list === undefined) this.#suspects.set(backend, (list = []))
    list.push(item)
    if (list.length < DOWN_AFTER) return null
    this.#suspects.delete(backend)
    this.#down.add(backend)
    return list
  }

  /** End of the run: the suspects of backends that were not found down. */
  remaining(): T[] {
    const all = [...this.#suspects.values()].flat()
    this.#suspects.clear()
    return all
  }
}
