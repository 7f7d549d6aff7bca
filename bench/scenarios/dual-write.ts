import { ORDER_BODY } from './post-small-json.ts'
import { PASS_ROUTE, type RequestSpec, type RouteInput, type Scenario } from './types.ts'

/**
 * Dual-write: the same POST through the same route with mirroring on (`mirror: 'writes'`: legacy
 * answers the client, then Cutover resends the write to cloud off the client's path, reads both
 * answers and compares them) and off. `?same=1` makes both origins answer the same JSON, so every
 * mirrored write goes through the full structural diff and finds nothing: no diff event is
 * written (the spool is a temporary folder; no Kafka). The upstream line under the table shows
 * cloud receiving as many POSTs as legacy. Only Cutover runs: the baselines cannot mirror.
 */
/** The `post` write with `?same=1`: legacy and cloud answer the same JSON, so a mirrored copy compares equal. */
export const SAME_WRITE: RequestSpec = { method: 'POST', path: '/api/orders?same=1', headers: { 'content-type': 'application/json' }, body: ORDER_BODY }

/** The pass-through route mirroring writes (legacy answers, cloud gets the copy): one process for every scenario using it. */
export const MIRROR_ROUTE: RouteInput = { ...PASS_ROUTE, mirror: 'writes' }

export const dualWrite: Scenario = {
  name: 'dual-write',
  title: `dual-write POST small JSON (${Buffer.byteLength(ORDER_BODY)} B body, weight 0: legacy primary, cloud mirrored; identical answers)`,
  request: SAME_WRITE,
  targets: [
    // mirror off first: it is the `get`/`post` scenarios' process, already warm
    { id: 'mirror-off', kind: 'cutover', routes: [PASS_ROUTE] },
    { id: 'mirror-on', kind: 'cutover', routes: [MIRROR_ROUTE] },
    // the same without the mirror journal: the ratio to mirror-on is the journal's cost
    { id: 'mirror-nojournal', kind: 'cutover', routes: [MIRROR_ROUTE], journal: false },
  ],
  compare: [
    ['mirror-on', 'mirror-off'],
    ['mirror-on', 'mirror-nojournal'],
  ],
  gates: [
    { kind: 'ratio', label: 'mirrored POST CPU/req (saturated)', subject: 'mirror-on', baseline: 'mirror-off', metric: 'cpuPerReq', max: 1.5 },
    { kind: 'ratio', label: 'mirrored POST p99 (saturated)', subject: 'mirror-on', baseline: 'mirror-off', metric: 'p99', max: 1.2 },
  ],
  showUpstream: true,
}
