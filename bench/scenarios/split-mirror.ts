import { SAME_WRITE } from './dual-write.ts'
import { PASS_ROUTE, type Scenario } from './types.ts'

/**
 * Halfway through a migration: weight 50 and mirroring writes, so each backend is primary for
 * about half the writes and secondary for the other half (both pools carry primary and mirrored
 * traffic at once). At the fixed rate, against the mirror-off pass-through route; the upstream
 * line shows both origins getting every write (legacy ≈ cloud ≈ responses).
 */
export const splitMirror: Scenario = {
  name: 'split-mirror',
  title: 'dual-write POST at the fixed rate, weight 50 + mirror writes (each backend primary and secondary) vs weight 0 mirror off',
  request: SAME_WRITE,
  load: 'fixed-rate',
  targets: [
    { id: 'mirror-off', kind: 'cutover', routes: [PASS_ROUTE] },
    { id: 'split-mirror', kind: 'cutover', routes: [{ ...PASS_ROUTE, id: 'split', weight: 50, mirror: 'writes' }] },
  ],
  compare: [['split-mirror', 'mirror-off']],
  showUpstream: true,
}
