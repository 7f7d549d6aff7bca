import { STANDARD_COMPARE, standardTargets, type Scenario } from './types.ts'

const BODY = JSON.stringify({ sku: 'SKU-1003', qty: 2, customerId: 'C-77', note: 'bench order' })

/** A write with a small body streamed upstream (mirror off: the plain write path). */
export const postSmallJson: Scenario = {
  name: 'post',
  title: `POST small JSON (${Buffer.byteLength(BODY)} B body, weight 0, mirror off)`,
  request: { method: 'POST', path: '/api/orders', headers: { 'content-type': 'application/json' }, body: BODY },
  // same route as the GET scenario, so the same Cutover process serves both
  targets: standardTargets([{ id: 'pass', methods: ['GET', 'POST'], path: '/api/*', weight: 0, mirror: 'off' }]),
  compare: STANDARD_COMPARE,
}
