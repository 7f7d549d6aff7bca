/**
 * The metric values readiness reads, taken from prom-client's `getMetricsAsJSON()` of each
 * data-plane process and summed across them (with `--workers N` every worker counts its own
 * share of the traffic; counters, histogram buckets and the publish backlog all add up).
 */

/** The part of prom-client's `MetricObjectWithValues` that readiness needs. */
export interface MetricFamily {
  readonly name: string
  readonly values: readonly { readonly value: number; readonly labels: Readonly<Record<string, string | number | undefined>>; readonly metricName?: string | undefined }[]
}

const SEP = '\u0000'

/** Summed series: series name (`cutover_request_duration_seconds_bucket`) → label key → value. */
export class MetricSample {
  readonly #series = new Map<string, Map<string, { labels: Record<string, string>; value: number }>>()
  readonly #names = new Set<string>()

  /** Sums several processes' metrics. */
  static merge(parts: readonly (readonly MetricFamily[])[]): MetricSample {
    const sample = new MetricSample()
    for (const families of parts) for (const f of families) sample.#add(f)
    return sample
  }

  #add(family: MetricFamily): void {
    this.#names.add(family.name)
    for (const v of family.values) {
      const name = v.metricName ?? family.name
      let byKey = this.#series.get(name)
      if (byKey === undefined) this.#series.set(name, (byKey = new Map()))
      const labels: Record<string, string> = {}
      for (const [k, val] of Object.entries(v.labels)) if (val !== undefined) labels[k] = String(val)
      const key = Object.keys(labels)
        .sort()
        .map((k) => `${k}=${labels[k]}`)
        .join(SEP)
      const have = byKey.get(key)
      if (have === undefined) byKey.set(key, { labels, value: v.value })
      else have.value += v.value
    }
  }

  /**
   * This sample less an earlier one, series by series: what happened between the two. A series
   * that went down (a worker restarted and its counters began again) counts from zero.
   */
  minus(earlier: MetricSample): MetricSample {
    const out = new MetricSample()
    for (const n of this.#names) out.#names.add(n)
    for (const [name, byKey] of this.#series) {
      const before = earlier.#series.get(name)
      const into = new Map<string, { labels: Record<string, string>; value: number }>()
      for (const [key, s] of byKey) {
        const was = before?.get(key)?.value ?? 0
        into.set(key, { labels: s.labels, value: s.value >= was ? s.value - was : s.value })
      }
      out.#series.set(name, into)
    }
    return out
  }

  /** This sample plus other processes' metrics (other replicas', as sent by toFamilies). */
  plus(parts: readonly (readonly MetricFamily[])[]): MetricSample {
    const out = new MetricSample()
    for (const n of this.#names) out.#names.add(n)
    for (const [name, byKey] of this.#series) out.#series.set(name, new Map([...byKey].map(([k, s]) => [k, { labels: s.labels, value: s.value }])))
    for (const families of parts) for (const f of families) out.#add(f)
    return out
  }

  /**
   * The series of the given families whose labels include `match`, as families again (a
   * histogram's `_bucket` series under their own name): what another process can merge or add.
   * Every family named is listed, with or without values, so `has()` answers the same there.
   */
  toFamilies(names: readonly string[], match: Readonly<Record<string, string>> = {}): MetricFamily[] {
    const out: MetricFamily[] = []
    for (const name of names) {
      if (this.#names.has(name)) out.push({ name, values: [] })
      for (const series of [name, `${name}_bucket`]) {
        const values = this.select(series, match).map((s) => ({ value: s.value, labels: { ...s.labels } }))
        if (values.length > 0) out.push({ name: series, values })
      }
    }
    return out
  }

  /** True when any process registered the metric family (even with no values yet). */
  has(family: string): boolean {
    return this.#names.has(family)
  }

  /** Every series of `name` whose labels include `match`. */
  select(name: string, match: Readonly<Record<string, string>> = {}): { labels: Readonly<Record<string, string>>; value: number }[] {
    const out: { labels: Record<string, string>; value: number }[] = []
    for (const s of this.#series.get(name)?.values() ?? []) {
      if (Object.entries(match).every(([k, v]) => s.labels[k] === v)) out.push(s)
    }
    return out
  }

  /** The sum of every series of `name` whose labels include `match`. */
  sum(name: string, match: Readonly<Record<string, string>> = {}): number {
    let total = 0
    for (const s of this.select(name, match)) total += s.value
    return total
  }

  /**
   * A quantile (0..1) from a cumulative histogram's buckets, interpolated linearly inside the
   * bucket like Prometheus' histogram_quantile(); null without observations. A quantile in the
   * +Inf bucket reports the highest finite bound (a lower bound of the truth).
   */
  quantile(histogram: string, q: number, match: Readonly<Record<string, string>>): number | null {
    const byBound = new Map<number, number>()
    for (const s of this.select(`${histogram}_bucket`, match)) {
      const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le)
      byBound.set(le, (byBound.get(le) ?? 0) + s.value)
    }
    const buckets = [...byBound.entries()].sort((a, b) => a[0] - b[0])
    const total = buckets.at(-1)?.[1] ?? 0
    if (total === 0) return null
    const rank = q * total
    let prevBound = 0
    let prevCount = 0
    for (const [bound, count] of buckets) {
      if (count >= rank) {
        if (bound === Infinity) return prevBound
        if (count === prevCount) return bound
        return prevBound + ((bound - prevBound) * (rank - prevCount)) / (count - prevCount)
      }
      prevBound = bound
      prevCount = count
    }
    return prevBound
  }
}
