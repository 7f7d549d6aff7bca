import { PASS_ROUTE, STANDARD_COMPARE, standardTargets, type Scenario } from './types.ts'

/**
 * Forwarding a read: Cutover must outrun the bare plugin (req/s ≥ 2×, and never cost more CPU per
 * request or answer much slower) and come within 15 % of the undici floor's CPU per request.
 */
export const getPassthrough: Scenario = {
  name: 'get',
  title: 'GET pass-through, ~1 KB JSON (weight 0: legacy only)',
  request: { method: 'GET', path: '/api/orders/42' },
  targets: standardTargets([PASS_ROUTE]),
  compare: STANDARD_COMPARE,
  gates: [
    { kind: 'ratio', label: 'GET pass-through req/s vs bare', subject: 'cutover', baseline: 'bare', metric: 'rps', min: 2.0 },
    { kind: 'ratio', label: 'GET pass-through CPU/req vs bare', subject: 'cutover', baseline: 'bare', metric: 'cpuPerReq', max: 1.0 },
    { kind: 'ratio', label: 'GET pass-through p99 vs bare', subject: 'cutover', baseline: 'bare', metric: 'p99', max: 1.2 },
    { kind: 'ratio', label: 'GET pass-through CPU/req vs the undici floor', subject: 'cutover', baseline: 'undici', metric: 'cpuPerReq', max: 1.15 },
  ],
}
