import type { CapturedResponse } from './captured-response.ts'
import type { CompareOptions } from './comparator.ts'
import { compareResponses } from './comparator.ts'
import { FieldMatcher, generalise } from './field-path.ts'

/** How many read samples per route feed noise learning, and how many fields it may learn. */
export const DEFAULT_NOISE_SAMPLES = 20
export const MAX_NOISE_FIELDS = 64

/**
 * Learns which fields differ between two calls to the same backend with the same request (a
 * timestamp, a generated id): those differences are noise, not migration bugs, and are ignored
 * from then on. Bounded in samples and in fields.
 */
export class NoiseLearner {
  readonly fields = new FieldMatcher()
  #samples = 0
  readonly #maxSamples: number

  constructor(maxSamples = DEFAULT_NOISE_SAMPLES) {
    this.#maxSamples = maxSamples
  }

  /** True while the route still wants samples; counts the sample it hands out. */
  take(): boolean {
    if (this.#samples >= this.#maxSamples) return false
    this.#samples++
    return true
  }

  get samples(): number {
    return this.#samples
  }

  /** Feeds two answers from the same backend; returns the newly learned field paths. */
  learn(first: CapturedResponse, second: CapturedResponse, opts: CompareOptions): string[] {
    const { differences } = compareResponses(first, second, opts, this.fields)
    const added: string[] = []
    for (const d of differences) {
      if (this.fields.size >= MAX_NOISE_FIELDS) break
      // a status or whole-body digest that changes call to call is not a field we can ignore
      if (d.path.length < 2) continue
      const pattern = generalise(d.path)
      // `body[*]` (a text line, an element of a top-level array) would ignore the whole body
      if (pattern.every((s, i) => i === 0 || s === '*')) continue
      if (this.fields.add(pattern)) added.push(this.fields.list().at(-1) as string)
    }
    return added
  }
}
