import type { CapturedResponse } from './captured-response.ts'
import type { CompareOptions } from './comparator.ts'
import { compareResponses } from './comparator.ts'
import { FieldMatcher, formatFieldPath, parseFieldPath, STAR, type Segment } from './field-path.ts'

/** How many read sample pairs per route feed noise learning, and how many fields it may learn. */
export const DEFAULT_NOISE_SAMPLES = 20
export const MAX_NOISE_FIELDS = 64
/** A field is noise only when it differed in at least this many independent sample pairs. */
export const NOISE_MIN_PAIRS = 3
/** Fields seen differing once or twice, waiting for more pairs; past it new ones are not tracked. */
const MAX_CANDIDATES = 256
/** Pairs spoiled by writes are replaced by new samples, up to this many times the sample count. */
const MAX_ATTEMPTS_FACTOR = 5

export interface NoiseSnapshot {
  readonly fields: string[]
  /** fields seen differing, not yet in enough pairs to be learned */
  readonly candidates: { path: string; pairs: number }[]
  readonly samples: number
  readonly pairs: number
  /** sample pairs thrown away because a write went through between the two calls */
  readonly discarded: number
  readonly learning: boolean
  /** with `state.shared`: the fields in `fields` another replica learned (absent when none) */
  readonly fromFleet?: string[]
}

/**
 * Learns which fields differ between two calls to the same backend with the same request (a
 * timestamp, a generated id): those differences are noise, not migration bugs, and are counted
 * as noise from then on instead of reported. It must never hide a real difference, so:
 * - only leaf fields are learned (a scalar on both sides, under a named key): never `body`, a
 *   container or a whole array (`body[*]`, `body.tags[*]`), and a learned field still reports
 *   when it is missing on one side;
 * - a field must differ in NOISE_MIN_PAIRS independent sample pairs;
 * - a pair is thrown away (discard) when a write went through between its two calls;
 * - bounded in samples, candidates and fields; clear() starts over.
 */
export class NoiseLearner {
  readonly fields = new FieldMatcher()
  readonly #candidates = new Map<string, { pattern: Segment[]; pairs: number }>()
  /** fields another replica learned and this one took over (adopt) */
  readonly #adopted = new Set<string>()
  readonly #maxSamples: number
  #taken = 0
  #attempts = 0
  #pairs = 0
  #discarded = 0

  constructor(maxSamples = DEFAULT_NOISE_SAMPLES) {
    this.#maxSamples = maxSamples
  }

  /** True while the route still wants samples; counts the sample it hands out. */
  take(): boolean {
    if (this.#taken >= this.#maxSamples || this.#attempts >= this.#maxSamples * MAX_ATTEMPTS_FACTOR) return false
    this.#taken++
    this.#attempts++
    return true
  }

  get samples(): number {
    return this.#taken
  }

  /** The sample pair is not independent (a write came between): it teaches nothing, take another. */
  discard(): void {
    this.#discarded++
    this.#taken--
  }

  /** Forgets everything learned and starts sampling again. */
  clear(): void {
    this.fields.clear()
    this.#candidates.clear()
    this.#adopted.clear()
    this.#taken = this.#attempts = this.#pairs = this.#discarded = 0
  }

  /** Feeds two answers from the same backend; returns the newly learned field paths. */
  learn(first: CapturedResponse, second: CapturedResponse, opts: CompareOptions): string[] {
    this.#pairs++
    const { groups } = compareResponses(first, second, opts, this.fields)
    const added: string[] = []
    for (const g of groups) {
      if (!g.leaf || (g.kind !== 'changed' && g.kind !== 'type')) continue
      const pattern = parseFieldPath(g.path)
      if (!learnable(pattern)) continue
      let c = this.#candidates.get(g.path)
      if (c === undefined) {
        if (this.#candidates.size >= MAX_CANDIDATES) continue
        c = { pattern, pairs: 0 }
        this.#candidates.set(g.path, c)
      }
      c.pairs++
      if (c.pairs >= NOISE_MIN_PAIRS && this.fields.size < MAX_NOISE_FIELDS && this.fields.add(pattern)) {
        this.#candidates.delete(g.path)
        added.push(g.path)
      }
    }
    return added
  }

  /**
   * Takes over a field another replica's learner learned (by the same rules: NOISE_MIN_PAIRS
   * independent pairs). Refused unless it is a learnable leaf, and within MAX_NOISE_FIELDS, so
   * nothing read from a topic can make a container, a whole array or the body noise.
   */
  adopt(path: string): boolean {
    let pattern: Segment[]
    try {
      pattern = parseFieldPath(path)
    } catch {
      return false
    }
    if (!learnable(pattern) || this.fields.size >= MAX_NOISE_FIELDS || !this.fields.add(pattern)) return false
    const key = formatFieldPath(pattern)
    this.#candidates.delete(key)
    this.#adopted.add(key)
    return true
  }

  snapshot(): NoiseSnapshot {
    return {
      fields: this.fields.list(),
      candidates: [...this.#candidates].map(([path, c]) => ({ path, pairs: c.pairs })),
      samples: this.#taken,
      pairs: this.#pairs,
      discarded: this.#discarded,
      learning: this.#taken < this.#maxSamples && this.#attempts < this.#maxSamples * MAX_ATTEMPTS_FACTOR,
      ...(this.#adopted.size === 0 ? {} : { fromFleet: [...this.#adopted] }),
    }
  }
}

/** A leaf under a named key, below the root: `body.updatedAt`, `body.items[*].ts`, `headers.date`. */
function learnable(pattern: readonly Segment[]): boolean {
  const last = pattern[pattern.length - 1]
  return pattern.length >= 2 && typeof last === 'string' && last !== STAR
}

/** Several workers' learning of one route as one: fields are the union, counts add up. */
export function mergeNoise(parts: readonly (NoiseSnapshot | null)[]): NoiseSnapshot | null {
  const present = parts.filter((p): p is NoiseSnapshot => p !== null)
  if (present.length === 0) return null
  const candidates = new Map<string, number>()
  for (const p of present) for (const c of p.candidates) candidates.set(c.path, (candidates.get(c.path) ?? 0) + c.pairs)
  return {
    fields: [...new Set(present.flatMap((p) => p.fields))],
    candidates: [...candidates].map(([path, pairs]) => ({ path, pairs })),
    samples: present.reduce((n, p) => n + p.samples, 0),
    pairs: present.reduce((n, p) => n + p.pairs, 0),
    discarded: present.reduce((n, p) => n + p.discarded, 0),
    learning: present.some((p) => p.learning),
    ...(present.some((p) => p.fromFleet !== undefined) ? { fromFleet: [...new Set(present.flatMap((p) => p.fromFleet ?? []))] } : {}),
  }
}
