import { PASS_ROUTE, STANDARD_COMPARE, standardTargets, type Scenario } from './types.ts'

/** A small order as JSON (also the dual-write scenario's body). */
export const ORDER_BODY = JSON.stringify({ sku: 'SKU-1003', qty: 2, customerId: 'C-77', note: 'bench order' })

/** A write with a small body streamed upstream (mirror off: the plain write path). */
export const postSmallJson: Scenario = {
  name: 'post',
  title: `POST small JSON (${Buffer.byteLength(ORDER_BODY)} B body, weight 0, mirror off)`,
  request: { method: 'POST', path: '/api/orders', headers: { 'content-type': 'application/json' }, body: ORDER_BODY },
  // same route as the GET scenario, so the same Cutover process serves both
  targets: standardTargets([PASS_ROUTE]),
  compare: STANDARD_COMPARE,
}
