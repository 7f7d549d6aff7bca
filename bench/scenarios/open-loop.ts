import { MIRROR_ROUTE, SAME_WRITE } from './dual-write.ts'
import { PASS_ROUTE, type Scenario } from './types.ts'

/**
 * What a client lives with when mirroring is switched on: the `dual-write` POST at a fixed rate
 * (half the mirror-off saturation, open loop), mirroring writes vs off. At that rate the gateway
 * has headroom, so the mirrored copy (one more upstream exchange, a capture and a compare on the
 * same event loop) must not show in the client's latency, and no mirrored call may be skipped
 * for lack of room (`limits.mirrorInFlight`): the upstream line shows cloud getting every write.
 */
export const openLoop: Scenario = {
  name: 'open-loop',
  title: 'dual-write POST at a fixed rate (open loop, half the mirror-off saturation): mirror writes vs off',
  request: SAME_WRITE,
  load: 'fixed-rate',
  targets: [
    { id: 'mirror-off', kind: 'cutover', routes: [PASS_ROUTE] },
    { id: 'mirror-on', kind: 'cutover', routes: [MIRROR_ROUTE] },
  ],
  compare: [['mirror-on', 'mirror-off']],
  gates: [
    { kind: 'ratio', label: 'open-loop p99 with mirroring', subject: 'mirror-on', baseline: 'mirror-off', metric: 'p99', max: 1.1 },
    { kind: 'count', label: 'mirrored calls skipped at the fixed rate', target: 'mirror-on', counter: 'mirror.skipped', max: 0 },
  ],
  showUpstream: true,
}
