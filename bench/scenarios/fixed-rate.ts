import { SAME_WRITE } from './dual-write.ts'
import { PASS_ROUTE, type RequestSpec, type TargetSpec } from './types.ts'

/**
 * How the fixed rate of the `load: 'fixed-rate'` scenarios is found, once per bench run before
 * the first of them: `fraction` of the saturated req/s of the mirror-off write (Cutover,
 * pass-through route, `?same=1` POST). That is the median of `measuredBy` when that scenario ran
 * earlier in the same bench run (its mirror-off target is exactly this), else a short saturated
 * run of `target` with `request` (a warm-up, then BENCH_DURATION). Half of saturation is a busy but healthy gateway:
 * enough headroom that mirroring must not show in the client's latency, and that nothing queues.
 * BENCH_RATE sets the rate instead (to compare runs across boxes or commits at the same load).
 */
export const FIXED_RATE: {
  readonly target: TargetSpec
  readonly request: RequestSpec
  readonly fraction: number
  readonly measuredBy: { readonly scenario: string; readonly target: string }
} = {
  // the `dual-write` mirror-off process: already warm when that scenario ran first
  target: { id: 'mirror-off', kind: 'cutover', routes: [PASS_ROUTE] },
  request: SAME_WRITE,
  fraction: 0.5,
  measuredBy: { scenario: 'dual-write', target: 'mirror-off' },
}
