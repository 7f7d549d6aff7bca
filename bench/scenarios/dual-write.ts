import { ORDER_BODY } from './post-small-json.ts'
import { PASS_ROUTE, type Scenario } from './types.ts'

/**
 * Dual-write: the same POST through the same route with mirroring on (`mirror: 'writes'`: legacy
 * answers the client, then Cutover resends the write to cloud off the client's path, reads both
 * answers and compares them) and off. `?same=1` makes both origins answer the same JSON, so every
 * mirrored write goes through the full structural diff and finds nothing: no diff event is
 * written (the spool is a temporary folder; no Kafka). The upstream line under the table shows
 * cloud receiving as many POSTs as legacy. Only Cutover runs: the baselines cannot mirror.
 */
export const dualWrite: Scenario = {
  name: 'dual-write',
  title: `dual-write POST small JSON (${Buffer.byteLength(ORDER_BODY)} B body, weight 0: legacy primary, cloud mirrored; identical answers)`,
  request: { method: 'POST', path: '/api/orders?same=1', headers: { 'content-type': 'application/json' }, body: ORDER_BODY },
  targets: [
    // mirror off first: it is the `get`/`post` scenarios' process, already warm
    { id: 'mirror-off', kind: 'cutover', routes: [PASS_ROUTE] },
    { id: 'mirror-on', kind: 'cutover', routes: [{ ...PASS_ROUTE, mirror: 'writes' }] },
    // the same without the mirror journal: the ratio to mirror-on is the journal's cost
    { id: 'mirror-nojournal', kind: 'cutover', routes: [{ ...PASS_ROUTE, mirror: 'writes' }], journal: false },
  ],
  compare: [
    ['mirror-on', 'mirror-off'],
    ['mirror-on', 'mirror-nojournal'],
  ],
  gate: { subject: 'mirror-on', baseline: 'mirror-off', maxP99: 1.2 },
  showUpstream: true,
}
