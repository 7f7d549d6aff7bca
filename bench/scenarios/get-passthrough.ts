import { PASS_ROUTE, STANDARD_COMPARE, standardTargets, type Scenario } from './types.ts'

/** The project's gate: Cutover forwarding a read must cost no more than the bare plugin. */
export const getPassthrough: Scenario = {
  name: 'get',
  title: 'GET pass-through, ~1 KB JSON (weight 0: legacy only)',
  request: { method: 'GET', path: '/api/orders/42' },
  targets: standardTargets([PASS_ROUTE]),
  compare: STANDARD_COMPARE,
  gate: { subject: 'cutover', baseline: 'bare', minRps: 1.0, maxCpu: 1.0, maxP99: 1.2 },
}
