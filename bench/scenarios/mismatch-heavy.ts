import { MIRROR_ROUTE, SAME_WRITE } from './dual-write.ts'
import type { Scenario } from './types.ts'

/** The write without `?same=1`: each origin names itself in its answer, so every mirrored pair differs. */
const DIFFERING_PATH = '/api/orders'

/**
 * Every mirrored exchange differs: the mirrored write at the fixed rate with the origins' answers
 * differing in one field (`origin`), so each one is a mismatch and publishes a diff event, vs the
 * same write answered identically (`?same=1`: compared, no event), in the same Cutover process.
 * `mismatch` publishes to the spool (no Kafka); `mismatch-kafka`, run only when
 * CUTOVER_KAFKA_BROKERS is set, is a Cutover process publishing to that broker (topics unique to
 * the run). The upstream line shows the mismatch count and where the events went (`publish`).
 */
export const mismatchHeavy: Scenario = {
  name: 'mismatch',
  title: 'dual-write POST at the fixed rate, every mirrored answer differing (a diff event each) vs all matching',
  request: SAME_WRITE,
  load: 'fixed-rate',
  targets: [
    { id: 'matching', kind: 'cutover', routes: [MIRROR_ROUTE] },
    { id: 'mismatch', kind: 'cutover', routes: [MIRROR_ROUTE], path: DIFFERING_PATH },
    { id: 'mismatch-kafka', kind: 'cutover', routes: [MIRROR_ROUTE], path: DIFFERING_PATH, kafka: true },
  ],
  compare: [
    ['mismatch', 'matching'],
    ['mismatch-kafka', 'matching'],
  ],
  gates: [
    { kind: 'ratio', label: 'mismatch-heavy p99 (spool)', subject: 'mismatch', baseline: 'matching', metric: 'p99', max: 1.2 },
    { kind: 'ratio', label: 'mismatch-heavy p99 (Kafka)', subject: 'mismatch-kafka', baseline: 'matching', metric: 'p99', max: 1.2 },
  ],
  showUpstream: true,
}
