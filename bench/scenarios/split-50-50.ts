import { STANDARD_COMPARE, standardTargets, type Scenario } from './types.ts'

/**
 * Weighted split: Cutover sends about half the requests to each origin (no sticky key, so the
 * choice is random per request). The baselines have no split and proxy to the legacy origin only;
 * the comparison prices the weighted choice and the second pool.
 */
export const split5050: Scenario = {
  name: 'split',
  title: 'GET 50/50 split across legacy and cloud (baselines: legacy only)',
  request: { method: 'GET', path: '/api/orders/42' },
  targets: standardTargets([{ id: 'split', methods: ['GET'], path: '/api/*', weight: 50, mirror: 'off' }]),
  compare: STANDARD_COMPARE,
  showSplit: true,
}
