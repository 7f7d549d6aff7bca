/**
 * `cutover replay --since/--until`: which events a run looks at, by the time of the write (the
 * event's `time`). A bound is an ISO 8601 time or a duration before now.
 */

export interface ReplayWindow {
  /** epoch ms, inclusive */
  readonly since?: number
  /** epoch ms, exclusive */
  readonly until?: number
}

const UNIT_MS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }
const RELATIVE = /^(\d+)([smhd])$/
// a date at least: Date.parse alone accepts '1' or 'May' as dates
const ISO = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/

/** Epoch ms of `90s`, `15m`, `2h`, `7d` (before `now`) or an ISO time; throws with the accepted forms. */
export function parseReplayTime(value: string, now = Date.now()): number {
  const text = value.trim()
  const rel = RELATIVE.exec(text)
  if (rel !== null) return now - Number(rel[1]) * (UNIT_MS[rel[2] ?? 's'] ?? 1000)
  const ms = ISO.test(text) ? Date.parse(text) : Number.NaN
  if (Number.isNaN(ms)) throw new Error(`'${value}' is not a time: use an ISO time (2026-11-26T12:00:00Z) or a duration before now (90s, 15m, 2h, 7d)`)
  return ms
}

export function windowProblem(window: ReplayWindow): string | null {
  if (window.since !== undefined && window.until !== undefined && window.since >= window.until) return '--since must be before --until'
  return null
}

/** An event whose time cannot be read is outside every window (a full run still takes it). */
export function inWindow(time: string, window: ReplayWindow): boolean {
  if (window.since === undefined && window.until === undefined) return true
  const t = Date.parse(time)
  if (Number.isNaN(t)) return false
  return (window.since === undefined || t >= window.since) && (window.until === undefined || t < window.until)
}
