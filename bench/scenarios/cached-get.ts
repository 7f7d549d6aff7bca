import { PASS_ROUTE, type Scenario } from './types.ts'

/**
 * The read cache: the `get` request through the same route with `cache: { ttlMs: 60000 }` and
 * without. The origin sends no Cache-Control, so the route's TTL applies; the smoke request fills
 * the entry and every later request is a hit (an entry expires 60 s after the fill, longer than
 * the scenario's cached runs usually span, so the measured runs see about 0–1 upstream requests:
 * the upstream line under the table). Only Cutover runs: the baselines have no cache.
 */
export const cachedGet: Scenario = {
  name: 'cache',
  title: 'cached GET ~1 KB JSON (weight 0, cache ttlMs 60000) vs the same route uncached',
  request: { method: 'GET', path: '/api/orders/42' },
  targets: [
    // uncached first: it is the `get` scenario's process, already warm
    { id: 'uncached', kind: 'cutover', routes: [PASS_ROUTE] },
    { id: 'cached', kind: 'cutover', routes: [{ ...PASS_ROUTE, cache: { ttlMs: 60_000 } }] },
  ],
  compare: [['cached', 'uncached']],
  gates: [{ kind: 'ratio', label: 'cached GET req/s vs uncached', subject: 'cached', baseline: 'uncached', metric: 'rps', min: 4.0 }],
  showUpstream: true,
}
