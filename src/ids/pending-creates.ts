/**
 * Creates whose mirrored call is still on its way to the secondary, per map. The client has the
 * primary's answer, and with it the new id, as soon as the primary answered; a PATCH it sends
 * right after can be mirrored before the secondary's create answered, and then the pair is not
 * known yet. Such a request waits for the creates that began before it (only those, so two
 * requests never wait on each other); each create is bounded by the secondary's timeout.
 */
export class PendingCreates {
  #seq = 0
  readonly #open = new Map<string, Map<number, Promise<void>>>()

  /** Where a request stands: the creates begun so far. */
  mark(): number {
    return this.#seq
  }

  /** A create of `map` is being mirrored; call the returned function once it settled. */
  begin(map: string): () => void {
    const seq = ++this.#seq
    let open = this.#open.get(map)
    if (open === undefined) this.#open.set(map, (open = new Map()))
    let end!: () => void
    open.set(seq, new Promise<void>((resolve) => (end = resolve)))
    const list = open
    return () => {
      list.delete(seq)
      if (list.size === 0) this.#open.delete(map)
      end()
    }
  }

  /** Resolves once every create of `map` begun up to `mark` settled; null when there is none. */
  wait(map: string, mark: number): Promise<void> | null {
    const open = this.#open.get(map)
    if (open === undefined) return null
    const before: Promise<void>[] = []
    for (const [seq, p] of open) if (seq <= mark) before.push(p)
    return before.length === 0 ? null : Promise.all(before).then(() => undefined)
  }
}
