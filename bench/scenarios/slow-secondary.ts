import { MIRROR_ROUTE, SAME_WRITE } from './dual-write.ts'
import type { Scenario } from './types.ts'

/** How long the slow secondary takes to answer. */
export const SLOW_SECONDARY_MS = 200

/**
 * A slow cloud must not slow legacy's clients: the mirrored write at the fixed rate with cloud
 * answering in 200 ms (`?delay=200&delayOn=cloud`: only the cloud origin waits) vs answering at
 * once, in the same Cutover process (weight 0: legacy is the primary). The client's latency is
 * the primary's. At this rate 200 ms means hundreds of mirrored calls in flight, more than
 * `limits.mirrorInFlight` (256) and cloud's 128 connections allow: mirrored calls are skipped
 * (and the writes kept for replay) instead of queueing, which the upstream line shows.
 */
export const slowSecondary: Scenario = {
  name: 'slow-secondary',
  title: `dual-write POST at the fixed rate, cloud (secondary) answering in ${SLOW_SECONDARY_MS} ms vs at once`,
  request: SAME_WRITE,
  load: 'fixed-rate',
  targets: [
    { id: 'fast-secondary', kind: 'cutover', routes: [MIRROR_ROUTE] },
    { id: 'slow-secondary', kind: 'cutover', routes: [MIRROR_ROUTE], path: `${SAME_WRITE.path}&delay=${SLOW_SECONDARY_MS}&delayOn=cloud` },
  ],
  compare: [['slow-secondary', 'fast-secondary']],
  gates: [{ kind: 'ratio', label: 'slow-secondary primary p99', subject: 'slow-secondary', baseline: 'fast-secondary', metric: 'p99', max: 1.1 }],
  showUpstream: true,
}
