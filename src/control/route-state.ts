import type { MirrorMode } from '../config/schema.ts'

/**
 * The part of a route that ops change at run time. The data plane holds a reference to one of
 * these per route and reads it on every request, so a change takes effect on the very next one.
 */
export interface RouteState {
  weight: number
  mirror: MirrorMode
  readSample: number
  version: number
}

export type RouteStatePatch = Partial<Pick<RouteState, 'weight' | 'mirror' | 'readSample'>>

export function copyState(s: RouteState): RouteState {
  return { weight: s.weight, mirror: s.mirror, readSample: s.readSample, version: s.version }
}

/**
 * With `state.shared`: whether the route's ramp is held (an operator's pause, a guard trip, a
 * rollback). Part of the route's shared state on the control topic, so every replica, and above
 * all the control leader that steps the ramp, holds it alike.
 */
export interface RampHold {
  readonly paused: boolean
  readonly reason?: string
}
