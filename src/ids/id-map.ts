/**
 * Pairs of ids for one resource created on both sides: legacy's id and cloud's id for the same
 * item. Many new services generate their own ids and ignore a client-supplied one; the pairs let
 * the gateway send later mirrored requests to the right resource on the other side, compare
 * answers modulo the pairing, and let `cutover reconcile` match items across the two stores.
 *
 * A map is named (`ids.map` in a route, default the route id) so that the route that creates a
 * resource and the routes that read or change it share one map.
 */
export type Side = 'legacy' | 'cloud'

export interface IdPair {
  readonly map: string
  readonly legacy: string
  readonly cloud: string
}

export interface IdMap {
  /** The other side's id for `id` as `side` knows it, or undefined when no pair is known. */
  translate(map: string, side: Side, id: string): string | undefined
  /** Records a pair (both ids as strings); a newer pair for either id replaces the older one. */
  record(pair: IdPair): void
  /** True when `a` (as `sideA` knows it) and `b` (the other side) name the same item. */
  same(map: string, sideA: Side, a: unknown, b: unknown): boolean
  readonly size: number
}

const other = (side: Side): Side => (side === 'legacy' ? 'cloud' : 'legacy')

/** In-memory pairs, bounded: past `maxPairs` the oldest pair is forgotten. */
export class MemoryIdMap implements IdMap {
  readonly #maxPairs: number
  /** `${map}\0${side}\0${id}` → the other side's id; insertion order is age */
  readonly #index = new Map<string, string>()
  readonly #pairs = new Map<string, IdPair>()

  constructor(maxPairs = 1_000_000) {
    this.#maxPairs = maxPairs
  }

  get size(): number {
    return this.#pairs.size
  }

  translate(map: string, side: Side, id: string): string | undefined {
    return this.#index.get(`${map}\0${side}\0${id}`)
  }

  record(pair: IdPair): void {
    for (const side of ['legacy', 'cloud'] as const) {
      const old = this.#index.get(`${pair.map}\0${side}\0${pair[side]}`)
      if (old !== undefined) this.#forget(pair.map, side, pair[side], old)
    }
    this.#index.set(`${pair.map}\0legacy\0${pair.legacy}`, pair.cloud)
    this.#index.set(`${pair.map}\0cloud\0${pair.cloud}`, pair.legacy)
    this.#pairs.set(`${pair.map}\0${pair.legacy}`, pair)
    while (this.#pairs.size > this.#maxPairs) {
      const oldest = this.#pairs.values().next().value as IdPair
      this.#forget(oldest.map, 'legacy', oldest.legacy, oldest.cloud)
    }
  }

  same(map: string, sideA: Side, a: unknown, b: unknown): boolean {
    if ((typeof a !== 'string' && typeof a !== 'number') || (typeof b !== 'string' && typeof b !== 'number')) return false
    return this.translate(map, sideA, String(a)) === String(b)
  }

  /** All pairs, oldest first (persistence, reconcile). */
  pairs(): IterableIterator<IdPair> {
    return this.#pairs.values()
  }

  #forget(map: string, side: Side, id: string, otherId: string): void {
    this.#index.delete(`${map}\0${side}\0${id}`)
    this.#index.delete(`${map}\0${other(side)}\0${otherId}`)
    this.#pairs.delete(`${map}\0${side === 'legacy' ? id : otherId}`)
  }
}
